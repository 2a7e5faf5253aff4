import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { directCalls } from '../helpers/direct';
import { applyAndWatch, finalState, fingerprintOf } from '../helpers/migrate';
import { schemaDump } from '../helpers/witness';
import { manifestFrom, setupTemporal, type TestTemporal } from '../helpers/temporal';
import { createActivities } from '../../activities';
import { manageSnapshots, startMigration, watchMigration } from '../../src/client';
import { diffFingerprints } from '../../src/db/fingerprint';
import { introspectSchema } from '../../src/db/introspect';
import { TargetPools } from '../../src/db/pool';
import { pruneSnapshots, retiredName } from '../../src/db/snapshots';
import type { PlannedStep } from '../../src/operations/types';
import { retryRollbackSignal, stateQuery } from '../../src/contract/messages';

// Destroy late: drop_column and drop_table rename what they drop out of the application's way
// and rename it back on rollback; `godwit snapshots prune` drops it for real once the
// migration is applied and its retention is over. Checked with an application writing
// throughout, against copies of the data taken before, independently of Godwit's own proofs.

let db: TestDatabase;
let pools: TargetPools;
let acts: ReturnType<typeof createActivities>;
let t: TestTemporal;
const { withClient, plan: planYaml, stepInput } = directCalls(() => db.url);

async function plan(operations: string): Promise<PlannedStep[]> {
  return planYaml(`id: m1\noperations:\n${operations}\n`);
}

/** Column names of a table, in order. */
async function columnsOf(table: string): Promise<string[]> {
  const { rows } = await db.query<{ name: string }>(
    `select attname as name from pg_attribute where attrelid = $1::regclass and attnum > 0 and not attisdropped order by attnum`,
    [table],
  );
  return rows.map((r) => r.name);
}

/** Rows of `query` missing from or extra in `copy` (a table holding the same columns): both empty when equal as multisets. */
async function multisetDiff(copy: string, query: string): Promise<{ missing: number; extra: number }> {
  const { rows } = await db.query<{ missing: number; extra: number }>(
    `select (select count(*) from (table ${copy} except all ${query}) x)::int as missing, (select count(*) from (${query} except all table ${copy}) x)::int as extra`,
  );
  return rows[0]!;
}

beforeAll(async () => {
  db = await createTestDatabase('godwit_retire');
  pools = new TargetPools(() => db.url);
  acts = createActivities({ pools });
  t = await setupTemporal({ ra: db.url, rb: db.url, rc: db.url, rd: db.url, re: db.url });
  await t.startWorker();
});

afterAll(async () => {
  await t?.close();
  await pools?.close();
  await db?.drop();
});

describe('drop_column retires the column, step by step', () => {
  it('renames it out of the way and back, exactly, with its index and constraint', async () => {
    await db.query(`
      drop table if exists people cascade;
      create table people (id int primary key, bio text constraint bio_short check (length(bio) < 100), n int not null default 0);
      create index people_bio_idx on people (bio);
      comment on column people.bio is 'about';
      insert into people select g, 'bio ' || g, g from generate_series(1, 1000) g;
      drop table if exists people_before; create table people_before as table people;`);
    const fingerprint = await fingerprintOf(db.url);
    const dump = await schemaDump(db.url);
    const [step] = await plan('  - drop_column: { table: people, column: bio }');
    expect(step!.retire).toEqual([{ kind: 'column', schema: 'public', table: 'people', column: 'bio' }]);
    expect(step!.snapshots).toBeUndefined();
    const input = await stepInput(step!);
    await acts.runStep(input);

    const retired = retiredName({ migrationId: 'm1', runId: input.runId, stepId: step!.id }, 0);
    expect(await columnsOf('people')).toEqual(['id', retired, 'n']);
    // The application's inserts without it work; the index and the check stay on it.
    await db.query('insert into people (id, n) values (1001, 1)');
    expect((await db.query(`select indexdef from pg_indexes where indexname = 'people_bio_idx'`)).rows[0]!.indexdef).toContain(retired);
    // For planning, the column is gone; its index stays (its name is taken) and names the retired column.
    const model = await withClient((c) => introspectSchema(c));
    expect(Object.keys(model.tables['public.people']!.columns)).toEqual(['id', 'n']);
    expect(model.indexes['public.people_bio_idx']?.definition).toContain(retired);
    const retiredFingerprint = await fingerprintOf(db.url);
    expect(retiredFingerprint.entries.filter((e) => e.includes('people.bio') || e.includes('people_bio'))).toEqual([]);

    await acts.compensateStep(input);
    expect(await columnsOf('people')).toEqual(['id', 'bio', 'n']);
    expect((await fingerprintOf(db.url)).hash).toBe(fingerprint.hash);
    expect(await schemaDump(db.url)).toEqual(dump);
    expect(await multisetDiff('people_before', 'select * from people where id <= 1000')).toEqual({ missing: 0, extra: 0 });
    expect((await db.query('select bio from people where id = 1001')).rows).toEqual([{ bio: null }]);
    const record = await db.query(`select restored_at is not null as restored, purged_at from godwit.retired where retired_name = $1`, [retired]);
    expect(record.rows).toEqual([{ restored: true, purged_at: null }]);
  });

  it.each([
    ['a view', 'create view v as select id, bio from people', 'view v'],
    ['a trigger on it', `create function t() returns trigger language plpgsql as $$ begin return new; end $$;
       create trigger tr before update of bio on people for each row execute function t()`, 'trigger tr on table people'],
    ['a policy', 'create policy p on people using (bio is not null)', 'policy p on table people'],
  ])('refuses, as DROP COLUMN would, when %s depends on it, and leaves everything as it was', async (_what, setup, dependent) => {
    await db.query(`drop table if exists people cascade; drop function if exists t();
      create table people (id int primary key, bio text); ${setup}`);
    const fingerprint = await fingerprintOf(db.url);
    const dump = await schemaDump(db.url);
    const [step] = await plan('  - drop_column: { table: people, column: bio }');
    const err = await acts.runStep(await stepInput(step!)).catch((e: unknown) => e as Error);
    expect((err as Error).message).toContain(`cannot drop column bio of table people because ${dependent} depends on it`);
    expect((err as Error).message).toContain('a real DROP COLUMN would refuse too');
    expect((await fingerprintOf(db.url)).hash).toBe(fingerprint.hash);
    expect(await schemaDump(db.url)).toEqual(dump);
    expect(await columnsOf('people')).toEqual(['id', 'bio']);
  });
});

describe('drop_table retires the table, step by step', () => {
  it('moves it into godwit_retired and back, exactly; two retired tables may share index and sequence names', async () => {
    await db.query(`
      drop schema if exists a cascade; drop schema if exists b cascade; create schema a; create schema b;
      create table a.events (id int generated always as identity primary key, s serial, k text unique, at timestamptz default now());
      create table b.events (id int generated always as identity primary key, s serial, k text unique, at timestamptz default now());
      create index events_at on a.events (at); create index events_at on b.events (at);
      comment on table a.events is 'events of a';
      insert into a.events (k) select 'a' || g from generate_series(1, 500) g;
      insert into b.events (k) select 'b' || g from generate_series(1, 300) g;
      drop table if exists events_before; create table events_before as select * from a.events;`);
    const fingerprint = await fingerprintOf(db.url);
    const dump = await schemaDump(db.url);
    const steps = await plan('  - drop_table: { table: a.events }\n  - drop_table: { table: b.events }');
    const first = await stepInput(steps[0]!);
    const inputs = steps.map((step) => ({ ...first, step }));
    for (const input of inputs) await acts.runStep(input);
    expect(await db.query(`select to_regclass('a.events') is null and to_regclass('b.events') is null as gone`)).toMatchObject({ rows: [{ gone: true }] });
    const moved = await db.query<{ n: number }>(`select count(*)::int as n from pg_class where relnamespace = 'godwit_retired'::regnamespace and relkind = 'r'`);
    expect(moved.rows[0]!.n).toBeGreaterThanOrEqual(2);
    for (const input of inputs.reverse()) await acts.compensateStep(input);
    expect((await fingerprintOf(db.url)).hash).toBe(fingerprint.hash);
    expect(await schemaDump(db.url)).toEqual(dump);
    expect(await multisetDiff('events_before', 'select * from a.events')).toEqual({ missing: 0, extra: 0 });
    // The sequences carry on from where they were.
    await db.query(`insert into a.events (k) values ('next')`);
    expect((await db.query(`select id, s from a.events where k = 'next'`)).rows).toEqual([{ id: 501, s: 501 }]);
  });

  it.each([
    ['a view reads it', 'create view v as select * from legacy', 'view v'],
    ['a function takes its row type', 'create function f(legacy) returns int language sql as $$ select 1 $$', 'function f(legacy)'],
  ])('refuses, as DROP TABLE would, when %s', async (_what, setup, dependent) => {
    await db.query(`drop table if exists legacy cascade; create table legacy (id int primary key); ${setup}`);
    const [step] = await plan('  - drop_table: { table: legacy }');
    const err = await acts.runStep(await stepInput(step!)).catch((e: unknown) => e as Error);
    expect((err as Error).message).toContain(`cannot drop table legacy because ${dependent} depends on it`);
    expect(await db.query(`select to_regclass('public.legacy') is not null as there`)).toMatchObject({ rows: [{ there: true }] });
  });
});

/**
 * The application: one connection writing in a loop, each statement on its own, until
 * stopped. It never names what the migration drops. Its lock_timeout is a little more than
 * the policy's, so a statement that waits on Godwit longer than Godwit may wait itself fails
 * and is counted.
 */
interface WriterReport {
  inserted: number[];
  /** How many increments each existing row got from the writer. */
  hits: Map<number, number>;
  failures: string[];
  statements: number;
  slowestMs: number;
}

function startWriter(url: string, lockTimeout: string, existing: number, write: { insert: string; update: string }): { stop(): Promise<WriterReport> } {
  const report: WriterReport = { inserted: [], hits: new Map(), failures: [], statements: 0, slowestMs: 0 };
  let running = true;
  const done = (async () => {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    await c.query(`set lock_timeout = '${lockTimeout}'`);
    try {
      for (let i = 0; running; i++) {
        const started = performance.now();
        try {
          if (i % 2 === 0) {
            const { rows } = await c.query<{ id: number }>(write.insert, [i]);
            report.inserted.push(Number(rows[0]!.id));
          } else {
            const id = 1 + (i % existing);
            await c.query(write.update, [id]);
            report.hits.set(id, (report.hits.get(id) ?? 0) + 1);
          }
        } catch (err) {
          report.failures.push((err as Error).message);
        }
        report.statements++;
        report.slowestMs = Math.max(report.slowestMs, performance.now() - started);
      }
    } finally {
      await c.end();
    }
  })();
  return {
    async stop() {
      running = false;
      await done;
      return report;
    },
  };
}

async function hitsOf(table: string, upTo: number): Promise<Map<number, number>> {
  const { rows } = await db.query<{ id: number; hits: number }>(`select id::int, hits from ${table} where id <= $1 and hits > 0`, [upTo]);
  return new Map(rows.map((r) => [r.id, r.hits]));
}

/** Waits until the run's current step is step `n`. */
async function waitForStep(handle: Awaited<ReturnType<typeof startMigration>>, n: number): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const p = await handle.query(stateQuery).catch(() => null);
    if (p?.currentStep?.startsWith(`${n}.`)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`step ${n} never started`);
}

const ACCOUNTS = 2000;
// Destructive, so approval: auto would wait for a person: approval: never, as an ungated pipeline would.
const POLICY = `policy:\n  lock_timeout: 1s\n  approval: never\n`;
const WRITER_LOCK_TIMEOUT = '1200ms';

describe('a migration that retires, with the application writing throughout', () => {
  it('(a) drop_column then a failure: rolled back, every original value back, every write of the application kept', async () => {
    await db.query(`
      drop table if exists accounts cascade;
      create table accounts (
        id bigint generated by default as identity primary key,
        bio text,
        tier text not null default 'basic',
        hits int not null default 0,
        note text);
      create index accounts_tier_idx on accounts (tier);
      insert into accounts (id, bio, tier, note)
        select g, case when g % 5 = 0 then null else 'bio ' || g end, case when g % 3 = 0 then 'pro' else 'basic' end, 'n' || g
          from generate_series(1, ${ACCOUNTS}) g;
      select setval(pg_get_serial_sequence('accounts', 'id'), ${ACCOUNTS});
      drop table if exists accounts_before; create table accounts_before as select id, bio, tier from accounts;`);
    const fingerprint = await fingerprintOf(db.url);
    const dump = await schemaDump(db.url);
    const writer = startWriter(db.url, WRITER_LOCK_TIMEOUT, ACCOUNTS, {
      insert: `insert into accounts (note) values ('app ' || $1::int) returning id`,
      update: 'update accounts set hits = hits + 1, note = note || $1::text where id = $1',
    });
    const outcome = await applyAndWatch(
      t,
      'ra',
      await manifestFrom(`id: retire_a
operations:
  - drop_column: { table: accounts, column: bio }
  - drop_column: { table: accounts, column: tier }
  - sql: { up: "select pg_sleep(2)", down: "select 1" }
checks:
  post:
    - { name: fails on purpose, sql: select false }
${POLICY}`),
    );
    await new Promise((r) => setTimeout(r, 300));
    const report = await writer.stop();

    expect(finalState(outcome)).toBe('rolled_back');
    const proof = outcome.kind === 'finished' ? outcome.result.rollback : null;
    expect(proof?.restores?.map((r) => [r.kind, r.source, r.equal])).toEqual([
      ['retired', 'public.accounts.tier', true],
      ['retired', 'public.accounts.bio', true],
    ]);
    expect((await fingerprintOf(db.url)).hash).toBe(fingerprint.hash);
    expect(await schemaDump(db.url)).toEqual(dump);
    // Independently of Godwit: every original value is back, and nothing else came back.
    expect(await multisetDiff('accounts_before', `select id, bio, tier from accounts where id <= ${ACCOUNTS}`)).toEqual({ missing: 0, extra: 0 });
    // The application's rows are all there, with NULL and the default in the retired columns.
    expect(report.failures).toEqual([]);
    expect(report.inserted.length).toBeGreaterThan(20);
    const theirs = await db.query<{ n: number }>(`select count(*)::int as n from accounts where id = any($1) and bio is null and tier = 'basic'`, [report.inserted]);
    expect(theirs.rows[0]!.n).toBe(report.inserted.length);
    expect(await hitsOf('accounts', ACCOUNTS)).toEqual(report.hits);
    console.log(`(a) writer: ${report.statements} statements, slowest ${report.slowestMs.toFixed(0)} ms, none failed`);
  });

  it('(b) drop_table then a failure: rolled back, the table back with every row, the application writing another table unhindered', async () => {
    await db.query(`
      drop table if exists legacy cascade; drop table if exists accounts cascade;
      create table accounts (id bigint generated by default as identity primary key, hits int not null default 0, note text);
      insert into accounts (id, note) select g, 'n' || g from generate_series(1, ${ACCOUNTS}) g;
      select setval(pg_get_serial_sequence('accounts', 'id'), ${ACCOUNTS});
      create table legacy (id serial primary key, account_id bigint references accounts (id), payload jsonb, at timestamptz not null default now());
      create index legacy_at_idx on legacy (at);
      insert into legacy (account_id, payload, at) select 1 + g % ${ACCOUNTS}, jsonb_build_object('g', g), '2026-01-01'::timestamptz + g * interval '1s' from generate_series(1, 5000) g;
      drop table if exists legacy_before; create table legacy_before as table legacy;`);
    const fingerprint = await fingerprintOf(db.url);
    const dump = await schemaDump(db.url);
    const writer = startWriter(db.url, WRITER_LOCK_TIMEOUT, ACCOUNTS, {
      insert: `insert into accounts (note) values ('app ' || $1::int) returning id`,
      update: 'update accounts set hits = hits + 1 where id = $1',
    });
    const outcome = await applyAndWatch(
      t,
      'rb',
      await manifestFrom(`id: retire_b
operations:
  - drop_table: { table: legacy }
  - sql: { up: "select pg_sleep(2)", down: "select 1" }
checks:
  post:
    - { name: fails on purpose, sql: select false }
${POLICY}`),
    );
    await new Promise((r) => setTimeout(r, 300));
    const report = await writer.stop();

    expect(finalState(outcome)).toBe('rolled_back');
    expect((await fingerprintOf(db.url)).hash).toBe(fingerprint.hash);
    expect(await schemaDump(db.url)).toEqual(dump);
    expect(await multisetDiff('legacy_before', 'select * from legacy')).toEqual({ missing: 0, extra: 0 });
    expect(report.failures).toEqual([]);
    const theirs = await db.query<{ n: number }>(`select count(*)::int as n from accounts where id = any($1)`, [report.inserted]);
    expect(theirs.rows[0]!.n).toBe(report.inserted.length);
    expect(await hitsOf('accounts', ACCOUNTS)).toEqual(report.hits);
    // Its sequence carries on from where it was.
    expect((await db.query(`insert into legacy (payload) values ('{}') returning id`)).rows).toEqual([{ id: 5001 }]);
    console.log(`(b) writer: ${report.statements} statements, slowest ${report.slowestMs.toFixed(0)} ms, none failed`);
  });
});

describe('(c) purging what an applied migration retired', () => {
  it('waits for the migration to be applied and for its retention to end, then drops it without changing the fingerprint', async () => {
    await db.query(`
      drop table if exists profiles cascade;
      create table profiles (id int primary key, bio text, n int);
      create index profiles_bio_idx on profiles (bio);
      insert into profiles select g, 'bio ' || g, g from generate_series(1, 1000) g;`);
    const loaded = await manifestFrom(`id: retire_c\noperations:\n  - drop_column: { table: profiles, column: bio }\npolicy:\n  bake_seconds: 3\n  approval: never\n`);
    const handle = await startMigration(t.client, t.settings, { target: 'rc', loaded, requestedBy: 'test' });
    for (let i = 0; ; i++) {
      const p = await handle.query(stateQuery).catch(() => null);
      if (p?.state === 'validated') break;
      if (i > 400) throw new Error('never reached its bake window');
      await new Promise((r) => setTimeout(r, 50));
    }
    const { rows } = await db.query<{ name: string }>(`select retired_name as name from godwit.retired where migration_id = 'retire_c'`);
    const retired = rows[0]!.name;
    const present = async () => (await columnsOf('profiles')).includes(retired);
    const expire = () => db.query(`update godwit.retired set retain_until = now() - interval '1 second' where retired_name = $1`, [retired]);

    // Baking: it may still be rolled back, so it stays whatever its retention says.
    await expire();
    expect((await withClient((c) => pruneSnapshots(c))).purged).toEqual([]);
    expect(await present()).toBe(true);

    expect(finalState(await watchMigration(handle, () => undefined, { pollMs: 200 }))).toBe('applied');
    // Applied, retention not over: kept.
    await db.query(`update godwit.retired set retain_until = now() + interval '1 day' where retired_name = $1`, [retired]);
    const listed = await manageSnapshots(t.client, t.settings, { target: 'rc', action: 'prune' });
    expect(listed.purged).toEqual([]);
    expect(listed.retired.map((r) => [r.source, r.retiredName, r.runState])).toEqual([['public.profiles.bio', retired, 'applied']]);
    expect(await present()).toBe(true);

    // Due, but the application holds a lock on the table: left for the next prune.
    await expire();
    const holder = new pg.Client({ connectionString: db.url });
    await holder.connect();
    try {
      await holder.query('begin; select * from profiles limit 1');
      const busy = await withClient((c) => pruneSnapshots(c));
      expect(busy.purged).toEqual([]);
      expect(busy.deferred.map((d) => [d.record.source, d.reason])).toEqual([['public.profiles.bio', 'its table is busy: no lock within 5s; the next prune tries again']]);
    } finally {
      await holder.query('rollback');
      await holder.end();
    }

    const pruned = await manageSnapshots(t.client, t.settings, { target: 'rc', action: 'prune' });
    expect(pruned.purged.map((r) => r.source)).toEqual(['public.profiles.bio']);
    expect(pruned.retired).toEqual([]);
    expect(await columnsOf('profiles')).toEqual(['id', 'n']);
    expect(await db.query(`select purged_at is not null as purged from godwit.retired where retired_name = $1`, [retired])).toMatchObject({ rows: [{ purged: true }] });
    expect(await db.query(`select to_regclass('public.profiles_bio_idx') is null as gone`)).toMatchObject({ rows: [{ gone: true }] });
    // What verify compares: the fingerprint recorded when it was applied, and the one now.
    const recorded = await db.query<{ hash: string; entries: string[] }>(
      `select fingerprint_after as hash, fingerprint_after_entries as entries from godwit.migrations where migration_id = 'retire_c'`,
    );
    const now = await fingerprintOf(db.url);
    expect(diffFingerprints({ hash: recorded.rows[0]!.hash, entries: recorded.rows[0]!.entries }, now)).toEqual([]);
    expect(now.hash).toBe(recorded.rows[0]!.hash);
    // Nothing left to purge, and a second prune does nothing.
    expect((await withClient((c) => pruneSnapshots(c))).purged).toEqual([]);
  });
});

describe('(d) a NOT NULL column without a default, and rows the application inserted while it was retired', () => {
  const setup = `
    drop table if exists handles cascade;
    create table handles (id int primary key, handle text not null, n int);
    insert into handles select g, 'h' || g, g from generate_series(1, 500) g;`;
  const manifest = (id: string, down = '') => `id: ${id}
operations:
  - drop_column: { table: handles, column: handle${down} }
  - sql: { up: "select pg_sleep(1)", down: "select 1" }
checks:
  post:
    - { name: fails on purpose, sql: select false }
policy: { approval: never }
`;

  /** Starts the migration and, while its second step runs, inserts three rows as the application would: without the column. */
  async function runWithInserts(target: string, text: string) {
    const handle = await startMigration(t.client, t.settings, { target, loaded: await manifestFrom(text), requestedBy: 'test' });
    await waitForStep(handle, 2);
    await db.query('insert into handles (id, n) values (501, 1), (502, 2), (503, 3)');
    return { handle, outcome: await watchMigration(handle, () => undefined, { pollMs: 200 }) };
  }

  it('without down: rollback_failed, saying how many rows and how to fix it; filled and retried, rolled back', async () => {
    await db.query(setup);
    const fingerprint = await fingerprintOf(db.url);
    const dump = await schemaDump(db.url);
    const { handle, outcome } = await runWithInserts('rd', manifest('retire_d1'));
    expect(outcome.kind).toBe('waiting');
    const reason = outcome.kind === 'waiting' ? (outcome.progress.reason ?? '') : '';
    expect(reason).toContain('cannot restore NOT NULL column handles.handle: 3 rows inserted while it was retired have no value in it');
    expect(reason).toContain('godwit retry-rollback');
    expect(reason).toContain('give drop_column a down');

    const { rows } = await db.query<{ name: string }>(`select retired_name as name from godwit.retired where migration_id = 'retire_d1'`);
    await db.query(`update handles set "${rows[0]!.name}" = 'filled' where "${rows[0]!.name}" is null`);
    await handle.signal(retryRollbackSignal, { by: 'test' });
    expect(finalState(await watchMigration(handle, () => undefined, { pollMs: 200 }))).toBe('rolled_back');
    expect((await fingerprintOf(db.url)).hash).toBe(fingerprint.hash);
    expect(await schemaDump(db.url)).toEqual(dump);
    expect((await db.query('select id, handle from handles where id > 500 order by id')).rows).toEqual([
      { id: 501, handle: 'filled' },
      { id: 502, handle: 'filled' },
      { id: 503, handle: 'filled' },
    ]);
  });

  it(`with down: "''": rolled back, and the application's rows have the down value`, async () => {
    await db.query(setup);
    const fingerprint = await fingerprintOf(db.url);
    const dump = await schemaDump(db.url);
    const { outcome } = await runWithInserts('re', manifest('retire_d2', `, down: "''"`));
    expect(finalState(outcome)).toBe('rolled_back');
    expect((await fingerprintOf(db.url)).hash).toBe(fingerprint.hash);
    expect(await schemaDump(db.url)).toEqual(dump);
    expect((await db.query('select id, handle from handles where id > 500 order by id')).rows).toEqual([
      { id: 501, handle: '' },
      { id: 502, handle: '' },
      { id: 503, handle: '' },
    ]);
    expect((await db.query(`select count(*)::int as n from handles where handle = 'h' || id`)).rows).toEqual([{ n: 500 }]);
  });
});
