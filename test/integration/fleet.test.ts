import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { manifestDir, setupTemporal, type TestTemporal } from '../helpers/temporal';
import { takeWitness, type Witness } from '../helpers/witness';
import { fleetStatusCommand, releaseCommand } from '../../src/cli/commands/release';
import { ExitCode } from '../../src/cli/exit-codes';
import { migrationWorkflowId } from '../../src/contract/migration';
import { fleetReleaseId } from '../../src/contract/release';
import { loadManifests } from '../../src/manifest';
import { releaseManifests, startRelease, watchRelease } from '../../src/client/release';
import { revertWorkflowId } from '../../src/contract/revert';

// Releases across fleets of real databases: every target's state is read from outside
// Godwit (catalog queries, pg_dump and EXCEPT ALL through test/helpers/witness.ts), with an
// application inserting into every target while the release runs.

const GOOD = 20;
const ROWS = 200;
const good = Array.from({ length: GOOD }, (_v, i) => `t${String(i + 1).padStart(2, '0')}`);
const dbs = new Map<string, TestDatabase>();
let t: TestTemporal;
let configFile: string;
const lines: string[] = [];
const out = (line: string) => lines.push(line);
const cli = () => ({ address: t.settings.address, namespace: t.settings.namespace, taskQueue: t.settings.taskQueue, uiUrl: t.settings.uiUrl, requestedBy: 'ci' });
const db = (name: string) => dbs.get(name)!;

const FLEETS = `
fleets:
  all:
    targets: [${good.join(', ')}]
    canary: [t01]
    max_parallel: 4
  halting:
    targets: [t01, t02, t03, bad, t04, t05, t06, t07, t08]
    canary: [t01]
    max_parallel: 1
    failure_threshold: 1
  bad-canary:
    targets: [t11, t12, t13, t14, bad]
    canary: [bad]
    max_parallel: 4
  with-ghost:
    targets: [t01, ghost, t02]
`;

beforeAll(async () => {
  const names = [...good, 'bad', 'solo'];
  // One at a time: this server allows 100 connections, and other test files share it.
  for (const name of names) {
    const d = await createTestDatabase(`godwit_fleet_${name}`);
    dbs.set(name, d);
    await d.query(`create table accounts (id int primary key, email text); insert into accounts select g, 'User' || g || '@x' from generate_series(1, ${ROWS}) g`);
  }
  // Two accounts whose emails differ only in case: a unique index on lower(email) fails here, and only here.
  await db('bad').query(`insert into accounts values (${ROWS + 1}, 'user1@X')`);
  const ghost = new URL(db('solo').url);
  ghost.pathname = '/godwit_fleet_no_such_database';
  t = await setupTemporal({ ...Object.fromEntries([...dbs].map(([n, d]) => [n, d.url])), ghost: ghost.toString() });
  await t.startWorker();
  configFile = join(mkdtempSync(join(tmpdir(), 'godwit-fleet-config-')), 'godwit.yaml');
  writeFileSync(configFile, FLEETS);
  process.env.GODWIT_CONFIG = configFile;
}, 600_000);

afterAll(async () => {
  delete process.env.GODWIT_CONFIG;
  await t?.close();
  await Promise.all([...dbs.values()].map((d) => d.drop()));
});

beforeEach(() => {
  lines.length = 0;
});

const normalise = (id: string) => `
id: ${id}
description: a normalised email, unique
operations:
  - add_column: { table: accounts, column: { name: email_norm, type: text } }
  - backfill: { table: accounts, set: { email_norm: "lower(email)" }, batch_size: 50 }
  - create_index: { table: accounts, columns: [email_norm], unique: true, concurrently: true }
policy: { approval: never }
`;

async function column(target: string, name: string): Promise<boolean> {
  const r = await db(target).query(`select 1 from pg_attribute where attrelid = 'public.accounts'::regclass and attname = $1 and not attisdropped`, [name]);
  return r.rowCount === 1;
}

async function recorded(target: string, id: string): Promise<string[]> {
  const schema = await db(target).query(`select to_regclass('godwit.migrations') is not null as present`);
  if (!schema.rows[0]!.present) return [];
  const r = await db(target).query<{ state: string }>('select state from godwit.migrations where migration_id = $1 order by started_at', [id]);
  return r.rows.map((x) => x.state);
}

/** The application: one connection per target inserting accounts one by one until stopped; returns the ids each target committed. */
let writerRound = 0;
function startWriters(targets: string[]) {
  writerRound++;
  let running = true;
  const committed = new Map<string, number[]>(targets.map((n) => [n, []]));
  const errors: string[] = [];
  const loops = targets.map(async (name, n) => {
    const c = new pg.Client({ connectionString: db(name).url });
    c.on('error', () => undefined);
    await c.connect();
    let id = (writerRound + 1) * 1_000_000 + n * 10_000; // ids no earlier writer used on any target
    try {
      while (running) {
        id++;
        try {
          await c.query(`insert into accounts (id, email) values ($1::int, 'app' || $1::text || '@x')`, [id]);
          committed.get(name)!.push(id);
        } catch (err) {
          errors.push(`${name}: ${(err as Error).message}`);
        }
        await new Promise((r) => setTimeout(r, 25));
      }
    } finally {
      await c.end();
    }
  });
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
      return { committed, errors };
    },
  };
}

/** Every row the application committed is there, once. */
async function expectNoWriteLost(committed: Map<string, number[]>): Promise<void> {
  for (const [name, ids] of committed) {
    const r = await db(name).query<{ n: number }>('select count(*)::int as n from accounts where id = any($1::int[])', [ids]);
    expect(r.rows[0]!.n, name).toBe(ids.length);
  }
}

describe('releases across a fleet', () => {
  it('applies one migration to a fleet of 20 databases, canary first, continuing as new along the way; status --fleet shows it', async () => {
    const dir = manifestDir({ '0001_email_norm.yaml': normalise('0001_email_norm') });
    // The application on every fourth target (connections are few: max_connections is 100 here).
    const writers = startWriters(good.filter((_n, i) => i % 4 === 0));
    const code = await releaseCommand(dir, { ...cli(), fleet: 'all', wait: true, childrenPerRun: 8 }, out);
    const { committed, errors } = await writers.stop();
    expect(code, lines.join('\n')).toBe(ExitCode.applied);
    expect(errors).toEqual([]);
    const text = lines.join('\n');
    // The canary's run closed before any other target's started (Temporal's own times), and the output says so in that order.
    const runs = await Promise.all(good.map((n) => t.client.workflow.getHandle(migrationWorkflowId(n, '0001_email_norm')).describe()));
    const canaryClosed = runs[0]!.closeTime!.getTime();
    for (const r of runs.slice(1)) expect(r.startTime.getTime(), r.workflowId).toBeGreaterThanOrEqual(canaryClosed);
    const canaryApplied = lines.findIndex((l) => l.includes('t01 (canary): applied'));
    const firstOther = lines.findIndex((l) => /^ {2}t(0[2-9]|1\d|20): running/.test(l));
    expect(canaryApplied).toBeGreaterThan(-1);
    expect(firstOther).toBeGreaterThan(canaryApplied);
    expect(text).toContain(`applied: 20 (t01, t02`);
    expect(text).toMatch(/release .*applied/);
    for (const name of good) {
      expect(await column(name, 'email_norm'), name).toBe(true);
      const idx = await db(name).query(`select indisunique, indisvalid from pg_index where indexrelid = to_regclass('public.accounts_email_norm_idx')`);
      expect(idx.rows[0], name).toEqual({ indisunique: true, indisvalid: true });
      expect(await recorded(name, '0001_email_norm'), name).toEqual(['applied']);
    }
    await expectNoWriteLost(committed);

    lines.length = 0;
    await fleetStatusCommand({ ...cli(), fleet: 'all' }, out);
    expect(lines.join('\n')).toMatch(/fleet all[\s\S]*applied[\s\S]*20 targets: 20 applied/);
  });

  it('halts at the threshold when a non-canary target fails, and rolls back every target it applied, newest first: pg_dump and rows as before', async () => {
    const targets = ['t01', 't02', 't03', 'bad', 't04', 't05', 't06', 't07', 't08'];
    const witnesses = new Map<string, Witness>();
    for (const name of targets) witnesses.set(name, await takeWitness(db(name).url));
    const dir = manifestDir({ '0002_lower_email.yaml': normalise('0002_lower_email').replace(/email_norm/g, 'email_lower') });
    const writers = startWriters(targets);
    const code = await releaseCommand(dir, { ...cli(), fleet: 'halting', wait: true }, out);
    const { committed, errors } = await writers.stop();
    const text = lines.join('\n');
    expect(code, text).toBe(ExitCode.rolledBack);
    expect(errors).toEqual([]);
    expect(text).toMatch(/bad: rolled_back: 0002_lower_email: /);
    expect(text).toContain('not started: 5 (t04, t05, t06, t07, t08)');
    expect(text).toMatch(/release rolled_back: 1 target\(s\) failed, the threshold is 1 \(last: bad: /);

    // From outside: each target's schema (pg_dump) and rows (EXCEPT ALL) are as before, but for the application's own inserts.
    for (const name of targets) {
      const diffs = await witnesses.get(name)!.differences();
      const inserted = committed.get(name)!.length;
      expect(diffs, name).toEqual(inserted === 0 ? [] : [`data of "public"."accounts": ${inserted} rows only after, 0 rows only before`]);
      expect(await column(name, 'email_lower'), name).toBe(false);
    }
    await expectNoWriteLost(committed);
    // Applied ones were reverted; the failed one rolled back by itself; the rest never ran.
    expect(await recorded('t01', '0002_lower_email')).toEqual(['reverted']);
    expect(await recorded('bad', '0002_lower_email')).toEqual(['rolled_back']);
    expect(await recorded('t08', '0002_lower_email')).toEqual([]);
    // Newest first: t03's revert ran before t02's, and t02's before the canary's.
    const reverts = await Promise.all(['t03', 't02', 't01'].map((n) => t.client.workflow.getHandle(revertWorkflowId(n, '0002_lower_email')).describe()));
    expect(reverts[0]!.closeTime!.getTime()).toBeLessThanOrEqual(reverts[1]!.startTime.getTime());
    expect(reverts[1]!.closeTime!.getTime()).toBeLessThanOrEqual(reverts[2]!.startTime.getTime());
    // The release's run is listed Failed in the UI, carrying its result: status --fleet still reads it.
    const release = t.client.workflow.getHandle(fleetReleaseId('halting', '0002_lower_email'));
    expect((await release.describe()).status.name).toBe('FAILED');
    const failure = await release.result().then(
      () => null,
      (err: { cause?: { type?: string; details?: unknown[] } }) => err.cause,
    );
    expect(failure?.type).toBe('ReleaseRolledBack');
    expect(failure?.details?.[0]).toMatchObject({ outcome: 'rolled_back', state: 'rolled_back' });
    lines.length = 0;
    await fleetStatusCommand({ ...cli(), fleet: 'halting' }, out);
    expect(lines.join('\n')).toMatch(/fleet halting[\s\S]*\(failed, started [\s\S]*rolled_back: 1 target\(s\) failed/);
  });

  it('stops at a failing canary before any other target is touched', async () => {
    const dir = manifestDir({ '0003_lower_email.yaml': normalise('0003_lower_email').replace(/email_norm/g, 'email_l3') });
    const code = await releaseCommand(dir, { ...cli(), fleet: 'bad-canary', wait: true }, out);
    const text = lines.join('\n');
    expect(code, text).toBe(ExitCode.rolledBack);
    expect(text).toMatch(/release rolled_back: canary bad failed/);
    expect(text).toContain('not started: 4 (t11, t12, t13, t14)');
    for (const name of ['t11', 't12', 't13', 't14']) {
      // No run, no audit entry, no column: Temporal and the database alike never saw it.
      await expect(t.client.workflow.getHandle(migrationWorkflowId(name, '0003_lower_email')).describe()).rejects.toThrow(/not found/i);
      const audit = await db(name).query(`select count(*)::int as n from godwit.audit_log where migration_id = '0003_lower_email'`);
      expect(audit.rows[0]!.n, name).toBe(0);
      expect(await column(name, 'email_l3'), name).toBe(false);
    }
  });

  it('moves on when a target\'s rollback fails: the others are reverted, and the release names the target that needs a person', async () => {
    const targets = ['t15', 't16', 't17', 't18'];
    const witnesses = new Map<string, Witness>();
    for (const name of targets) witnesses.set(name, await takeWitness(db(name).url));
    const loaded = await loadManifests(manifestDir({ '0005_two.yaml': `id: 0005_two\noperations:\n  - add_column: { table: accounts, column: { name: x5, type: int } }\n  - add_column: { table: accounts, column: { name: y5, type: int } }\npolicy: { approval: never }\n` }));
    const handle = await startRelease(t.client, t.settings, fleetReleaseId('stuck', '0005_two'), {
      fleet: 'stuck',
      targets,
      canaries: ['t15'],
      maxParallel: 1,
      failureThreshold: 1,
      manifests: await releaseManifests(loaded, 'ci'),
      requestedBy: 'ci',
      // t17: step 2 fails, and so does the undo of step 1: its run waits in rollback_failed.
      faults: [{ target: 't17', faults: { failAtStep: 2, failCompensationOfStep: 1 } }],
    });
    const result = await watchRelease(handle, () => undefined);
    expect(result.state).toBe('rollback_failed');
    const stuck = result.targets.find((x) => x.target === 't17')!;
    expect(stuck.status).toBe('needs_person');
    expect(stuck.reason).toMatch(/0005_two waits in rollback_failed: `godwit retry-rollback 0005_two --target t17`/);
    expect(result.targets.map((x) => [x.target, x.status])).toEqual([['t15', 'rolled_back'], ['t16', 'rolled_back'], ['t17', 'needs_person'], ['t18', 'not_started']]);
    // Its run is still open, for a person; the others are as before, from outside.
    expect((await t.client.workflow.getHandle(migrationWorkflowId('t17', '0005_two')).describe()).status.name).toBe('RUNNING');
    for (const name of ['t15', 't16', 't18']) expect(await witnesses.get(name)!.differences(), name).toEqual([]);
    await witnesses.get('t17')!.close();
    expect(await column('t17', 'x5')).toBe(true);
  });

  it('touches no target when one cannot be reached at the start, and names it', async () => {
    const dir = manifestDir({ '0004_note.yaml': `id: 0004_note\noperations:\n  - add_column: { table: accounts, column: { name: note4, type: text } }\npolicy: { approval: never }\n` });
    await expect(releaseCommand(dir, { ...cli(), fleet: 'with-ghost', wait: true }, out)).rejects.toThrow(
      /release of 0004_note was not started: the release touched no target: 1 of 3 cannot be reached: ghost \(cannot reach Postgres for target 'ghost': .*\)\. Fix them or take them out of fleet with-ghost in godwit\.yaml/,
    );
    for (const name of ['t01', 't02']) {
      expect(await column(name, 'note4'), name).toBe(false);
      expect(await recorded(name, '0004_note'), name).toEqual([]);
    }
  });

  it('--atomic on a directory: when manifest 3 fails it rolls back, and 2 then 1 are reverted; pg_dump and rows as before', async () => {
    const witness = await takeWitness(db('solo').url);
    const dir = manifestDir({
      '0011_a.yaml': `id: 0011_a\noperations:\n  - add_column: { table: accounts, column: { name: a, type: int, default: "1" } }\npolicy: { approval: never }\n`,
      '0012_b.yaml': `id: 0012_b\noperations:\n  - create_table: { table: b, columns: [{ name: id, type: int, primary_key: true }] }\n  - backfill: { table: accounts, set: { email: "upper(email)" }, where: "id % 2 = 0", batch_size: 50 }\npolicy: { approval: never }\n`,
      '0013_c.yaml': `id: 0013_c\noperations:\n  - add_column: { table: accounts, column: { name: c, type: int } }\n  - sql: { up: "select 1/0", down: "select 1" }\npolicy: { approval: never }\n`,
    });
    const writers = startWriters(['solo']);
    const code = await releaseCommand(dir, { ...cli(), target: 'solo', atomic: true, wait: true }, out);
    const { committed, errors } = await writers.stop();
    const text = lines.join('\n');
    expect(code, text).toBe(ExitCode.rolledBack);
    expect(errors).toEqual([]);
    expect(text).toMatch(/solo: rolled_back: 0013_c: .*division by zero.*\[rollback of 0013_c proven, revert of 0012_b proven, revert of 0011_a proven\]/);
    const inserted = committed.get('solo')!.length;
    expect(await witness.differences()).toEqual(inserted === 0 ? [] : [`data of "public"."accounts": ${inserted} rows only after, 0 rows only before`]);
    await expectNoWriteLost(committed);
    expect(await recorded('solo', '0011_a')).toEqual(['reverted']);
    expect(await recorded('solo', '0012_b')).toEqual(['reverted']);
    expect(await recorded('solo', '0013_c')).toEqual(['rolled_back']);
  });
});
