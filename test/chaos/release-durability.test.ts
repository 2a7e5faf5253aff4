import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { manifestDir, setupTemporal, type TestTemporal } from '../helpers/temporal';
import { spawnCli, spawnWorker, waitForExit, type SpawnedWorker } from '../helpers/process';
import { findFreePorts, startDevServer, type DevServer } from '../../src/devserver';
import { loadManifests } from '../../src/manifest';
import { releaseManifests, startRelease, watchRelease } from '../../src/client/release';
import { fleetReleaseId, type ReleaseProgress } from '../../src/contract/release';
import { releaseStateQuery } from '../../src/contract/release-messages';

// A release survives its worker being killed and its Temporal server restarting: every
// target ends applied exactly once (each migration's effect is one row, counted from outside).

const N = 6;
const names = Array.from({ length: N }, (_v, i) => `r${i + 1}`);
const dbs = new Map<string, TestDatabase>();
const workers: SpawnedWorker[] = [];
let t: TestTemporal;

const SLOW = (id: string) => `
id: ${id}
operations:
  - sql: { up: "insert into effects (migration) values ('${id}'); select pg_sleep(1.5)", down: "delete from effects where migration = '${id}'" }
policy: { approval: never }
`;

beforeAll(async () => {
  for (const name of names) {
    const d = await createTestDatabase(`godwit_release_chaos_${name}`);
    await d.query('create table effects (migration text not null, at timestamptz not null default clock_timestamp())');
    dbs.set(name, d);
  }
  t = await setupTemporal(Object.fromEntries([...dbs].map(([n, d]) => [n, d.url])));
}, 600_000);

afterAll(async () => {
  for (const w of workers) {
    w.child.kill('SIGKILL');
    await waitForExit(w.child);
  }
  await t?.close();
  await Promise.all([...dbs.values()].map((d) => d.drop()));
});

async function effects(name: string, id: string): Promise<number> {
  const r = await dbs.get(name)!.query<{ n: number }>('select count(*)::int as n from effects where migration = $1', [id]);
  return r.rows[0]!.n;
}

describe('release durability', () => {
  it('finishes a release on a new worker after the first is SIGKILLed mid-release, every target applied exactly once, across continue-as-new', async () => {
    const first = await spawnWorker(t.env);
    workers.push(first);
    const loaded = await loadManifests(manifestDir({ '0001_slow.yaml': SLOW('0001_slow') }));
    const handle = await startRelease(t.client, t.settings, fleetReleaseId('chaos', '0001_slow'), {
      fleet: 'chaos',
      targets: names,
      canaries: ['r1'],
      maxParallel: 2,
      failureThreshold: 1,
      manifests: await releaseManifests(loaded, 'chaos'),
      requestedBy: 'chaos',
      childrenPerRun: 3,
    });
    // Kill the worker once a target is applied and others are running.
    for (;;) {
      const seen: ReleaseProgress | null = await handle.query(releaseStateQuery).catch(() => null);
      if (seen && seen.targets.some((x) => x.status === 'applied') && seen.targets.some((x) => x.status === 'running')) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    first.child.kill('SIGKILL');
    await waitForExit(first.child);

    workers.push(await spawnWorker(t.env));
    const result = await watchRelease(handle, () => undefined);
    expect(result.state).toBe('applied');
    expect(result.run).toBeGreaterThan(1);
    for (const name of names) {
      expect(await effects(name, '0001_slow'), name).toBe(1);
      const m = await dbs.get(name)!.query<{ state: string }>(`select state from godwit.migrations where migration_id = '0001_slow'`);
      expect(m.rows.map((r) => r.state), name).toEqual(['applied']);
    }
  }, 300_000);

  it('keeps going through a Temporal server restart while apply --fleet --wait follows it, and exits 0', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'godwit-release-restart-'));
    const ports = await findFreePorts(2);
    const start = () => startDevServer({ port: ports[0]!, uiPort: ports[1]!, dbFile: join(dir, 'temporal.db') });
    let server: DevServer | undefined = await start();
    try {
      writeFileSync(join(dir, 'godwit.yaml'), `fleets:\n  restart:\n    targets: [${names.join(', ')}]\n    canary: [r1]\n    max_parallel: 3\n`);
      writeFileSync(join(dir, '0002_slow.yaml'), SLOW('0002_slow'));
      const env: NodeJS.ProcessEnv = { ...t.env, TEMPORAL_ADDRESS: server.address, GODWIT_UI_URL: server.uiUrl, GODWIT_TASK_QUEUE: 'godwit-release-restart', GODWIT_CONFIG: join(dir, 'godwit.yaml') };
      delete env.GODWIT_WORKFLOW_BUNDLE;
      const worker = await spawnWorker(env);
      workers.push(worker);
      const apply = spawnCli(['apply', join(dir, '0002_slow.yaml'), '--fleet', 'restart', '--wait'], env);
      await apply.waitFor(/r1 \(canary\): applied/, 60_000);
      await server.stop();
      server = undefined;
      expect(apply.child.exitCode).toBeNull();
      server = await start();
      expect(await apply.exit, apply.output()).toBe(0);
      expect(apply.output()).toMatch(/applied: 6 \(r1, /);
      for (const name of names) expect(await effects(name, '0002_slow'), name).toBe(1);
    } finally {
      await server?.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 300_000);
});
