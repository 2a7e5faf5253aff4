import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { manifestDir, setupTemporal, type TestTemporal } from '../helpers/temporal';
import { runCli } from '../helpers/process';

let db: TestDatabase;
let t: TestTemporal;
let dir: string;

const first = `
id: 1_users_score
operations:
  - add_column: { table: users, column: { name: score, type: int, default: "0" } }
`;

beforeAll(async () => {
  db = await createTestDatabase('godwit_verify');
  await db.query('create table users (id int primary key, email text)');
  t = await setupTemporal({ app: db.url });
  await t.startWorker();
  dir = manifestDir({ '1_users_score.yaml': first });
  const applied = await runCli(['apply', dir, '--target', 'app', '--wait'], t.env);
  expect(applied.code).toBe(0);
});

afterAll(async () => {
  await t?.close();
  await db?.drop();
});

describe('godwit verify', () => {
  it('exits 0 when nothing has drifted', async () => {
    const r = await runCli(['verify', dir, '--target', 'app'], t.env);
    expect(r.output).toMatch(/no drift/);
    expect(r.code).toBe(0);
  });

  it('exits 5 and names the file when an applied manifest was edited', async () => {
    const edited = manifestDir({ '1_users_score.yaml': first.replace('"0"', '"1"') });
    const r = await runCli(['verify', edited, '--target', 'app', '--json'], t.env);
    expect(r.code).toBe(5);
    const report = JSON.parse(r.output) as { changedFiles: { id: string; file: string }[] };
    expect(report.changedFiles).toEqual([expect.objectContaining({ id: '1_users_score', file: join(edited, '1_users_score.yaml') })]);
  });

  it('exits 5 and names the object when the schema was changed by hand', async () => {
    await db.query('alter table users add column sneaky text');
    try {
      const r = await runCli(['verify', dir, '--target', 'app'], t.env);
      expect(r.code).toBe(5);
      expect(r.output).toMatch(/schema drift since 1_users_score/);
      expect(r.output).toMatch(/column public\.users\.sneaky: added/);
    } finally {
      await db.query('alter table users drop column sneaky');
    }
  });

  it('lists pending manifests without calling them drift', async () => {
    writeFileSync(join(dir, '2_more.yaml'), `id: 2_more\noperations:\n  - add_column: { table: users, column: { name: more, type: int } }\n`);
    const r = await runCli(['verify', dir, '--target', 'app'], t.env);
    expect(r.code).toBe(0);
    expect(r.output).toMatch(/pending: 2_more/);
  });

  it('lists the column a destructive migration retired, and prune keeps it until its retention ends', async () => {
    await db.query(`insert into users select g, g || '@x' from generate_series(1, 500) g on conflict do nothing`);
    const drop = manifestDir({ '3_drop_email.yaml': `id: 3_drop_email\noperations:\n  - drop_column: { table: users, column: email }\npolicy: { approval: never }\n` });
    expect((await runCli(['apply', drop, '--target', 'app', '--wait'], t.env)).code).toBe(0);

    const list = await runCli(['snapshots', 'list', '--target', 'app', '--json'], t.env);
    expect(list.code).toBe(0);
    const report = JSON.parse(list.output) as { snapshots: unknown[]; retired: { migrationId: string; kind: string; source: string; runState: string }[] };
    expect(report.snapshots).toEqual([]);
    expect(report.retired).toEqual([expect.objectContaining({ migrationId: '3_drop_email', kind: 'column', source: 'public.users.email', runState: 'applied' })]);

    const prune = await runCli(['snapshots', 'prune', '--target', 'app'], t.env);
    expect(prune.code).toBe(0);
    expect(prune.output).toMatch(/purged 0 retired column\(s\) and table\(s\)/);
    expect(prune.output).toMatch(/1 retired column\(s\) and table\(s\)\n {2}column public\.users\.email, now _godwit_retired_[0-9a-f]{16} {2}3_drop_email step 1-drop_column, kept until /);
    // The retired column is no drift: for the schema it is gone.
    expect((await runCli(['verify', drop, '--target', 'app'], t.env)).code).toBe(0);
  });
});
