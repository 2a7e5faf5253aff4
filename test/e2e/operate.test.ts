import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { manifestDir, setupTemporal, type TestTemporal } from '../helpers/temporal';
import { runCli, spawnCli } from '../helpers/process';

// The operator's verbs, each through the real CLI against a running `apply --wait`.
let db: TestDatabase;
let t: TestTemporal;

beforeAll(async () => {
  db = await createTestDatabase('godwit_ops');
  await db.query('create table users (id int primary key)');
  t = await setupTemporal({ app: db.url });
  await t.startWorker();
});

afterAll(async () => {
  await t?.close();
  await db?.drop();
});

const gated = (id: string, column: string) => `
id: ${id}
operations:
  - add_column: { table: users, column: { name: ${column}, type: int } }
policy: { approval: required }
`;

describe('operator commands', () => {
  it('waits for approval, refuses the requester as approver, and applies once someone else approves', async () => {
    const dir = manifestDir({ 'a.yaml': gated('op_approve', 'approved_col') });
    const apply = spawnCli(['apply', dir, '--target', 'app', '--wait', '--requested-by', 'alice'], t.env);
    await apply.waitFor('waiting for approval: `godwit approve op_approve --target app`');

    const self = await runCli(['approve', 'op_approve', '--target', 'app', '--by', 'alice'], t.env);
    expect(self.code).toBe(1);
    expect(self.output).toMatch(/approve refused: cannot approve: self approval: alice requested this migration; another person must approve it/);

    const other = await runCli(['approve', 'op_approve', '--target', 'app', '--by', 'bob'], t.env);
    expect(other.code).toBe(0);
    expect(await apply.exit, apply.output()).toBe(0);
    expect(apply.output()).toMatch(/awaiting_approval → in_progress \(APPROVE\)/);
    const audit = await db.query(`select actor from godwit.audit_log where migration_id = 'op_approve' and event = 'APPROVE'`);
    expect(audit.rows).toEqual([{ actor: 'bob' }]);
  });

  it('exits 4 when the migration is rejected, having changed nothing', async () => {
    const dir = manifestDir({ 'r.yaml': gated('op_reject', 'rejected_col') });
    const apply = spawnCli(['apply', dir, '--target', 'app', '--wait', '--requested-by', 'alice'], t.env);
    await apply.waitFor('waiting for approval');
    expect((await runCli(['reject', 'op_reject', '--target', 'app', '--by', 'bob', '--reason', 'not during the sale'], t.env)).code).toBe(0);
    expect(await apply.exit).toBe(4);
    expect(apply.output()).toMatch(/rejected/);
    const cols = await db.query(`select 1 from information_schema.columns where table_name = 'users' and column_name = 'rejected_col'`);
    expect(cols.rowCount).toBe(0);
  });

  it('rolls back on a rollback signal during the bake window and exits 2', async () => {
    const dir = manifestDir({
      'b.yaml': `
id: op_bake
operations:
  - add_column: { table: users, column: { name: baked_col, type: int } }
policy: { bake_seconds: 60 }
`,
    });
    const apply = spawnCli(['apply', dir, '--target', 'app', '--wait'], t.env);
    await apply.waitFor('in_progress → validated');
    const sent = await runCli(['rollback', 'op_bake', '--target', 'app', '--by', 'oncall', '--reason', 'canary errors'], t.env);
    expect(sent.code).toBe(0);
    expect(await apply.exit, apply.output()).toBe(2);
    expect(apply.output()).toMatch(/rollback requested by oncall: canary errors/);
    expect(apply.output()).toMatch(/\(equal\)/);
    const cols = await db.query(`select 1 from information_schema.columns where table_name = 'users' and column_name = 'baked_col'`);
    expect(cols.rowCount).toBe(0);
  });

  it('says clearly when the migration is not running', async () => {
    const r = await runCli(['rollback', 'no_such_migration', '--target', 'app'], t.env);
    expect(r.code).toBe(1);
    expect(r.output).toMatch(/no migration no_such_migration on target 'app'.*godwit status --target app/);
  });
});
