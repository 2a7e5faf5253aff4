import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/targets';
import { ManifestError, parseManifest } from '../../src/manifest';
import { meets, parseCondition, parseFieldPath, readField, ConditionError } from '../../src/health/condition';
import { combineHealth, policiesSchema } from '../../src/health/policy';
import { fire, firingReason, recordSample, resetStreaks, sampleTimeoutMs, shouldFire, startProbe } from '../../src/health/tracker';
import { SAMPLES_KEPT, type SampleResult } from '../../src/health/types';

const manifest = (policy: string) => `
id: 0001_probe
operations:
  - sql: { up: "select 1", down: "select 1" }
policy:
${policy}
`;

function problems(text: string): string {
  try {
    parseManifest(text, 'm.yaml');
  } catch (e) {
    expect(e).toBeInstanceOf(ManifestError);
    return (e as Error).message;
  }
  throw new Error('expected a ManifestError');
}

const sample = (ok: boolean, value: number | null = null): SampleResult => ({ at: '2026-01-01T00:00:00.000Z', ok, value, detail: ok ? 'fine' : 'cannot evaluate: down', ms: 1 });

describe('fail_when conditions', () => {
  it.each([
    ['> 0.02', 0.05, true],
    ['> 0.02', '0.01', false],
    ['>= 500', 500, true],
    ['!= "ok"', 'ok', false],
    ['!= ok', 'degraded', true],
    ['== false', false, true],
    ['== false', 't', false],
    ['< 10', '3', true],
  ] as const)('%s with %j fails: %s', (cond, value, fails) => {
    expect(meets(value, parseCondition(cond)).fails).toBe(fails);
  });

  it('refuses an ordering of text, naming the fix', () => {
    expect(() => parseCondition('> ok')).toThrow(/> compares numbers, but "ok" is not a number; use == or != for text/);
  });

  it('refuses a condition without an operator', () => {
    expect(() => parseCondition('0.02')).toThrow(/expected a comparison like '> 0.02'/);
  });

  it('cannot compare a value of the wrong kind: a failure to evaluate, not a pass', () => {
    expect(() => meets('n/a', parseCondition('> 1'))).toThrow(ConditionError);
    expect(() => meets(null, parseCondition('!= ok'))).toThrow(ConditionError);
  });

  it('reads JSON field paths', () => {
    const body = { status: 'ok', data: { ratio: 0.5, 'a b': 1 }, items: [{ ok: true }] };
    expect(readField(body, parseFieldPath('$.status'))).toBe('ok');
    expect(readField(body, parseFieldPath('data.ratio'))).toBe(0.5);
    expect(readField(body, parseFieldPath('items[0].ok'))).toBe(true);
    expect(readField(body, parseFieldPath('$.data["a b"]'))).toBe(1);
    expect(readField(body, parseFieldPath('data.missing'))).toBeUndefined();
    expect(() => parseFieldPath('data..x')).toThrow(/write it like \$\.status/);
  });
});

describe('probes in the manifest policy', () => {
  it('accepts one of each kind, with defaults, and keeps the checksum of a manifest without them', () => {
    const loaded = parseManifest(
      manifest(`  bake_seconds: 60
  on_unhealthy: ask
  ask_timeout: 10m
  max_duration: 2h
  probes:
    - { name: failed orders, kind: sql, sql: "select count(*) from orders where failed", fail_when: "> 10" }
    - { name: health, kind: http, url: "http://app:8080/health", field: $.status, fail_when: "!= ok", max_latency: 500ms }
    - { name: 5xx ratio, kind: prometheus, url: "http://prom:9090", query: "sum(rate(x[1m]))", fail_when: "> 0.02", interval: 15s, consecutive: 2 }`),
      'm.yaml',
    );
    const p = loaded.manifest.policy;
    expect(p.probes?.map((x) => [x.kind, x.interval, x.timeout, x.consecutive])).toEqual([
      ['sql', '10s', undefined, 3],
      ['http', '10s', undefined, 3],
      ['prometheus', '15s', undefined, 2],
    ]);
    expect([p.on_unhealthy, p.ask_timeout, p.max_duration]).toEqual(['ask', '10min', '2h']);
    const plain = parseManifest(manifest('  bake_seconds: 60'), 'm.yaml');
    expect(plain.checksum).toBe(parseManifest(manifest('  bake_seconds: 60\n  approval: auto'), 'm.yaml').checksum);
  });

  it('names an unknown probe kind and suggests the right one', () => {
    expect(problems(manifest(`  bake_seconds: 60\n  probes: [{ name: x, kind: promethus, url: "http://p", query: up, fail_when: "< 1" }]`))).toMatch(
      /policy\.probes\[0\]\.kind.*unknown probe kind "promethus" \(did you mean prometheus\?\); a probe's kind is one of sql, http, prometheus/s,
    );
  });

  it('names a bad fail_when with its path', () => {
    expect(problems(manifest(`  bake_seconds: 60\n  probes: [{ name: x, kind: sql, sql: "select 1", fail_when: "above 3" }]`))).toMatch(/policy\.probes\[0\]\.fail_when.*expected a comparison like '> 0\.02'/s);
  });

  it('refuses probes without a bake window long enough for their samples', () => {
    expect(problems(manifest(`  probes: [{ name: x, kind: sql, sql: "select 1", fail_when: "> 0", interval: 10s, consecutive: 3 }]`))).toMatch(
      /policy\.bake_seconds.*probe 'x' needs 30s for its 3 samples every 10s; there is none: set policy\.bake_seconds to at least 30/s,
    );
  });

  it('takes 5s or the interval when shorter for a sample without a timeout', () => {
    expect(sampleTimeoutMs({ interval: '1s' })).toBe(1000);
    expect(sampleTimeoutMs({ interval: '1min' })).toBe(5000);
    expect(sampleTimeoutMs({ interval: '1min', timeout: '20s' })).toBe(20_000);
  });

  it('takes header values from the environment by name only', () => {
    expect(problems(manifest(`  bake_seconds: 60\n  probes: [{ name: h, kind: http, url: "http://app/h", headers_env: { Authorization: "Bearer abc" } }]`))).toMatch(
      /policy\.probes\[0\]\.headers_env\.Authorization.*expected the name of an environment variable on the worker .* never the secret itself/s,
    );
  });

  it('refuses two probes of one name', () => {
    const text = problems(manifest(`  bake_seconds: 60\n  probes: [{ name: b, kind: sql, sql: "select 1", fail_when: "> 0" }, { name: b, kind: sql, sql: "select 2", fail_when: "> 0" }]`));
    expect(text).toMatch(/policy\.probes\[1\]\.name.*a second probe named 'b'/s);
  });

  it('refuses an http field without fail_when, a timeout longer than the interval, an unknown field, a URL that is not http', () => {
    const text = problems(
      manifest(`  bake_seconds: 60
  probes:
    - { name: a, kind: http, url: "http://app/health", field: $.status }
    - { name: b, kind: sql, sql: "select 1", fail_when: "> 0", interval: 1s, timeout: 5s }
    - { name: c, kind: sql, sql: "select 1", fail_when: "> 0", treshold: 3 }
    - { name: d, kind: http, url: "ftp://x" }`),
    );
    expect(text).toMatch(/field needs fail_when/);
    expect(text).toMatch(/timeout 5s is longer than interval 1s/);
    expect(text).toMatch(/unknown field 'treshold'/);
    expect(text).toMatch(/expected an http:\/\/ or https:\/\/ URL/);
  });
});

describe('combining the manifest with godwit.yaml policies', () => {
  const yaml = policiesSchema.parse({
    'app-*': {
      bake_seconds: 120,
      on_unhealthy: 'ask',
      max_duration: '30m',
      probes: [{ name: 'errors', kind: 'sql', sql: 'select 2', fail_when: '> 0' }],
    },
    'app-dev': { max_duration: '2h' },
  });
  const base = { bake_seconds: 60, max_duration: '1h', probes: [{ name: 'errors', kind: 'sql' as const, sql: 'select 1', fail_when: '> 5', interval: '10s', timeout: '5s', consecutive: 3 }] };

  it('adds godwit.yaml probes (replacing one of the same name), takes its on_unhealthy, the shorter max_duration and the longer bake', () => {
    const h = combineHealth({ ...base, on_unhealthy: 'rollback' }, yaml, 'app-prod')!;
    expect(h.probes.map((p) => [p.name, p.kind === 'sql' ? p.sql : '', p.source])).toEqual([['errors', 'select 2', 'godwit.yaml policies.app-*']]);
    expect([h.on_unhealthy, h.max_duration, h.bake_seconds, h.ask_timeout]).toEqual(['ask', '30min', 120, '1h']);
    expect(h.notes.join('\n')).toMatch(/replaces the manifest's[\s\S]*bake_seconds 120[\s\S]*on_unhealthy ask[\s\S]*max_duration 30min/);
  });

  it('prefers the exact alias over a glob', () => {
    const h = combineHealth(base, yaml, 'app-dev')!;
    expect([h.max_duration, h.bake_seconds, h.on_unhealthy, h.probes[0]!.source]).toEqual(['1h', 60, 'rollback', 'manifest']);
  });

  it('is null when nothing applies, so the run bakes as before', () => {
    expect(combineHealth({ bake_seconds: 30 }, yaml, 'billing')).toBeNull();
  });

  it("reads godwit.yaml's policies, and names each bad setting with the fix", () => {
    const dir = mkdtempSync(join(tmpdir(), 'godwit-cfg-'));
    const good = join(dir, 'good.yaml');
    writeFileSync(good, 'policies:\n  "app-*":\n    on_unhealthy: ask\n    max_duration: 45m\n');
    expect(loadConfig(good).policies).toEqual({ 'app-*': { on_unhealthy: 'ask', max_duration: '45min' } });
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'policies:\n  app:\n    bake_seconds: 60\n    on_unhealthy: page\n    probes:\n      - { name: x, kind: sql, sql: "select 1", fail_when: "> zero" }\n');
    const message = (() => {
      try {
        loadConfig(bad);
      } catch (e) {
        return (e as Error).message;
      }
      return '';
    })();
    expect(message).toMatch(/Setting 'policies\.app\.on_unhealthy': expected one of rollback, ask/);
    expect(message).toMatch(/Setting 'policies\.app\.probes\.0\.fail_when': > compares numbers, but "zero" is not a number/);
  });

  it('refuses a godwit.yaml probe its bake cannot hold', () => {
    const r = policiesSchema.safeParse({ 'db-*': { probes: [{ name: 'x', kind: 'sql', sql: 'select 1', fail_when: '> 0' }] } });
    expect(r.success).toBe(false);
    expect(r.error!.issues[0]!.path).toEqual(['db-*', 'bake_seconds']);
  });
});

describe('the firing rule', () => {
  const probe = (consecutive: number, min_samples?: number) =>
    startProbe({ name: 'p', kind: 'sql', sql: 'select 1', fail_when: '> 0', interval: '1s', timeout: '1s', consecutive, ...(min_samples ? { min_samples } : {}), source: 'manifest' });

  it('fires on the third failed sample in a row, not before', () => {
    const p = probe(3);
    const fired = [false, true, false, false, false].map((ok, i) => {
      recordSample(p, i + 1, sample(ok), true);
      return shouldFire(p);
    });
    expect(fired).toEqual([false, false, false, false, true]);
  });

  it('waits for min_samples even when the first samples fail', () => {
    const p = probe(1, 3);
    const fired = [false, false, false].map((ok, i) => {
      recordSample(p, i + 1, sample(ok), true);
      return shouldFire(p);
    });
    expect(fired).toEqual([false, false, true]);
  });

  it('does not count a sample that was never taken (lost worker)', () => {
    const p = probe(2);
    recordSample(p, 1, sample(false), true);
    recordSample(p, 2, sample(false), false);
    expect([p.taken, p.failedInARow, shouldFire(p)]).toEqual([1, 1, false]);
  });

  it('keeps the last samples only, and starts over after a dismissal', () => {
    const p = probe(2);
    for (let i = 1; i <= SAMPLES_KEPT + 5; i++) recordSample(p, i, sample(false, i), true);
    expect(p.samples).toHaveLength(SAMPLES_KEPT);
    expect(p.samples[0]!.n).toBe(6);
    resetStreaks([p]);
    expect(shouldFire(p)).toBe(false);
  });

  it('puts the samples, the condition and the time into the evidence and the reason', () => {
    const p = probe(2);
    recordSample(p, 1, sample(true, 0), true);
    recordSample(p, 2, sample(false, 4), true);
    recordSample(p, 3, sample(false, 7), true);
    const e = fire(p, '2026-01-01T00:00:03.000Z', 'rollback');
    expect(e).toMatchObject({ probe: 'p', condition: 'fails when > 0', firedAt: '2026-01-01T00:00:03.000Z', firing: 1, consecutive: 2 });
    expect(e.samples.map((s) => s.n)).toEqual([1, 2, 3]);
    expect(firingReason(e)).toBe("health probe 'p' (sql, fails when > 0) fired at 2026-01-01T00:00:03.000Z after 2 failed sample(s) in a row: #2 4; #3 7");
  });
});
