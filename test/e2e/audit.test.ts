import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { recordedAuditHeads } from '../../src/client/audit-heads';
import { auditRowHash, GENESIS_HASH, type AuditRecord } from '../../src/db/audit';
import { startMigration } from '../../src/client';
import type { RecordedHead } from '../../src/db/audit-chain';
import type { AuditVerifyReport } from '../../src/contract/migration';
import { rejectUpdate, stateQuery } from '../../src/contract/messages';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { manifestDir, manifestFrom, setupTemporal, type TestTemporal } from '../helpers/temporal';
import { godwit } from './run-godwit';

// `godwit audit verify` against a log that real runs wrote, tampered with in SQL the way
// the table's owner or a superuser could: past the append-only triggers.

let db: TestDatabase;
let t: TestTemporal;
// The target alias is this file's own: heads are looked up by alias on a shared dev server.
const target = `audit-${randomBytes(3).toString('hex')}`;

interface LogRow {
  seq: number;
  event: string;
  migration_id: string;
  at: string;
}
let log: LogRow[];

const manifests = {
  '1_score.yaml': `id: 1_score\noperations:\n  - add_column: { table: users, column: { name: score, type: int, default: "0" } }\n`,
  '2_fails.yaml': `id: 2_fails\noperations:\n  - add_column: { table: users, column: { name: doomed, type: int } }\nchecks:\n  post:\n    - { name: fails on purpose, sql: select false }\n`,
  '3_bio.yaml': `id: 3_bio\noperations:\n  - add_column: { table: users, column: { name: bio, type: text } }\n`,
};

async function apply(file: keyof typeof manifests, code: number): Promise<void> {
  const r = await godwit(['apply', manifestDir({ [file]: manifests[file] }), '--target', target, '--wait'], t.env);
  expect(r.code, r.output).toBe(code);
}

const verify = (...flags: string[]) => godwit(['audit', 'verify', '--target', target, ...flags], t.env);

/** As a superuser would: with triggers off for this session only. */
const asSuperuser = (sql: string) => db.query(`set session_replication_role = replica; ${sql}`);

/** `row 7 (BAKE_PASSED, migration 1_score, 2026-...)`, as the human output names a row. */
const named = (r: LogRow) => `row ${r.seq} (${r.event}, migration ${r.migration_id}, ${r.at})`;

beforeAll(async () => {
  db = await createTestDatabase('godwit_audit');
  await db.query('create table users (id int primary key, email text)');
  t = await setupTemporal({ [target]: db.url });
  await t.startWorker();
  await apply('1_score.yaml', 0);
  await apply('2_fails.yaml', 2); // rolled back: a ROLLBACK_PROOF row with a jsonb detail
  await apply('3_bio.yaml', 0);
  const { rows } = await db.query<{ seq: string; event: string; migration_id: string; at: Date }>('select seq, event, migration_id, at from godwit.audit_log order by seq');
  log = rows.map((r) => ({ seq: Number(r.seq), event: r.event, migration_id: r.migration_id, at: r.at.toISOString() }));
  // Visibility lags the runs a little: wait until the last run's head shows in its memo.
  while (!(await recordedAuditHeads(t.client, target)).some((h) => h.seq === log.at(-1)!.seq)) await new Promise((r) => setTimeout(r, 200));
  await db.query('create table audit_backup as select * from godwit.audit_log');
});

afterEach(async () => {
  await asSuperuser('truncate godwit.audit_log; insert into godwit.audit_log overriding system value select * from audit_backup');
  await db.query('alter table godwit.audit_log enable trigger all');
});

afterAll(async () => {
  await t?.close();
  await db?.drop();
});

describe('godwit audit verify', () => {
  it('keeps each run\'s last audit row in its Temporal memo', async () => {
    const heads = await recordedAuditHeads(t.client, target);
    const lastOf = (id: string) => log.filter((r) => r.migration_id === id).at(-1)!;
    expect(heads.map((h) => [h.migrationId, h.seq, h.event]).sort()).toEqual(
      ['1_score', '2_fails', '3_bio'].map((id) => [id, lastOf(id).seq, lastOf(id).event]).sort(),
    );
  });

  it('exits 0 on the log the runs wrote, checked against the heads Temporal recorded', async () => {
    const r = await verify();
    expect(r.code, r.output).toBe(0);
    expect(r.output).toContain(`audit log intact, ${log.length} row(s), chain ends at row ${log.at(-1)!.seq}`);
    expect(r.output).toMatch(/3 head\(s\) recorded in Temporal found in it/);
  });

  it('refuses UPDATE, DELETE and TRUNCATE of the log', async () => {
    await expect(db.query(`update godwit.audit_log set actor = 'x'`)).rejects.toThrow(/append-only/);
    await expect(db.query('delete from godwit.audit_log')).rejects.toThrow(/append-only/);
    await expect(db.query('truncate godwit.audit_log')).rejects.toThrow(/append-only/);
  });

  it('exits 6 and names a row that was updated', async () => {
    const victim = log[3]!;
    await db.query('alter table godwit.audit_log disable trigger audit_log_append_only');
    await db.query(`update godwit.audit_log set actor = 'mallory' where seq = $1`, [victim.seq]);
    const r = await verify();
    expect(r.code, r.output).toBe(6);
    expect(r.output).toContain(`BROKEN at row ${victim.seq}`);
    expect(r.output).toContain(named(victim));
    expect(r.output).toMatch(/row updated: its content does not match its hash/);
  });

  it('exits 6 and names the row after one that was deleted', async () => {
    const [gone, next] = [log[4]!, log[5]!];
    await asSuperuser(`delete from godwit.audit_log where seq = ${gone.seq}`);
    const r = await verify('--json');
    expect(r.code, r.output).toBe(6);
    const report = JSON.parse(r.stdout) as AuditVerifyReport;
    expect(report.intact).toBe(false);
    expect(report.problems).toEqual([expect.objectContaining({ kind: 'deleted', row: expect.objectContaining({ seq: next.seq, event: next.event, migrationId: next.migration_id }) })]);
    expect(report.problems[0]!.detail).toContain(`row ${gone.seq} is missing`);
  });

  it('exits 6 and names the first of two rows whose contents were swapped', async () => {
    const [a, b] = [log[2]!, log[3]!];
    // The two rows trade ids (hash is unique, so through a delete and an insert).
    await asSuperuser(`
      delete from godwit.audit_log where seq in (${a.seq}, ${b.seq});
      insert into godwit.audit_log overriding system value
        select case seq when ${a.seq} then ${b.seq} else ${a.seq} end, at, migration_id, workflow_id, run_id, event, from_state, to_state, actor, detail, prev_hash, hash
          from audit_backup where seq in (${a.seq}, ${b.seq})`);
    const r = await verify();
    expect(r.code, r.output).toBe(6);
    expect(r.output).toContain(`BROKEN at row ${a.seq}`);
    // The row now holds b's content, so it is named as b was written.
    expect(r.output).toContain(named({ ...b, seq: a.seq }));
    expect(r.output).toMatch(new RegExp(`rows reordered or inserted: its previous-hash link points at row ${b.seq}, not at row ${a.seq - 1}`));
  });

  it('exits 6 and names the recorded head when the tail was cut off', async () => {
    const lastRun = log.filter((r) => r.migration_id === '3_bio');
    await asSuperuser(`delete from godwit.audit_log where seq >= ${lastRun[0]!.seq}`);
    const r = await verify();
    expect(r.code, r.output).toBe(6);
    const head = lastRun.at(-1)!;
    expect(r.output).toContain(`BROKEN at row ${head.seq}`);
    expect(r.output).toContain(named(head));
    expect(r.output).toMatch(new RegExp(`log truncated: the row is gone and run godwit/${target}/3_bio \\(.+\\) recorded it in Temporal as its audit head: the log ends at row ${lastRun[0]!.seq - 1}`));
  });

  it('exits 6 when the whole log was truncated', async () => {
    await asSuperuser('truncate godwit.audit_log');
    const r = await verify('--json');
    expect(r.code, r.output).toBe(6);
    const report = JSON.parse(r.stdout) as AuditVerifyReport;
    expect(report.rows).toBe(0);
    expect(report.problems.map((p) => [p.kind, p.row.migrationId])).toEqual([
      ['truncated', '1_score'],
      ['truncated', '2_fails'],
      ['truncated', '3_bio'],
    ]);
    expect(report.problems[0]!.detail).toMatch(/the log is empty/);
  });

  it('exits 6 when the chain was rewritten with recomputed hashes, by the head kept in Temporal', async () => {
    const { rows } = await db.query<AuditRecord & { seq: string; at: Date }>(
      'select seq, at, migration_id, workflow_id, run_id, event, from_state, to_state, actor, detail from godwit.audit_log order by seq',
    );
    let prev = GENESIS_HASH;
    const forged: string[] = [];
    for (const { seq, at, ...rest } of rows) {
      const record: AuditRecord = { ...rest, at: at.toISOString(), actor: Number(seq) === log[1]!.seq ? 'mallory' : rest.actor };
      const hash = auditRowHash(prev, record);
      forged.push(`(${seq}, ${record.actor === null ? 'null' : `'${record.actor}'`}, '${prev}', '${hash}')`);
      prev = hash;
    }
    // hash is unique: move the old hashes out of the way first.
    await asSuperuser(`update godwit.audit_log set hash = 'old:' || hash;
      update godwit.audit_log l set actor = f.actor, prev_hash = f.prev_hash, hash = f.hash
        from (values ${forged.join(', ')}) as f (seq, actor, prev_hash, hash) where l.seq = f.seq`);
    const r = await verify('--json');
    expect(r.code, r.output).toBe(6);
    const report = JSON.parse(r.stdout) as AuditVerifyReport;
    // Every link holds; only the rows that runs recorded in Temporal give it away.
    expect(report.problems.every((p) => p.kind === 'rewritten')).toBe(true);
    expect(report.problems.map((p) => p.row.migrationId)).toEqual(['1_score', '2_fails', '3_bio']);
  });

  // Last: the parked run adds a head that the other tests' restored log does not reach.
  it('exits 6 when the rows of a run parked for approval were cut off, by the head it recorded while waiting', async () => {
    const loaded = await manifestFrom(`id: 4_wait\noperations:\n  - add_column: { table: users, column: { name: w, type: int } }\npolicy: { approval: required }\n`);
    const handle = await startMigration(t.client, t.settings, { target, loaded, requestedBy: 'dev' });
    let head: RecordedHead | undefined;
    while (!(head = (await recordedAuditHeads(t.client, target)).find((h) => h.migrationId === '4_wait'))) await new Promise((r) => setTimeout(r, 200));
    expect((await handle.query(stateQuery)).state).toBe('awaiting_approval');
    const { rows } = await db.query<{ seq: string }>(`select seq from godwit.audit_log where migration_id = '4_wait' order by seq`);
    const parked = Number(rows.at(-1)!.seq);
    expect(head.seq).toBe(parked);
    await asSuperuser(`delete from godwit.audit_log where migration_id = '4_wait'`);
    const r = await verify();
    expect(r.code, r.output).toBe(6);
    expect(r.output).toContain(`BROKEN at row ${parked}`);
    expect(r.output).toMatch(new RegExp(`log truncated: the row is gone and run godwit/${target}/4_wait`));
    await handle.executeUpdate(rejectUpdate, { args: [{ by: 'reviewer' }] });
  });

  it('exits 1 with the worker\'s message for a target it does not know', async () => {
    const r = await godwit(['audit', 'verify', '--target', 'nowhere'], t.env);
    expect(r.code).toBe(1);
    expect(r.output).toMatch(/GODWIT_TARGET_NOWHERE/);
  });
});
