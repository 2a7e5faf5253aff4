/**
 * The CLI contract a deploy pipeline relies on (DESIGN.md, "CLI contract"): the
 * real `godwit` process against real Postgres and Temporal, judged by its exit
 * code and the key words of what it prints.
 */
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { manifestFrom, setupTemporal, type TestTemporal } from '../helpers/temporal';
import { applyAndWatch, finalState } from '../helpers/migrate';
import { MigrationFailedError } from '../../src/client';
import { closedPort, fixture, godwit, withoutTargets, type GodwitRun } from './run-godwit';

const TARGET = 'app';
let db: TestDatabase;
let t: TestTemporal;

beforeAll(async () => {
  db = await createTestDatabase('godwit_e2e_cli');
  await db.query(`create table users (id bigint generated always as identity primary key, email text)`);
  await db.query(`insert into users (email) values ('a@example.com'), ('b@example.com'), ('c@example.com')`);
  t = await setupTemporal({ [TARGET]: db.url });
  await t.startWorker();
});

afterAll(async () => {
  await t?.close();
  await db?.drop();
});

const apply = (path: string, ...flags: string[]) => godwit(['apply', path, '--target', TARGET, '--wait', ...flags], t.env);

async function columnsOf(table: string): Promise<string[]> {
  const { rows } = await db.query<{ name: string }>(`select column_name as name from information_schema.columns where table_schema = 'public' and table_name = $1 order by 1`, [table]);
  return rows.map((r) => r.name);
}

async function tableExists(name: string): Promise<boolean> {
  const { rows } = await db.query<{ present: boolean }>(`select to_regclass(format('public.%I', $1::text)) is not null as present`, [name]);
  return rows[0]!.present;
}

/** Fails with the process's own output, which says far more than "expected 1 to be 0". */
function expectExit(run: GodwitRun, code: number): void {
  expect(run.code, `exit ${run.code}\nstdout:\n${run.stdout}\nstderr:\n${run.stderr}`).toBe(code);
}

describe('godwit plan', () => {
  it('prints forward and inverse SQL and the touched objects with no server and no database', async () => {
    const env = { ...withoutTargets(t.env), TEMPORAL_ADDRESS: `127.0.0.1:${await closedPort()}` };
    const run = await godwit(['plan', fixture('cli/0101_nickname.yaml')], env);
    expectExit(run, 0);
    expect(run.stdout).toContain('0101_nickname');
    expect(run.stdout).toContain('forward: ALTER TABLE "public"."users" ADD COLUMN "nickname" text');
    expect(run.stdout).toContain('inverse: ALTER TABLE "public"."users" DROP COLUMN "nickname"');
    expect(run.stdout).toMatch(/touches public\.users/);
  });

  it('--json gives each step its forward and inverse SQL', async () => {
    const env = { ...withoutTargets(t.env), TEMPORAL_ADDRESS: `127.0.0.1:${await closedPort()}` };
    const run = await godwit(['plan', fixture('cli/0101_nickname.yaml'), '--json'], env);
    expectExit(run, 0);
    const plan = JSON.parse(run.stdout) as { migrations: { id: string; steps: { forward: { sql: string }[]; inverse: { sql: string }[] | null; touches: string[] }[] }[] };
    const [migration] = plan.migrations;
    expect(migration?.id).toBe('0101_nickname');
    expect(migration?.steps).toHaveLength(1);
    expect(migration?.steps[0]?.forward[0]?.sql).toMatch(/ADD COLUMN "nickname"/);
    expect(migration?.steps[0]?.inverse?.[0]?.sql).toMatch(/DROP COLUMN "nickname"/);
    expect(migration?.steps[0]?.touches).toEqual(['public.users']);
  });
});

describe('godwit apply --wait', () => {
  it('applies a manifest, printing each transition, each step and the Temporal UI link', async () => {
    const run = await apply(fixture('cli/0101_nickname.yaml'));
    expectExit(run, 0);
    expect(run.stdout).toContain('planned → in_progress');
    expect(run.stdout).toContain('in_progress → validated');
    expect(run.stdout).toContain('validated → applied');
    expect(run.stdout).toContain('step 1/1 add_column users.nickname: running');
    expect(run.stdout).toContain('step 1/1 add_column users.nickname: done');
    expect(run.stdout).toContain(`${t.settings.uiUrl}/namespaces/default/workflows/godwit%2Fapp%2F0101_nickname/`);
    expect(await columnsOf('users')).toContain('nickname');
    const row = await db.query(`select state from godwit.migrations where migration_id = '0101_nickname'`);
    expect(row.rows[0]?.state).toBe('applied');
  });

  it('rolls back when a post check fails: exit 2, rolled_back, and equal schema fingerprints', async () => {
    const run = await apply(fixture('cli/0104_score.yaml'));
    expectExit(run, 2);
    expect(run.stdout).toContain('rolled_back');
    expect(run.stdout).toContain('post check failed: every user has a score');
    const fingerprints = [...run.stdout.matchAll(/schema fingerprint (before|after):\s+(sha256:[0-9a-f]{64})/g)].map((m) => m[2]);
    expect(fingerprints).toHaveLength(2);
    expect(fingerprints[0]).toBe(fingerprints[1]);
    expect(await columnsOf('users')).not.toContain('score');
  });

  it('exits 3 when the rollback itself fails, says a human is needed, and resolve closes the run', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'godwit-e2e-'));
    const file = join(dir, '0105_broken_down.yaml');
    writeFileSync(
      file,
      `id: 0105_broken_down
operations:
  - sql: { up: "create table parked (id int)", down: "drop table no_such_table" }
checks:
  post:
    - { name: fails on purpose, sql: select false }
`,
    );
    const run = await apply(file);
    expectExit(run, 3);
    expect(run.stdout).toContain('rollback_failed');
    expect(run.stdout).toMatch(/a human is needed: fix the database, then `godwit retry-rollback 0105_broken_down --target app` or `godwit resolve 0105_broken_down/);
    expect(await tableExists('parked')).toBe(true);

    await db.query('drop table parked');
    const resolved = await godwit(['resolve', '0105_broken_down', '--target', TARGET, '--by', 'oncall', '--note', 'dropped parked by hand'], t.env);
    expectExit(resolved, 0);
    const row = await db.query(`select state from godwit.migrations where migration_id = '0105_broken_down'`);
    expect(row.rows[0]?.state).toBe('resolved_manually');
  });

  it('--json prints parseable JSON with the state of each migration', async () => {
    const run = await apply(fixture('cli/json'), '--json');
    expectExit(run, 0);
    const report = JSON.parse(run.stdout) as { migrations: { migrationId: string; state: string; url: string }[] };
    expect(report.migrations.map((m) => [m.migrationId, m.state])).toEqual([
      ['0105_tags', 'applied'],
      ['0106_tag_color', 'applied'],
    ]);
    expect(report.migrations[0]?.url).toContain('/namespaces/default/workflows/godwit%2Fapp%2F0105_tags/');
    expect(await columnsOf('tags')).toEqual(['color', 'id', 'label']);
  });

  it('says a manifest applied before with the same content was already applied, and exits 0', async () => {
    const first = await apply(fixture('cli/0102_settings.yaml'));
    expectExit(first, 0);
    const second = await apply(fixture('cli/0102_settings.yaml'));
    expectExit(second, 0);
    expect(second.stdout).toMatch(/0102_settings already applied/);
    expect(second.stdout).not.toContain('planned → in_progress');
    const runs = await db.query(`select count(distinct run_id)::int as n from godwit.audit_log where migration_id = '0102_settings'`);
    expect(runs.rows[0]?.n).toBe(1);
  });

  it('refuses an applied manifest whose file changed since: exit 5, naming the migration and godwit verify', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'godwit-e2e-edit-'));
    const file = join(dir, '0103_flags.yaml');
    copyFileSync(fixture('cli/0103_flags.yaml'), file);
    expectExit(await apply(file), 0);

    writeFileSync(file, `${readFileSync(file, 'utf8')}        - { name: enabled, type: boolean }\n`);
    const run = await apply(file);
    expectExit(run, 5);
    expect(run.stderr).toContain('0103_flags');
    expect(run.stderr).toMatch(/was applied to 'app' with checksum sha256:[0-9a-f]{64}, but its file now has sha256:[0-9a-f]{64}/);
    expect(run.stderr).toContain('godwit verify');
    expect(await columnsOf('flags')).toEqual(['name']);
  });
});

describe('godwit apply <directory> --wait', () => {
  let run: GodwitRun;
  beforeAll(async () => {
    run = await apply(fixture('cli/ordered'));
  });

  it('exits 2 when one manifest rolled back', () => {
    expectExit(run, 2);
    expect(run.stdout).toMatch(/stopped: 11_d ended rolled_back; later manifests were not applied/);
  });

  it('runs the manifests in id order, comparing numbers as numbers (2_b before 10_c)', async () => {
    const started = await db.query<{ migration_id: string }>(`select migration_id from godwit.migrations where migration_id in ('2_b', '10_c', '11_d', '12_e') order by started_at`);
    expect(started.rows.map((r) => r.migration_id)).toEqual(['2_b', '10_c', '11_d']);
    const audited = await db.query<{ migration_id: string }>(
      `select migration_id from godwit.audit_log where migration_id in ('2_b', '10_c', '11_d', '12_e') group by migration_id order by min(seq)`,
    );
    expect(audited.rows.map((r) => r.migration_id)).toEqual(['2_b', '10_c', '11_d']);
    expect(run.stdout.indexOf('2_b → app')).toBeLessThan(run.stdout.indexOf('10_c → app'));
  });

  it('stops at the first manifest that does not end applied: later ones are not applied', async () => {
    expect(await tableExists('b_items')).toBe(true);
    expect(await tableExists('c_items')).toBe(true);
    expect(await columnsOf('users')).not.toContain('d_flag');
    expect(await tableExists('e_items')).toBe(false);
    expect(run.stdout).not.toContain('12_e');
  });
});

describe('godwit status', () => {
  type StatusRow = { migrationId: string; state: string; status: string; url: string };

  beforeAll(async () => {
    const ok = await applyAndWatch(t, TARGET, await manifestFrom(`
id: 0107_status_ok
operations:
  - add_column: { table: users, column: { name: status_note, type: text } }
`));
    expect(finalState(ok)).toBe('applied');
    const failing = await applyAndWatch(t, TARGET, await manifestFrom(`
id: 0108_status_fail
operations:
  - add_column: { table: users, column: { name: status_flag, type: boolean } }
checks:
  post:
    - { name: never passes, sql: select false }
`));
    expect(finalState(failing)).toBe('rolled_back');
    // refused while planning: the run fails before it records any transition
    const refused = applyAndWatch(t, TARGET, await manifestFrom(`
id: 0109_status_refused
operations:
  - add_column: { table: no_such_table, column: { name: x, type: text } }
`));
    await expect(refused).rejects.toThrow(MigrationFailedError);
  });

  /** Visibility (search attributes) is updated asynchronously: poll until it shows both runs' final states. */
  async function settledStatus(): Promise<{ run: GodwitRun; rows: StatusRow[] }> {
    for (let attempt = 0; ; attempt++) {
      const run = await godwit(['status', '--target', TARGET, '--json'], t.env);
      expectExit(run, 0);
      const parsed = JSON.parse(run.stdout) as { target: string; migrations: StatusRow[] };
      expect(parsed.target).toBe(TARGET);
      const states = Object.fromEntries(parsed.migrations.map((r) => [r.migrationId, r.state]));
      const settled = states['0107_status_ok'] === 'applied' && states['0108_status_fail'] === 'rolled_back' && states['0109_status_refused'] !== undefined;
      if (settled || attempt >= 20) return { run, rows: parsed.migrations };
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  it('--json lists each migration with its state and link', async () => {
    const { rows } = await settledStatus();
    expect(rows.find((r) => r.migrationId === '0107_status_ok')).toMatchObject({ state: 'applied', url: expect.stringContaining('/workflows/godwit%2Fapp%2F0107_status_ok/') });
    expect(rows.find((r) => r.migrationId === '0108_status_fail')).toMatchObject({ state: 'rolled_back', url: expect.stringContaining('/workflows/godwit%2Fapp%2F0108_status_fail/') });
  });

  it('shows a run refused before it changed anything as failed, not as the planned it started in', async () => {
    const { rows } = await settledStatus();
    expect(rows.find((r) => r.migrationId === '0109_status_refused')).toMatchObject({ state: 'failed', status: 'FAILED' });
  });

  it('lists each migration with its state and the Temporal UI link', async () => {
    await settledStatus();
    const run = await godwit(['status', '--target', TARGET], t.env);
    expectExit(run, 0);
    expect(run.stdout).toContain('target app');
    expect(run.stdout).toMatch(/0107_status_ok\s+applied/);
    expect(run.stdout).toMatch(/0108_status_fail\s+rolled_back/);
    expect(run.stdout).toContain(`${t.settings.uiUrl}/namespaces/default/workflows/godwit%2Fapp%2F0107_status_ok/`);
  });
});
