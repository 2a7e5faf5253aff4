import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { manifestDir, setupTemporal, type TestTemporal } from '../helpers/temporal';
import { runCli } from '../helpers/process';
import { makeSigners, type Signers } from '../helpers/signers';

// `godwit revert` as a pipeline runs it: a request like apply, which the worker checks against
// who may `request` on the target (signed with --key), and an exit code per outcome.
let db: TestDatabase;
let t: TestTemporal;
let s: Signers;

beforeAll(async () => {
  db = await createTestDatabase('godwit_revert_cli');
  await db.query(`create table users (id int primary key, bio text); insert into users select g, 'bio ' || g from generate_series(1, 50) g`);
  s = makeSigners(['deployer', 'mallory']);
  t = await setupTemporal({ app: db.url });
  await t.startWorker({ configFile: s.config(['deployer', 'mallory'], { app: { request: ['deployer'] } }) });
});

afterAll(async () => {
  await t?.close();
  await db?.drop();
});

describe('godwit revert', () => {
  it('refuses an unsigned or unlisted request, reverts a signed one and exits 0; a second revert is refused and exits 1', async () => {
    const dir = manifestDir({ 'a.yaml': 'id: 0001_drop_bio\noperations:\n  - drop_column: { table: users, column: bio }\npolicy: { approval: never }\n' });
    const applied = await runCli(['apply', dir, '--target', 'app', '--wait', '--requested-by', 'deployer', '--key', s.key.deployer!], t.env);
    expect(applied.code, applied.output).toBe(0);

    const unsigned = await runCli(['revert', '0001_drop_bio', '--target', 'app', '--wait', '--requested-by', 'deployer'], t.env);
    expect(unsigned.code).toBe(1);
    expect(unsigned.output).toContain("revert refused: unsigned: the worker requires requests on 'app' to be signed; run `godwit revert 0001_drop_bio --target app --requested-by deployer --key <your ssh key>`");

    const unlisted = await runCli(['revert', '0001_drop_bio', '--target', 'app', '--wait', '--requested-by', 'mallory', '--key', s.key.mallory!], t.env);
    expect(unlisted.code).toBe(1);
    expect(unlisted.output).toContain("unlisted: mallory may not request reverts on 'app'");

    const reverted = await runCli(['revert', '0001_drop_bio', '--target', 'app', '--wait', '--requested-by', 'deployer', '--key', s.key.deployer!], t.env);
    expect(reverted.code, reverted.output).toBe(0);
    expect(reverted.output).toMatch(/revert 0001_drop_bio reverted/);
    expect(reverted.output).toMatch(/0001_drop_bio: schema fingerprint sha256:\w+, expected sha256:\w+ \(equal, as recorded before it ran\)/);
    expect(reverted.output).toContain('restore of public.users.bio: proven: renamed back');
    expect((await db.query(`select count(*)::int as n from users where bio = 'bio ' || id`)).rows[0]).toEqual({ n: 50 });

    const again = await runCli(['revert', '0001_drop_bio', '--target', 'app', '--wait', '--requested-by', 'deployer', '--key', s.key.deployer!], t.env);
    expect(again.code).toBe(1);
    expect(again.output).toContain('migration 0001_drop_bio on \'app\' is reverted, not applied: only an applied migration can be reverted (it already was)');

    const status = await runCli(['status', '--target', 'app', '--json'], t.env);
    const rows = (JSON.parse(status.output.slice(status.output.indexOf('{'), status.output.lastIndexOf('}') + 1)) as { migrations: { migrationId: string; state: string }[] }).migrations;
    expect(rows.find((r) => r.migrationId === '0001_drop_bio')?.state).toBe('reverted');
  });
});
