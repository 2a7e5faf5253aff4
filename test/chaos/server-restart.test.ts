import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { spawnCli, spawnWorker, waitForExit, type SpawnedWorker } from '../helpers/process';
import { findFreePorts, startDevServer, type DevServer } from '../../src/devserver';

/**
 * A Temporal server restarted while `godwit apply --wait` follows a migration: the
 * server keeps its history in a file, the worker (the SDK) reconnects by itself, and the
 * CLI's own client opens a new connection and keeps waiting, then exits 0 on `applied`.
 */
let db: TestDatabase;
let dir: string;
let server: DevServer | undefined;
let worker: SpawnedWorker | undefined;
let ports: number[];

async function startServer(): Promise<DevServer> {
  const [port, uiPort] = ports as [number, number];
  return startDevServer({ port, uiPort, dbFile: join(dir, 'temporal.db') });
}

beforeAll(async () => {
  db = await createTestDatabase('godwit_restart');
  await db.query('create table effects (step int not null)');
  dir = mkdtempSync(join(tmpdir(), 'godwit-restart-'));
  ports = await findFreePorts(2);
  server = await startServer();
});

afterAll(async () => {
  if (worker) {
    worker.child.kill('SIGKILL');
    await waitForExit(worker.child);
  }
  await server?.stop();
  await db?.drop();
  rmSync(dir, { recursive: true, force: true });
});

describe('a Temporal server restart during apply --wait', () => {
  it('keeps following the run on a new connection and exits 0 when it is applied', async () => {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      TEMPORAL_ADDRESS: server!.address,
      GODWIT_UI_URL: server!.uiUrl,
      GODWIT_TASK_QUEUE: 'godwit-restart',
      GODWIT_TARGET_APP: db.url,
      NO_COLOR: '1',
    };
    delete env.GODWIT_WORKFLOW_BUNDLE;
    worker = await spawnWorker(env);
    const manifest = join(dir, '0001_slow.yaml');
    writeFileSync(
      manifest,
      `id: 0001_slow
operations:
  - sql: { up: "insert into effects values (1); select pg_sleep(6)", down: "delete from effects where step = 1" }
`,
    );
    const apply = spawnCli(['apply', manifest, '--target', 'app', '--wait'], env);
    await apply.waitFor('step 1/1', 30_000);

    await server!.stop();
    expect(apply.child.exitCode).toBeNull(); // still waiting, with no server to wait on
    server = await startServer();

    expect(await apply.exit).toBe(0);
    expect(apply.output()).toMatch(/0001_slow applied/);
    expect((await db.query('select step from effects')).rows).toEqual([{ step: 1 }]);
  });
});
