import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { manifestDir, setupTemporal, type TestTemporal } from '../helpers/temporal';
import { runCli, spawnCli } from '../helpers/process';
import { makeSigners, type Signers } from '../helpers/signers';

// `godwit approve --key` signs with the operator's SSH key, and the worker, which reads who may
// approve from its godwit.yaml, takes it; a listed key signing for someone it is not listed for is refused.
let db: TestDatabase;
let t: TestTemporal;
let s: Signers;

beforeAll(async () => {
  db = await createTestDatabase('godwit_signed_cli');
  await db.query('create table users (id int primary key)');
  s = makeSigners(['alice', 'bob']);
  t = await setupTemporal({ app: db.url });
  await t.startWorker({ configFile: s.config(['alice', 'bob'], { app: { approve: ['bob'] } }) });
});

afterAll(async () => {
  await t?.close();
  await db?.drop();
});

describe('godwit approve --key', () => {
  it('refuses a key signing for someone else, then applies once bob approves with his own key', async () => {
    const dir = manifestDir({ 'a.yaml': `id: signed_cli\noperations:\n  - add_column: { table: users, column: { name: signed_col, type: int } }\npolicy: { approval: required }\n` });
    const apply = spawnCli(['apply', dir, '--target', 'app', '--wait', '--requested-by', 'alice'], t.env);
    await apply.waitFor('waiting for approval');

    const posing = await runCli(['approve', 'signed_cli', '--target', 'app', '--by', 'bob', '--key', s.key.alice!], t.env);
    expect(posing.code).toBe(1);
    expect(posing.output).toMatch(/approve refused: cannot approve: forged: the signature was not made by a key allowed_signers lists for bob \(the key is listed for alice\)/);

    const missing = await runCli(['approve', 'signed_cli', '--target', 'app', '--by', 'bob', '--key', `${s.dir}/no_such_key`], t.env);
    expect(missing.code).toBe(1);
    expect(missing.output).toMatch(/ssh-keygen could not sign with .*no_such_key.*pass --key with an SSH private key file/);

    const bob = await runCli(['approve', 'signed_cli', '--target', 'app', '--by', 'bob', '--key', s.key.bob!], t.env);
    expect(bob.code, bob.output).toBe(0);
    expect(bob.output).toMatch(/approve: sent to signed_cli on 'app' by bob \(signed\)/);
    expect(await apply.exit, apply.output()).toBe(0);
    const audit = await db.query(`select event, actor from godwit.audit_log where migration_id = 'signed_cli' and event in ('APPROVE', 'REFUSED_APPROVE') order by seq`);
    expect(audit.rows).toEqual([
      { event: 'REFUSED_APPROVE', actor: 'bob' },
      { event: 'APPROVE', actor: 'bob' },
    ]);
  });
});
