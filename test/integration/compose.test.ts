import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { DEV_SERVER_DYNAMIC_CONFIG, SEARCH_ATTRIBUTES } from '../../src/devserver';
import { packageRoot } from '../../src/package-root';

const composeFile = join(packageRoot(), 'docker-compose.yml');

interface ComposeService {
  image?: string;
  command?: string[] | string;
  environment?: Record<string, string>;
  ports?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] | string };
}

const compose = parse(readFileSync(composeFile, 'utf8')) as { services: Record<string, ComposeService> };
const service = (name: string): ComposeService => {
  const s = compose.services[name];
  if (!s) throw new Error(`docker-compose.yml has no service ${name}`);
  return s;
};

const composeAvailable = spawnSync('docker', ['compose', 'version'], { stdio: 'ignore' }).status === 0;

describe('docker-compose.yml', () => {
  it.skipIf(!composeAvailable)('is accepted by `docker compose config`', () => {
    const res = spawnSync('docker', ['compose', '-f', composeFile, 'config', '-q'], { encoding: 'utf8' });
    expect(res.stderr).toBe('');
    expect(res.status).toBe(0);
  });

  it('starts the Temporal dev server like startDevServer does: eager activities and Godwit search attributes', () => {
    const command = service('temporal').command;
    expect(Array.isArray(command)).toBe(true);
    const args = (command as string[]).join(' ');
    expect(args).toMatch(/^server start-dev --ip 0\.0\.0\.0 /);
    for (const [key, value] of Object.entries(DEV_SERVER_DYNAMIC_CONFIG)) {
      expect(args).toContain(`--dynamic-config-value ${key}=${value}`);
    }
    for (const [name, type] of Object.entries(SEARCH_ATTRIBUTES)) expect(args).toContain(`--search-attribute ${name}=${type}`);
    expect(service('temporal').ports).toEqual(['7233:7233', '8233:8233']);
  });

  it('points the worker at the temporal and postgres services and waits for both to be healthy', () => {
    const worker = service('worker');
    const pg = service('postgres').environment ?? {};
    expect(worker.environment?.TEMPORAL_ADDRESS).toBe('temporal:7233');
    expect(worker.environment?.GODWIT_TARGET_APP).toBe(
      `postgres://${pg.POSTGRES_USER}:${pg.POSTGRES_PASSWORD}@postgres:5432/${pg.POSTGRES_DB}`,
    );
    expect(worker.depends_on).toEqual({
      postgres: { condition: 'service_healthy' },
      temporal: { condition: 'service_healthy' },
    });
    expect(service('postgres').healthcheck).toBeDefined();
    expect(service('temporal').healthcheck).toBeDefined();
  });
});
