import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { manifestFrom, setupTemporal, type TestTemporal } from '../helpers/temporal';
import { applyAndWatch, finalState } from '../helpers/migrate';
import { schemaDump, takeWitness } from '../helpers/witness';
import { revertCommand } from '../../src/cli/commands/revert';
import { operateCommand } from '../../src/cli/commands/operate';
import { ExitCode } from '../../src/cli/exit-codes';
import { migrationStatus, unlockTarget, verifyDrift } from '../../src/client';
import { unlockCommand } from '../../src/cli/commands/unlock';
import { pruneSnapshots } from '../../src/db/snapshots';
import { revertStateQuery } from '../../src/contract/revert-messages';
import { revertWorkflowId } from '../../src/contract/revert';

// `godwit revert`: an applied migration undone from the plan its run recorded, with the
// application writing, proven by witnesses that share no code with Godwit (pg_dump, EXCEPT ALL
// over copies taken before, and the application's own bookkeeping).

const ROWS = 5_000;
const LOCK_TIMEOUT_MS = 2_000;

let db: TestDatabase;
let t: TestTemporal;
const lines: string[] = [];
const out = (line: string) => lines.push(line);
const cli = () => ({ target: 'app', address: t.settings.address, namespace: t.settings.namespace, taskQueue: t.settings.taskQueue, uiUrl: t.settings.uiUrl });

beforeAll(async () => {
  db = await createTestDatabase('godwit_revert');
  t = await setupTemporal({ app: db.url });
  await t.startWorker();
});

afterAll(async () => {
  await t?.close();
  await db?.drop();
});

beforeEach(async () => {
  lines.length = 0;
  await db.query(`
    drop table if exists accounts, ledger, accounts_before, archive, archive_before, other, t20 cascade;
    create table accounts (id int primary key, owner text not null, note text, balance bigint not null default 0);
    insert into accounts select g, 'owner ' || g, case when g % 3 = 0 then null else 'note ' || g end, 0 from generate_series(1, ${ROWS}) g;
    create table ledger (id bigserial primary key, account_id int not null);
    create table archive (id int primary key, payload text);
    insert into archive select g, md5(g::text) from generate_series(1, 500) g;
  `);
});

async function apply(yaml: string): Promise<string> {
  return finalState(await applyAndWatch(t, 'app', await manifestFrom(yaml)));
}

async function migrationState(id: string): Promise<string | undefined> {
  return (await db.query<{ state: string }>('select state from godwit.migrations where migration_id = $1', [id])).rows[0]?.state;
}

/** The application: a few connections in a loop, each transaction adding 1 to a balance and booking it in the ledger, now and then inserting or deleting an account. */
function startWriter(clients = 3) {
  const report = { committed: 0, inserted: [] as number[], deleted: [] as number[], errors: [] as string[] };
  let running = true;
  let nextId = ROWS + 1;
  const loops = Array.from({ length: clients }, async (_v, n) => {
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    await c.query(`set lock_timeout = '${LOCK_TIMEOUT_MS + 1_000}ms'`);
    let i = 0;
    try {
      while (running) {
        i++;
        const id = 1 + Math.floor(Math.random() * (ROWS - 500));
        try {
          await c.query('begin');
          const u = await c.query('update accounts set balance = balance + 1 where id = $1', [id]);
          if (u.rowCount === 1) await c.query('insert into ledger (account_id) values ($1)', [id]);
          let inserted: number | null = null;
          let deleted: number | null = null;
          if (i % 20 === n) {
            inserted = nextId++;
            await c.query(`insert into accounts (id, owner) values ($1::int, 'app ' || $1::text)`, [inserted]);
          }
          if (i % 30 === n) {
            const victim = ROWS - 500 + Math.floor(Math.random() * 500) + 1;
            if ((await c.query('delete from accounts where id = $1 and balance = 0', [victim])).rowCount === 1) deleted = victim;
          }
          await c.query('commit');
          report.committed++;
          if (inserted !== null) report.inserted.push(inserted);
          if (deleted !== null) report.deleted.push(deleted);
        } catch (err) {
          await c.query('rollback').catch(() => undefined);
          report.errors.push((err as Error).message);
        }
      }
    } finally {
      await c.end();
    }
  });
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
      return report;
    },
  };
}

/** Waits (on the revert's own state query) until it says `state`. */
async function waitForRevertState(migrationId: string, state: string): Promise<void> {
  const handle = t.client.workflow.getHandle(revertWorkflowId('app', migrationId));
  for (;;) {
    const p = await handle.query(revertStateQuery).catch(() => null);
    if (p?.state === state) return;
    if (p && ['reverted', 'revert_rejected', 'revert_failed'].includes(p.state)) throw new Error(`the revert ended ${p.state}, not ${state}: ${p.reason}`);
    // Not started yet (not found), or closed without an answer (refused): only the first is worth waiting for.
    const status = await handle.describe().then((d) => d.status.name, () => 'NOT_FOUND');
    if (status !== 'RUNNING' && status !== 'NOT_FOUND') throw new Error(`the revert run is ${status}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('godwit revert', () => {
  it('restores what an applied migration dropped and overwrote: pg_dump and every row equal to before, and a later apply runs it again', async () => {
    const manifest = `
id: 0001_drop_notes
operations:
  - drop_column: { table: accounts, column: note }
  - drop_table: { table: archive }
  - backfill: { table: accounts, set: { owner: "upper(owner)" }, where: "id % 7 = 0", batch_size: 1000 }
policy: { approval: never }
`;
    const witness = await takeWitness(db.url);
    expect(await apply(manifest)).toBe('applied');
    expect(await migrationState('0001_drop_notes')).toBe('applied');

    const code = await revertCommand('0001_drop_notes', { ...cli(), wait: true, requestedBy: 'ci' }, out);
    expect(lines.join('\n')).toContain('reverted');
    expect(code).toBe(ExitCode.applied);
    expect(await witness.differences()).toEqual([]);

    expect(await migrationState('0001_drop_notes')).toBe('reverted');
    const audit = await db.query<{ event: string; to_state: string | null }>(`select event, to_state from godwit.audit_log where workflow_id = $1 order by seq`, [revertWorkflowId('app', '0001_drop_notes')]);
    expect(audit.rows.map((r) => r.event)).toEqual(['REVERT_REQUESTED', 'START', 'REVERT_PROOF', 'MIGRATION_REVERTED', 'REVERT_VERIFIED']);
    const revertRow = await db.query<{ state: string }>('select state from godwit.reverts where migration_id = $1', ['0001_drop_notes']);
    expect(revertRow.rows[0]?.state).toBe('reverted');

    // Reverted is not applied: the same file applies again, as a new run.
    expect(await apply(manifest)).toBe('applied');
    expect((await db.query(`select 1 from information_schema.columns where table_name = 'accounts' and column_name = 'note'`)).rowCount).toBe(0);

    if (process.env.GODWIT_RECORD_REVERT_HISTORY) {
      // Re-records test/replay/histories/reverted.json from this run (the replay test replays it).
      const json = execFileSync(join(process.cwd(), '.godwit/bin/temporal'), ['workflow', 'show', '--address', t.settings.address, '--workflow-id', revertWorkflowId('app', '0001_drop_notes'), '--output', 'json'], { maxBuffer: 64 << 20 });
      writeFileSync(join(process.cwd(), 'test/replay/histories/reverted.json'), json);
    }
  });

  it('loses no write of an application writing during the apply and the revert, and puts back only what the migration changed', async () => {
    await db.query('create table accounts_before as select * from accounts');
    const schemaBefore = await schemaDump(db.url, { table: 'public.accounts' });
    const writer = startWriter();
    expect(await apply(`
id: 0002_live
operations:
  - drop_column: { table: accounts, column: note }
  - backfill: { table: accounts, set: { owner: "upper(owner)" }, where: "id % 10 = 0", batch_size: 500 }
policy: { approval: never, lock_timeout: ${LOCK_TIMEOUT_MS}ms }
`)).toBe('applied');
    const code = await revertCommand('0002_live', { ...cli(), wait: true, requestedBy: 'ci' }, out);
    const report = await writer.stop();
    expect(code).toBe(ExitCode.applied);

    // The application: nothing failed, every booked increment is in the balances, its inserts are there, its deletes gone.
    expect([...new Set(report.errors)]).toEqual([]);
    expect(report.committed).toBeGreaterThan(20);
    const sums = await db.query<{ sum: string; ledger: string }>('select (select sum(balance) from accounts)::bigint::text as sum, (select count(*) from ledger)::text as ledger');
    expect(sums.rows[0]!.sum).toBe(sums.rows[0]!.ledger);
    expect((await db.query('select id from accounts where id = any($1::int[])', [report.inserted])).rowCount).toBe(report.inserted.length);
    expect((await db.query('select id from accounts where id = any($1::int[])', [report.deleted])).rowCount).toBe(0);
    // The migration's columns, plain SQL: every account from before that still exists has its note and owner again.
    const diff = await db.query<{ n: string }>(`
      select count(*)::text as n from (
        (select id, owner, note from accounts_before where id in (select id from accounts) except all select id, owner, note from accounts where id <= ${ROWS})
        union all
        (select id, owner, note from accounts where id <= ${ROWS} except all select id, owner, note from accounts_before)
      ) d`);
    expect(diff.rows[0]!.n).toBe('0');
    expect(await schemaDump(db.url, { table: 'public.accounts' })).toEqual(schemaBefore);
  });

  it('refuses a revert under a later migration that changed the same objects, naming it; --to reverts the chain newest first', async () => {
    expect(await apply('id: 0010_tier\noperations:\n  - add_column: { table: accounts, column: { name: tier, type: text } }\npolicy: { approval: auto }\n')).toBe('applied');
    expect(await apply('id: 0011_tier_default\noperations:\n  - set_default: { table: accounts, column: tier, default: "\'gold\'" }\npolicy: { approval: never }\n')).toBe('applied');
    expect(await apply('id: 0012_other\noperations:\n  - create_table: { table: other, columns: [{ name: id, type: int, primary_key: true }] }\npolicy: { approval: never }\n')).toBe('applied');

    const refused = await revertCommand('0010_tier', { ...cli(), wait: true, requestedBy: 'ci' }, out).then(
      () => null,
      (err: unknown) => err as Error & { exitCode?: number },
    );
    expect(refused?.exitCode).toBe(ExitCode.error);
    expect(refused?.message).toMatch(/a later applied migration changed the same objects: 0011_tier_default \(changed public\.accounts since\)/);
    expect(refused?.message).toContain('godwit revert 0011_tier_default --to 0010_tier --target app');
    expect(refused?.message).not.toContain('0012_other');
    expect(await migrationState('0010_tier')).toBe('applied');
    const audited = await db.query(`select 1 from godwit.audit_log where event = 'REVERT_REFUSED' and migration_id = '0010_tier'`);
    expect(audited.rowCount).toBe(1);

    // Undoing add_column drops what the application wrote there since: approval: auto asks a person.
    const chain = revertCommand('0011_tier_default', { ...cli(), to: '0010_tier', wait: true, requestedBy: 'ci' }, out);
    await waitForRevertState('0011_tier_default', 'revert_awaiting_approval');
    // It holds the target's lease while it waits, as a migration does: no apply gets in between.
    await expect(apply('id: 0013_meanwhile\noperations:\n  - create_table: { table: meanwhile, columns: [{ name: id, type: int }] }\npolicy: { approval: never }\n')).rejects.toThrow(
      "target 'app' is busy: godwit/app/0011_tier_default/revert holds its lease",
    );
    // The operator's verb finds the revert run: the migration's own run is closed.
    await operateCommand('approve', '0011_tier_default', { ...cli(), by: 'alice' }, out);
    expect(await chain).toBe(ExitCode.applied);

    expect(await migrationState('0011_tier_default')).toBe('reverted');
    expect(await migrationState('0010_tier')).toBe('reverted');
    expect(await migrationState('0012_other')).toBe('applied');
    expect((await db.query(`select 1 from information_schema.columns where table_name = 'accounts' and column_name = 'tier'`)).rowCount).toBe(0);
    expect((await db.query(`select to_regclass('public.other') is not null as present`)).rows[0]).toEqual({ present: true });
    const reverted = await db.query<{ migration: string }>(
      `select detail->>'migration' as migration from godwit.audit_log where event = 'MIGRATION_REVERTED' and workflow_id = $1 order by seq`,
      [revertWorkflowId('app', '0011_tier_default')],
    );
    expect(reverted.rows.map((r) => r.migration)).toEqual(['0011_tier_default', '0010_tier']);

    // godwit verify measures drift from what the revert left, not from 0012's fingerprint (which had the column).
    const drift = await verifyDrift(t.client, t.settings, 'app', []);
    expect(drift.schemaDrift).toBeNull();

    // godwit status: the revert run speaks for both migrations of its chain.
    let states: Record<string, string> = {};
    while (states['0010_tier'] !== 'reverted' || states['0011_tier_default'] !== 'reverted') {
      states = Object.fromEntries((await migrationStatus(t.client, t.settings, 'app')).map((r) => [r.migrationId, r.state]));
    }
    expect(states['0012_other']).toBe('applied');
  });

  it('a rejected revert exits 4 and fails its run (RevertRejected) carrying its result; the migration stays applied', async () => {
    // A low-risk step applies under approval: auto; undoing it (dropping the column) asks a person.
    expect(await apply('id: 0040_flag\noperations:\n  - add_column: { table: accounts, column: { name: flag, type: boolean } }\npolicy: { approval: auto }\n')).toBe('applied');
    const code = revertCommand('0040_flag', { ...cli(), wait: true, requestedBy: 'ci' }, out);
    await waitForRevertState('0040_flag', 'revert_awaiting_approval');
    await operateCommand('reject', '0040_flag', { ...cli(), by: 'alice', reason: 'keep the flags' }, out);
    expect(await code).toBe(ExitCode.rejected);

    const handle = t.client.workflow.getHandle(revertWorkflowId('app', '0040_flag'));
    expect((await handle.describe()).status.name).toBe('FAILED');
    const failure = await handle.result().then(
      () => null,
      (err: { cause?: { type?: string; details?: unknown[] } }) => err.cause,
    );
    expect(failure?.type).toBe('RevertRejected');
    expect(failure?.details?.[0]).toMatchObject({ outcome: 'revert_rejected', state: 'revert_rejected', reason: 'keep the flags' });
    expect(await migrationState('0040_flag')).toBe('applied');
    expect((await db.query(`select 1 from information_schema.columns where table_name = 'accounts' and column_name = 'flag'`)).rowCount).toBe(1);
    expect((await migrationStatus(t.client, t.settings, 'app')).find((r) => r.migrationId === '0040_flag')?.state).toBe('revert_rejected');

    if (process.env.GODWIT_RECORD_REVERT_HISTORY) {
      const json = execFileSync(join(process.cwd(), '.godwit/bin/temporal'), ['workflow', 'show', '--address', t.settings.address, '--workflow-id', revertWorkflowId('app', '0040_flag'), '--output', 'json'], { maxBuffer: 64 << 20 });
      writeFileSync(join(process.cwd(), 'test/replay/histories/revert-failed-outcome-rejected.json'), json);
    }
  });

  it('stays open in revert_failed (exit 3) when an undo fails, until a retry succeeds once a person fixed the data', async () => {
    expect(await apply('id: 0030_owner_nullable\noperations:\n  - drop_not_null: { table: accounts, column: owner }\npolicy: { approval: never }\n')).toBe('applied');
    // The application used what the migration allowed: undoing it (SET NOT NULL) cannot succeed as it is.
    await db.query(`insert into accounts (id, owner) values (${ROWS + 100}, null)`);
    const code = await revertCommand('0030_owner_nullable', { ...cli(), wait: true, requestedBy: 'ci' }, out);
    expect(code).toBe(ExitCode.rollbackFailed);
    expect(lines.join('\n')).toMatch(/revert 0030_owner_nullable revert_failed: 0030_owner_nullable step 1 \(.*\): .*contains null values/);
    expect(await migrationState('0030_owner_nullable')).toBe('reverting');

    await db.query(`update accounts set owner = 'unknown' where owner is null`);
    // retry-rollback finds the revert run (the migration's own run is closed).
    await operateCommand('retry-rollback', '0030_owner_nullable', { ...cli(), by: 'dba' }, out);
    const result = await t.client.workflow.getHandle(revertWorkflowId('app', '0030_owner_nullable')).result();
    expect(result.state).toBe('reverted');
    expect(await migrationState('0030_owner_nullable')).toBe('reverted');
    expect((await db.query(`select is_nullable from information_schema.columns where table_name = 'accounts' and column_name = 'owner'`)).rows[0]).toEqual({ is_nullable: 'NO' });
  });

  it('a revert terminated half way and unlocked leaves its migration reverting; the next revert finishes it from there, skipping what was undone', async () => {
    const before = await schemaDump(db.url);
    const yaml = 'id: 0040_two_steps\noperations:\n  - drop_not_null: { table: accounts, column: owner }\n  - add_column: { table: accounts, column: { name: extra, type: text } }\npolicy: { approval: never }\n';
    expect(await apply(yaml)).toBe('applied');
    await db.query(`insert into accounts (id, owner) values (${ROWS + 200}, null)`);
    // The application writes through the failed revert, the termination, the unlock and the revert that finishes.
    const writer = startWriter();
    // The undo of add_column succeeds, the undo of drop_not_null cannot: the revert waits in revert_failed.
    expect(await revertCommand('0040_two_steps', { ...cli(), wait: true, requestedBy: 'ci' }, out)).toBe(ExitCode.rollbackFailed);
    expect((await db.query(`select 1 from information_schema.columns where table_name = 'accounts' and column_name = 'extra'`)).rowCount).toBe(0);

    // Someone terminates the run in the UI instead of fixing the data: while it was open, unlock refused.
    const handle = t.client.workflow.getHandle(revertWorkflowId('app', '0040_two_steps'));
    expect(await unlockTarget(t.client, t.settings, { target: 'app', by: 'dba' })).toMatchObject({ released: false, holderState: 'open' });
    await handle.terminate('operator gave up on it');
    lines.length = 0;
    await unlockCommand({ ...cli(), by: 'dba' }, out);
    expect(lines.join('\n')).toContain(`it was reverting 0040_two_steps, which stay marked reverting and may be partly undone; finish with \`godwit revert 0040_two_steps --target app\``);
    expect(await migrationState('0040_two_steps')).toBe('reverting');
    const abandoned = await db.query<{ state: string }>(`select state from godwit.reverts where migration_id = '0040_two_steps'`);
    expect(abandoned.rows.map((r) => r.state)).toEqual(['revert_abandoned']);
    const audit = await db.query<{ detail: { revert?: { state: string } } }>(`select detail from godwit.audit_log where event = 'LEASE_UNLOCKED' order by seq desc limit 1`);
    expect(audit.rows[0]!.detail.revert?.state).toBe('revert_abandoned');

    // The data fixed, a new revert (a new run of the same workflow id) finishes the job.
    await db.query(`update accounts set owner = 'unknown' where owner is null`);
    lines.length = 0;
    expect(await revertCommand('0040_two_steps', { ...cli(), wait: true, requestedBy: 'ci' }, out)).toBe(ExitCode.applied);
    expect(await migrationState('0040_two_steps')).toBe('reverted');
    const report = await writer.stop();
    expect([...new Set(report.errors)]).toEqual([]);
    expect(report.committed).toBeGreaterThan(20);
    const sums = await db.query<{ sum: string; ledger: string }>('select (select sum(balance) from accounts)::bigint::text as sum, (select count(*) from ledger)::text as ledger');
    expect(sums.rows[0]!.sum).toBe(sums.rows[0]!.ledger);
    expect((await db.query('select id from accounts where id = any($1::int[])', [report.inserted])).rowCount).toBe(report.inserted.length);
    // Witness: pg_dump's schema is the one before the apply (the seeding null row was fixed, not dropped).
    expect(await schemaDump(db.url)).toEqual(before);
  });

  it('refuses a revert whose copies and retired objects were pruned after their retention, saying why and what to do', async () => {
    await db.query(`create table t20 (id int primary key, a text, b text); insert into t20 select g, 'a' || g, 'b' || g from generate_series(1, 100) g`);
    expect(await apply(`
id: 0020_expiring
operations:
  - drop_column: { table: t20, column: b }
  - backfill: { table: t20, set: { a: "upper(a)" }, batch_size: 50 }
policy: { approval: never }
`)).toBe('applied');
    await db.query(`update godwit.snapshots set retain_until = now() - interval '1 second' where migration_id = '0020_expiring'`);
    await db.query(`update godwit.retired set retain_until = now() - interval '1 second' where migration_id = '0020_expiring'`);
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    try {
      const pruned = await pruneSnapshots(c);
      expect(pruned.purged.map((p) => p.source)).toEqual(['public.t20.b']);
    } finally {
      await c.end();
    }

    const refused = revertCommand('0020_expiring', { ...cli(), wait: true, requestedBy: 'ci' }, out);
    await expect(refused).rejects.toMatchObject({ exitCode: ExitCode.error });
    await expect(refused).rejects.toThrow(/the change log of public\.t20 that step 2 \(.*\) kept was pruned: its retention ended/);
    await expect(refused).rejects.toThrow(/the retired column public\.t20\.b that step 1 \(.*\) kept was purged/);
    await expect(refused).rejects.toThrow('restore it from a backup, or write a new migration that undoes it');
    expect(await migrationState('0020_expiring')).toBe('applied');
    // Nothing was touched, and the target is free again.
    expect((await db.query('select count(*)::int as n from godwit.leases')).rows[0]).toEqual({ n: 0 });
  });
});
