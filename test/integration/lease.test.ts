import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { manifestFrom, setupTemporal, type TestTemporal } from '../helpers/temporal';
import { applyAndWatch, finalState, waitForState } from '../helpers/migrate';
import { MigrationFailedError, startMigration, unlockTarget, watchMigration } from '../../src/client';

// A migration holds its target for as long as its run is open: parked for a person, or inside a
// statement that outlasts the lease's TTL. The clock alone frees nothing; a target is freed when
// Temporal says its holder's run no longer exists, by the next apply or by `godwit unlock`.

let db: TestDatabase;
let t: TestTemporal;
const TARGET = 'app';

beforeAll(async () => {
  db = await createTestDatabase('godwit_lease');
  t = await setupTemporal({ [TARGET]: db.url });
  await t.startWorker();
});

afterAll(async () => {
  await t?.close();
  await db?.drop();
});

beforeEach(async () => {
  await db.query('drop table if exists users cascade; create table users (id bigint primary key, name text)');
  await db.query('delete from godwit.leases').catch(() => undefined);
});

/** What the clock does after the TTL: the lease counts as not renewed. */
const expireLease = () => db.query(`update godwit.leases set expires_at = now() - interval '1 hour'`);

/**
 * Waits until the run has recorded that it waits: the query shows the state a moment before the
 * activity that records it (and renews the lease) has committed.
 */
async function waitForRecorded(migrationId: string, state: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const { rows } = await db.query<{ state: string }>('select state from godwit.migrations where migration_id = $1', [migrationId]);
    if (rows[0]?.state === state) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${migrationId} never recorded ${state}`);
}

const other = (id: string) => `
id: ${id}
operations:
  - add_column: { table: users, column: { name: ${id.replace(/^\d+_/, '')}, type: int } }
`;

async function refused(id: string): Promise<string> {
  const outcome = applyAndWatch(t, TARGET, await manifestFrom(other(id)));
  await expect(outcome).rejects.toThrow(MigrationFailedError);
  return outcome.then(() => '', (e: Error) => e.message);
}

async function auditEvents(event: string): Promise<{ actor: string | null; detail: { holder: string } }[]> {
  const { rows } = await db.query<{ actor: string | null; detail: { holder: string } }>('select actor, detail from godwit.audit_log where event = $1 order by seq', [event]);
  return rows;
}


describe('a run keeps its target while it is open', () => {
  it('awaiting_approval: refused past the expiry, unlock refused while open, freed and audited once terminated', async () => {
    const parked = await manifestFrom(`
id: 0001_parked
operations:
  - add_column: { table: users, column: { name: parked, type: int } }
policy: { approval: required }
`);
    const handle = await startMigration(t.client, t.settings, { target: TARGET, loaded: parked, requestedBy: 'alice' });
    // apply --wait keeps waiting through an approval; the run's own state says where it is.
    await waitForState(handle, 'awaiting_approval');
    await waitForRecorded('0001_parked', 'awaiting_approval');
    await expireLease();

    expect(await refused('0002_second')).toMatch(/target 'app' is busy: godwit\/app\/0001_parked holds its lease since .*, and its run is still open/);
    const open = await unlockTarget(t.client, t.settings, { target: TARGET, by: 'bob' });
    expect(open).toMatchObject({ released: false, holder: 'godwit/app/0001_parked', holderState: 'open', migrationId: '0001_parked' });

    await handle.terminate('abandoned for the test');
    const freed = await unlockTarget(t.client, t.settings, { target: TARGET, by: 'bob' });
    expect(freed).toMatchObject({ released: true, holder: 'godwit/app/0001_parked', holderState: 'closed' });
    expect(await auditEvents('LEASE_UNLOCKED')).toEqual([{ actor: 'bob', detail: expect.objectContaining({ holder: 'godwit/app/0001_parked' }) }]);
    expect(await unlockTarget(t.client, t.settings, { target: TARGET, by: 'bob' })).toMatchObject({ released: false, holder: null });
    expect(finalState(await applyAndWatch(t, TARGET, await manifestFrom(other('0003_after'))))).toBe('applied');
  });

  it('rollback_failed: refused past the expiry; once its run is terminated the next apply takes the target over, on the record', async () => {
    const broken = await manifestFrom(`
id: 0004_broken
operations:
  - add_column: { table: users, column: { name: c1, type: int } }
  - add_column: { table: users, column: { name: c2, type: int } }
`);
    const handle = await startMigration(t.client, t.settings, { target: TARGET, loaded: broken, requestedBy: 'alice', faults: { failAtStep: 2, failCompensationOfStep: 1 } });
    expect(finalState(await watchMigration(handle, () => undefined, { pollMs: 200 }))).toBe('rollback_failed');
    await waitForRecorded('0004_broken', 'rollback_failed');
    await expireLease();
    expect(await refused('0005_second')).toMatch(/godwit\/app\/0004_broken holds its lease .*its run is still open/);

    await handle.terminate('the database was fixed by hand');
    expect(finalState(await applyAndWatch(t, TARGET, await manifestFrom(other('0006_after'))))).toBe('applied');
    expect(await auditEvents('LEASE_TAKEN_OVER')).toEqual([{ actor: null, detail: expect.objectContaining({ holder: 'godwit/app/0004_broken' }) }]);
  });

  it('a statement longer than the TTL (GODWIT_LEASE_TTL=1 second) keeps its target', async () => {
    const saved = process.env.GODWIT_LEASE_TTL;
    process.env.GODWIT_LEASE_TTL = '1 second';
    try {
      const slow = await manifestFrom(`
id: 0007_slow
operations:
  - sql: { up: "select pg_sleep(8)", down: "select 1" }
  - add_column: { table: users, column: { name: slow, type: int } }
`);
      const handle = await startMigration(t.client, t.settings, { target: TARGET, loaded: slow, requestedBy: 'alice' });
      await waitForState(handle, 'in_progress');
      // The statement runs, and the lease it renewed when its transaction began goes stale.
      let stale = false;
      for (let i = 0; i < 60 && !stale; i++) {
        const { rows } = await db.query<{ stale: boolean }>(
          `select l.expires_at < now() as stale from godwit.leases l where exists (select 1 from pg_stat_activity where query = 'select pg_sleep(8)')`,
        );
        stale = rows[0]?.stale === true;
        if (!stale) await new Promise((r) => setTimeout(r, 100));
      }
      expect(stale).toBe(true);
      expect(await refused('0008_second')).toMatch(/godwit\/app\/0007_slow holds its lease .*its run is still open/);
      expect(finalState(await watchMigration(handle, () => undefined, { pollMs: 200 }))).toBe('applied');
      expect(finalState(await applyAndWatch(t, TARGET, await manifestFrom(other('0009_after'))))).toBe('applied');
    } finally {
      if (saved === undefined) delete process.env.GODWIT_LEASE_TTL;
      else process.env.GODWIT_LEASE_TTL = saved;
    }
  });
});
