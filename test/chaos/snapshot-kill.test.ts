import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { manifestFrom, setupTemporal, type TestTemporal } from '../helpers/temporal';
import { spawnWorker, waitForExit, type SpawnedWorker } from '../helpers/process';
import { finalState, fingerprintOf } from '../helpers/migrate';
import { takeWitness } from '../helpers/witness';
import { startMigration, watchMigration } from '../../src/client';
import { stateQuery } from '../../src/contract/messages';
import { tableChecksum, type TableChecksum } from '../../src/db/checksum';

let db: TestDatabase;
let t: TestTemporal;
const workers: SpawnedWorker[] = [];

async function checksumOf(table: string): Promise<TableChecksum> {
  const c = new pg.Client({ connectionString: db.url });
  await c.connect();
  try {
    return await tableChecksum(c, 'public', table);
  } finally {
    await c.end();
  }
}

async function waitForStep(handle: Awaited<ReturnType<typeof startMigration>>, prefix: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    const p = await handle.query(stateQuery).catch(() => null);
    if (p?.currentStep?.startsWith(prefix)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`step ${prefix} never started`);
}

async function killAndReplace(w: SpawnedWorker): Promise<void> {
  w.child.kill('SIGKILL');
  await waitForExit(w.child);
  workers.push(await spawnWorker(t.env));
}

beforeAll(async () => {
  db = await createTestDatabase('godwit_chaos_snap');
  await db.query(`create table users (id int primary key, email text, bio text);
    insert into users select g, case when g % 9 = 0 then null else 'ü' || g || '@x' end, repeat('bio ' || g, 1 + g % 300) from generate_series(1, 5000) g`);
  // Published, so drop_column copies its column (logical replication would carry a retired one):
  // the copy path is the one a killed worker can interrupt halfway through a restore.
  await db.query(`create table contacts (id int primary key, email text, bio text);
    insert into contacts select * from users;
    create publication chaos_copy for table contacts`);
  await db.query(`create table events (id int primary key, payload text);
    insert into events select g, md5(g::text) || repeat('x', 200) from generate_series(1, 400000) g`);
  t = await setupTemporal({ app: db.url });
  workers.push(await spawnWorker(t.env));
});

afterAll(async () => {
  for (const w of workers) {
    w.child.kill('SIGKILL');
    await waitForExit(w.child);
  }
  await t?.close();
  await db?.drop();
});

describe('chaos: workers killed around retirements, snapshots and concurrent index builds', () => {
  it('renames a retired column back exactly when the worker is killed between the retirement and the failure', async () => {
    const before = await checksumOf('users');
    const fingerprint = await fingerprintOf(db.url);
    const witness = await takeWitness(db.url);
    const loaded = await manifestFrom(`
id: 0001_drop_bio
operations:
  - drop_column: { table: users, column: bio }
  - sql: { up: "select pg_sleep(3)", down: "select 1" }
checks:
  post:
    - { name: fails on purpose, sql: select false }
policy: { approval: never }
`);
    const handle = await startMigration(t.client, t.settings, { target: 'app', loaded, requestedBy: 'chaos' });
    await waitForStep(handle, '2.');
    await killAndReplace(workers.at(-1)!);

    const outcome = await watchMigration(handle, () => undefined, { pollMs: 250 });
    expect(finalState(outcome)).toBe('rolled_back');
    expect(await checksumOf('users')).toEqual(before);
    expect((await fingerprintOf(db.url)).hash).toBe(fingerprint.hash);
    expect(await witness.differences()).toEqual([]);
    const retired = await db.query(`select kind, source_column, restored_at is not null as restored, purged_at from godwit.retired where migration_id = '0001_drop_bio'`);
    expect(retired.rows).toEqual([{ kind: 'column', source_column: 'bio', restored: true, purged_at: null }]);
    expect((await db.query(`select count(*)::int as n from godwit.snapshots where migration_id = '0001_drop_bio'`)).rows).toEqual([{ n: 0 }]);
  }, 120_000);

  it('restores copied data exactly when the worker is killed inside the compensation, after it began the restore', async () => {
    const before = await checksumOf('contacts');
    const fingerprint = await fingerprintOf(db.url);
    const witness = await takeWitness(db.url);
    const loaded = await manifestFrom(`
id: 0003_drop_email
operations:
  - drop_column: { table: contacts, column: email }
  - sql: { up: "select pg_sleep(3)", down: "select 1" }
checks:
  post:
    - { name: fails on purpose, sql: select false }
policy:
  lock_timeout: 60s
  approval: never
`);
    const handle = await startMigration(t.client, t.settings, { target: 'app', loaded, requestedBy: 'chaos' });
    await waitForStep(handle, '2.');
    // While step 2 sleeps, hold the snapshot so that the compensation of step 1 waits, inside
    // its transaction (the column already added back), to give the snapshot its key.
    const snapshot = await db.query<{ name: string }>(`select 'godwit_snapshots.' || snapshot_table as name from godwit.snapshots where migration_id = '0003_drop_email'`);
    const name = snapshot.rows[0]!.name;
    const holder = new pg.Client({ connectionString: db.url });
    await holder.connect();
    try {
      await holder.query(`begin; lock table ${name} in access share mode`);
      for (let i = 0; ; i++) {
        const waiting = await db.query(`select 1 from pg_locks where relation = $1::regclass and not granted`, [name]);
        if (waiting.rowCount === 1) break;
        if (i > 1200) throw new Error('the compensation never waited for the snapshot');
        await new Promise((r) => setTimeout(r, 50));
      }
      await killAndReplace(workers.at(-1)!);
    } finally {
      await holder.query('rollback');
      await holder.end();
    }

    const outcome = await watchMigration(handle, () => undefined, { pollMs: 250 });
    expect(finalState(outcome)).toBe('rolled_back');
    expect(await checksumOf('contacts')).toEqual(before);
    expect((await fingerprintOf(db.url)).hash).toBe(fingerprint.hash);
    expect(await witness.differences()).toEqual([]);
    const history = await handle.fetchHistory();
    const attempts = (history.events ?? []).map((e) => e.activityTaskStartedEventAttributes?.attempt ?? 0);
    expect(Math.max(...attempts)).toBeGreaterThanOrEqual(2);
    const leftovers = await db.query(`select proname from pg_proc where proname like 'godwit_restore%'`);
    expect(leftovers.rows).toEqual([]);
  }, 120_000);

  it('leaves exactly one valid index after CREATE INDEX CONCURRENTLY is interrupted by a killed worker', async () => {
    const loaded = await manifestFrom(`
id: 0002_events_idx
operations:
  - create_index: { table: events, columns: [{ expression: "md5(payload || id::text)" }], name: events_digest_idx, concurrently: true }
`);
    const handle = await startMigration(t.client, t.settings, { target: 'app', loaded, requestedBy: 'chaos' });
    await waitForStep(handle, '1.');
    await new Promise((r) => setTimeout(r, 300));
    await killAndReplace(workers.at(-1)!);

    const outcome = await watchMigration(handle, () => undefined, { pollMs: 250 });
    expect(finalState(outcome)).toBe('applied');
    const idx = await db.query(`select c.relname, i.indisvalid from pg_index i join pg_class c on c.oid = i.indexrelid
                                 where i.indrelid = 'events'::regclass and c.relname like 'events_digest%'`);
    expect(idx.rows).toEqual([{ relname: 'events_digest_idx', indisvalid: true }]);
    // The build really was interrupted: the step needed a second attempt.
    const history = await handle.fetchHistory();
    const attempts = (history.events ?? []).map((e) => e.activityTaskStartedEventAttributes?.attempt ?? 0);
    expect(Math.max(...attempts)).toBeGreaterThanOrEqual(2);
  }, 120_000);
});
