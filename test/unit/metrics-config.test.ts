import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { packageRoot } from '../../src/package-root';
import { MetricsAddressError, parseMetricsAddress } from '../../src/metrics/server';
import { registry } from '../../src/metrics/registry';

interface Panel {
  title: string;
  targets: { expr: string }[];
}

const dashboard = JSON.parse(readFileSync(join(packageRoot(), 'docs', 'grafana', 'godwit.json'), 'utf8')) as { uid: string; panels: Panel[] };

describe('godwit worker --metrics', () => {
  it.each([
    [':9464', { host: '0.0.0.0', port: 9464 }],
    ['9464', { host: '0.0.0.0', port: 9464 }],
    ['127.0.0.1:9464', { host: '127.0.0.1', port: 9464 }],
    ['[::1]:9464', { host: '::1', port: 9464 }],
  ])('takes %s', (value, expected) => {
    expect(parseMetricsAddress(value)).toEqual(expected);
  });

  it.each(['', 'localhost', ':0', ':70000', 'http://x:9464'])('refuses %j, saying what it expects', (value) => {
    expect(() => parseMetricsAddress(value)).toThrow(MetricsAddressError);
    expect(() => parseMetricsAddress(value)).toThrow(/--metrics expects \[host\]:port, e\.g\. --metrics :9464/);
  });
});

describe('the Grafana dashboard (docs/grafana/godwit.json)', () => {
  const names = registry.getMetricsAsArray().map((m) => m.name);

  it('has the panels the issue asks for', () => {
    const titles = dashboard.panels.map((p) => p.title);
    for (const t of ['Rollback success rate', 'Migrations by outcome', 'p95 step duration', 'Runs waiting for a person']) expect(titles).toContain(t);
  });

  it('queries only metrics the worker exports', () => {
    for (const p of dashboard.panels) {
      expect(p.targets.length, p.title).toBeGreaterThan(0);
      for (const { expr } of p.targets) {
        const used = [...expr.matchAll(/\b(godwit_[a-z_]+?)(?:_bucket)?\{|\b(godwit_[a-z_]+)\)/g)].map((m) => m[1] ?? m[2]);
        expect(used.length, expr).toBeGreaterThan(0);
        for (const name of used) expect(names, `${p.title}: ${name}`).toContain(name);
      }
    }
  });

  it('is provisioned in docker-compose, next to a Prometheus that scrapes the worker', () => {
    const compose = parse(readFileSync(join(packageRoot(), 'docker-compose.yml'), 'utf8')) as { services: Record<string, { command?: string[]; volumes?: string[] }> };
    expect(compose.services.worker?.command?.join(' ')).toContain('godwit worker --metrics :9464');
    expect(compose.services.grafana?.volumes).toContain('./docs/grafana:/var/lib/grafana/dashboards/godwit:ro');
    const prometheus = parse(readFileSync(join(packageRoot(), 'deploy', 'prometheus', 'prometheus.yml'), 'utf8')) as { scrape_configs: { static_configs: { targets: string[] }[] }[] };
    expect(prometheus.scrape_configs[0]?.static_configs[0]?.targets).toEqual(['worker:9464']);
  });
});
