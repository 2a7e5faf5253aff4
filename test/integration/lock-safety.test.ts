import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { manifestFrom, setupTemporal, type TestTemporal } from '../helpers/temporal';
import { finalState } from '../helpers/migrate';
import { startMigration, watchMigration } from '../../src/client';

let db: TestDatabase;
let t: TestTemporal;

beforeAll(async () => {
  db = await createTestDatabase('godwit_locks');
  await db.query(`create table users (id int primary key, email text); insert into users select g, g || '@x' from generate_series(1, 2000) g`);
  t = await setupTemporal({ app: db.url });
  await t.startWorker();
});

afterAll(async () => {
  await t?.close();
  await db?.drop();
});

describe('lock safety', () => {
  it('waits out a long transaction by giving up and retrying, never queueing readers longer than the lock timeout', async () => {
    const holder = new pg.Client({ connectionString: db.url });
    const reader = new pg.Client({ connectionString: db.url });
    await holder.connect();
    await reader.connect();
    try {
      // A long-running reader (an analytics query, a forgotten transaction) holds a lock the DDL must wait for.
      await holder.query('begin; lock table users in access share mode');
      const loaded = await manifestFrom(`
id: 0001_locked
operations:
  - add_column: { table: users, column: { name: tier, type: text } }
policy: { lock_timeout: 300ms }
`);
      const handle = await startMigration(t.client, t.settings, { target: 'app', loaded, requestedBy: 'test' });
      const outcome = watchMigration(handle, () => undefined, { pollMs: 100 });

      // Readers that arrive behind the waiting ALTER would queue behind it. Postgres itself
      // is the judge: each allows itself only a little more than Godwit's lock timeout.
      await reader.query(`set lock_timeout = '1500ms'`);
      const deadline = Date.now() + 3_000;
      let reads = 0;
      while (Date.now() < deadline) {
        await reader.query('select count(*) from users');
        reads++;
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(reads).toBeGreaterThan(10);
      const during = await db.query(`select 1 from information_schema.columns where table_name = 'users' and column_name = 'tier'`);
      expect(during.rowCount).toBe(0); // still blocked by the holder

      // On a busy machine the step may not have reached its lock yet: wait until it has given up at least once.
      for (let i = 0; i < 300; i++) {
        const pending = (await handle.describe()).raw.pendingActivities ?? [];
        if (pending.some((a) => (a.attempt ?? 0) >= 2)) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      await holder.query('commit');
      expect(finalState(await outcome)).toBe('applied');
      const attempts = (await handle.fetchHistory()).events?.map((e) => e.activityTaskStartedEventAttributes?.attempt ?? 0) ?? [];
      expect(Math.max(...attempts)).toBeGreaterThanOrEqual(2); // it gave up at least once and retried
    } finally {
      await holder.end();
      await reader.end();
    }
  });
});
