import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WorkflowHandle } from '@temporalio/client';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { manifestFrom, setupTemporal, type TestTemporal } from '../helpers/temporal';
import { finalState } from '../helpers/migrate';
import { runCli, spawnCli } from '../helpers/process';
import { takeWitness, type Witness } from '../helpers/witness';
import { closedPort, startProbeApp, type ProbeApp } from '../helpers/probe-app';
import { prometheusAvailable, startPrometheus, type TestPrometheus } from '../helpers/prometheus';
import { startMigration, watchMigration, type WatchOutcome } from '../../src/client';
import { stateQuery } from '../../src/contract/messages';
import { migrationWorkflowId, type MigrationProgress } from '../../src/contract/migration';
import type { Probe, ProbeEvidence } from '../../src/health/types';
import { TargetPools } from '../../src/db/pool';
import { evaluateProbe } from '../../activities/probes';
import { resultOf } from '../../src/client/outcome';

const TARGET = 'app';
let db: TestDatabase;
let t: TestTemporal;
let app: ProbeApp;
let prom: TestPrometheus;
const ratio = 'sum(app_requests_total{code="500"}) / sum(app_requests_total)';

beforeAll(async () => {
  db = await createTestDatabase('godwit_probes');
  await db.query(`create table orders (id bigint generated always as identity primary key, item text not null, qty int not null default 1)`);
  await db.query(`insert into orders (item, qty) select 'item ' || g, g % 7 from generate_series(1, 2000) g`);
  await db.query(`create table app_errors (id int generated always as identity primary key, what text)`);
  t = await setupTemporal({ [TARGET]: db.url });
  await t.startWorker();
  app = await startProbeApp();
  prom = await startPrometheus(app.address);
}, 120_000);

afterAll(async () => {
  await prom?.stop();
  await app?.close();
  await t?.close();
  await db?.drop();
});

/** Adds a column and fills it in batches: a migration with data to undo. */
const migration = (id: string, policy: string) => `
id: ${id}
operations:
  - add_column: { table: orders, column: { name: note_${id.replace(/\W/g, '_')}, type: text } }
  - backfill: { table: orders, set: { note_${id.replace(/\W/g, '_')}: "'n-' || item" }, batch_size: 300 }
policy:
  approval: never
${policy}`;

/** The application: inserts orders on its own connection for as long as the run lasts. */
function startWriter(): { stop(): Promise<{ ids: number[]; errors: string[] }> } {
  const client = new pg.Client({ connectionString: db.url });
  const ids: number[] = [];
  const errors: string[] = [];
  let running = true;
  const loop = (async () => {
    await client.connect();
    while (running) {
      try {
        const { rows } = await client.query<{ id: string }>(`insert into orders (item) values ('live ' || clock_timestamp()) returning id`);
        ids.push(Number(rows[0]!.id));
      } catch (err) {
        errors.push((err as Error).message);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    await client.end();
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { ids, errors };
    },
  };
}

interface Run {
  handle: WorkflowHandle;
  outcome: Promise<WatchOutcome>;
}

async function start(id: string, policy: string): Promise<Run> {
  const handle = await startMigration(t.client, t.settings, { target: TARGET, loaded: await manifestFrom(migration(id, policy)), requestedBy: 'deployer' });
  return { handle, outcome: watchMigration(handle, () => undefined, { pollMs: 250 }) };
}

/** Polls the run until `ok` holds of its progress. */
async function until(handle: WorkflowHandle, ok: (p: MigrationProgress) => boolean): Promise<MigrationProgress> {
  for (;;) {
    const p = await handle.query(stateQuery).catch(() => null);
    if (p && ok(p)) return p;
    if (p && ['applied', 'rolled_back', 'rollback_failed'].includes(p.state)) throw new Error(`run ended ${p.state} first: ${p.reason}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function firings(id: string): Promise<ProbeEvidence[]> {
  const { rows } = await db.query<{ detail: ProbeEvidence }>(`select detail from godwit.audit_log where migration_id = $1 and event = 'PROBE_FIRED' order by seq`, [id]);
  return rows.map((r) => r.detail);
}

/**
 * The rollback left the schema and the data as they were, by the witness (pg_dump and EXCEPT
 * ALL, no Godwit code), apart from the application's own inserts, which all survived.
 */
async function expectRolledBackIntact(witness: Witness, writer: { ids: number[]; errors: string[] }, extra: string[] = []): Promise<void> {
  expect(writer.errors).toEqual([]);
  expect(writer.ids.length).toBeGreaterThan(0);
  const kept = await db.query('select id from orders where id = any($1::bigint[])', [writer.ids]);
  expect(kept.rowCount).toBe(writer.ids.length);
  expect(await witness.differences()).toEqual([`data of "public"."orders": ${writer.ids.length} rows only after, 0 rows only before`, ...extra]);
}

describe.runIf(prometheusAvailable())('health probes in the bake window', () => {
  it('ends applied after a healthy bake, each probe of each kind sampled and shown in the progress', async () => {
    const writer = startWriter();
    const run = await start(
      '0001_healthy',
      `  bake_seconds: 4
  probes:
    - { name: app errors, kind: sql, sql: "select count(*) from app_errors", fail_when: "> 0", interval: 1s, consecutive: 2 }
    - { name: health, kind: http, url: "${app.url}/health", field: $.status, fail_when: "!= ok", interval: 1s, consecutive: 2 }
    - { name: 5xx ratio, kind: prometheus, url: "${prom.url}", query: '${ratio}', fail_when: "> 0.02", interval: 1s, consecutive: 2 }`,
    );
    const outcome = await run.outcome;
    const { errors } = await writer.stop();
    expect(errors).toEqual([]);
    expect(finalState(outcome)).toBe('applied');
    const health = outcome.kind === 'finished' ? outcome.result.health! : null;
    expect(health!.probes.map((p) => p.name)).toEqual(['app errors', 'health', '5xx ratio']);
    for (const p of health!.probes) {
      expect(p.taken).toBeGreaterThanOrEqual(2);
      expect(p.samples.every((s) => s.ok && s.counted)).toBe(true);
      expect(p.firedAt).toBeNull();
    }
    expect(health!.probes[2]!.samples[0]!.value).toBe(0);
    expect(health!.probes[1]!.samples[0]!.value).toBe('ok');
    expect(await firings('0001_healthy')).toEqual([]);
  });

  it('rolls back when a probe fails on its third sample, with the samples, threshold and time in the audit log and the reason', async () => {
    app.failFlakyFrom(3);
    const witness = await takeWitness(db.url);
    const writer = startWriter();
    const run = await start(
      '0002_flaky',
      `  bake_seconds: 60
  probes:
    - { name: flaky, kind: http, url: "${app.url}/flaky", field: $.status, fail_when: "!= ok", interval: 1s, consecutive: 1 }`,
    );
    const outcome = await run.outcome;
    const w = await writer.stop();
    expect(finalState(outcome)).toBe('rolled_back');
    const p = outcome.kind === 'finished' ? outcome.result : null;
    expect(p!.reason).toMatch(/^health probe 'flaky' \(http, fails unless status 2xx, or when \$\.status != "ok"\) fired at \S+ after 1 failed sample\(s\) in a row: #3 "degraded"$/);
    const [evidence, ...more] = await firings('0002_flaky');
    expect(more).toEqual([]);
    expect(evidence).toMatchObject({ probe: 'flaky', kind: 'http', condition: 'fails unless status 2xx, or when $.status != "ok"', consecutive: 1, firing: 1, onUnhealthy: 'rollback' });
    expect(evidence!.samples.map((s) => [s.n, s.ok, s.value])).toEqual([
      [1, true, 'ok'],
      [2, true, 'ok'],
      [3, false, 'degraded'],
    ]);
    expect(Date.parse(evidence!.firedAt)).toBeGreaterThanOrEqual(Date.parse(evidence!.samples[2]!.at));
    const transitions = p!.transitions.map((x) => `${x.from}>${x.to}`);
    expect(transitions).toEqual(['planned>in_progress', 'in_progress>validated', 'validated>rolling_back', 'rolling_back>rolled_back']);
    await expectRolledBackIntact(witness, w);
  });

  it("rolls back when the application's error ratio in Prometheus rises during the bake", async () => {
    const witness = await takeWitness(db.url);
    const writer = startWriter();
    const run = await start(
      '0003_prometheus',
      `  bake_seconds: 300
  probes:
    - { name: 5xx ratio, kind: prometheus, url: "${prom.url}", query: '${ratio}', fail_when: "> 0.02", interval: 1s, consecutive: 2 }`,
    );
    // Healthy first, then the release starts failing: 100 errors in 1,100 requests.
    await until(run.handle, (p) => (p.health?.probes[0]?.taken ?? 0) >= 2);
    app.raiseErrors(100);
    await prom.waitFor(ratio, (v) => v > 0.02);
    const outcome = await run.outcome;
    const w = await writer.stop();
    expect(finalState(outcome)).toBe('rolled_back');
    const [evidence] = await firings('0003_prometheus');
    const counted = evidence!.samples.filter((s) => s.counted);
    expect(counted.slice(-2).map((s) => [s.ok, s.value])).toEqual([
      [false, 100 / 1100],
      [false, 100 / 1100],
    ]);
    expect(counted[0]).toMatchObject({ ok: true, value: 0 });
    expect(evidence!.condition).toBe('fails when > 0.02');
    await expectRolledBackIntact(witness, w);
  });

  it('rolls back when a probe cannot be reached: a sample that cannot be evaluated is a failure, never healthy', async () => {
    const port = await closedPort();
    const witness = await takeWitness(db.url);
    const writer = startWriter();
    const run = await start(
      '0004_unreachable',
      `  bake_seconds: 60
  probes:
    - { name: gone, kind: http, url: "http://127.0.0.1:${port}/health", interval: 1s, consecutive: 2 }`,
    );
    const outcome = await run.outcome;
    const w = await writer.stop();
    expect(finalState(outcome)).toBe('rolled_back');
    const [evidence] = await firings('0004_unreachable');
    expect(evidence!.samples.map((s) => s.detail)).toEqual([
      expect.stringMatching(/^cannot evaluate: GET http:\/\/127\.0\.0\.1:\d+\/health: fetch failed \(ECONNREFUSED\)$/),
      expect.stringMatching(/^cannot evaluate: /),
    ]);
    expect(outcome.kind === 'finished' && outcome.result.reason).toMatch(/health probe 'gone' .* #1 cannot evaluate: .*ECONNREFUSED/);
    await expectRolledBackIntact(witness, w);
  });

  it('with on_unhealthy: ask, waits in unhealthy for a person, then rolls back when they confirm with godwit rollback', async () => {
    await db.query(`insert into app_errors (what) values ('checkout fails')`);
    const witness = await takeWitness(db.url);
    const writer = startWriter();
    // Started as a pipeline would: apply --wait, which says what to do when the run asks.
    const loaded = await manifestFrom(
      migration(
        '0005_ask',
        `  bake_seconds: 300
  on_unhealthy: ask
  probes:
    - { name: app errors, kind: sql, sql: "select count(*) from app_errors", fail_when: "> 0", interval: 1s, consecutive: 2 }`,
      ),
    );
    const apply = spawnCli(['apply', loaded.file, '--target', TARGET, '--wait', '--requested-by', 'deployer'], t.env);
    const handle = t.client.workflow.getHandle(migrationWorkflowId(TARGET, '0005_ask'));
    await until(handle, (p) => p.state === 'unhealthy');
    await apply.waitFor('a health probe fired (on_unhealthy: ask): confirm with `godwit rollback 0005_ask --target app`, or dismiss with `godwit approve 0005_ask --target app --note "..."`');
    // Waiting: nothing rolled back, the question on record, in the Temporal UI and in godwit status.
    const row = await db.query(`select state from godwit.migrations where migration_id = '0005_ask'`);
    expect(row.rows[0]!.state).toBe('unhealthy');
    const col = await db.query(`select 1 from information_schema.columns where table_name = 'orders' and column_name = 'note_0005_ask'`);
    expect(col.rowCount).toBe(1);
    expect(await firings('0005_ask')).toHaveLength(1);
    const meta = await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
    expect(meta.currentDetails).toMatch(/probe app errors \(sql, fails when > 0\): 2 sample\(s\), FIRED at/);
    expect(meta.currentDetails).toMatch(/WAITING for a person since .*`godwit rollback` confirms, `godwit approve` dismisses/);
    const status = await runCli(['status', '--target', TARGET], t.env);
    expect(status.output).toMatch(/0005_ask +unhealthy/);
    expect(status.output).toMatch(/probe app errors \(sql, fails when > 0\): 2 sample\(s\), FIRED at \S+; last: ✗ 1, ✗ 1/);

    const cli = await runCli(['rollback', '0005_ask', '--target', TARGET, '--by', 'oncall', '--reason', 'errors confirmed'], t.env);
    expect(cli.output).toMatch(/rollback: sent to 0005_ask on 'app' by oncall/);
    expect(cli.code).toBe(0);
    expect(await apply.exit).toBe(2);
    expect(apply.output()).toMatch(/0005_ask rolled_back: rollback requested by oncall: errors confirmed \(confirming: health probe 'app errors'/);
    const w = await writer.stop();
    const p = await resultOf(handle);
    expect(p.state).toBe('rolled_back');
    expect(p.reason).toMatch(/^rollback requested by oncall: errors confirmed \(confirming: health probe 'app errors' /);
    expect(p.transitions.map((x) => `${x.from}>${x.to}`)).toEqual(['planned>in_progress', 'in_progress>validated', 'validated>unhealthy', 'unhealthy>rolling_back', 'rolling_back>rolled_back']);
    const audit = await db.query(`select actor from godwit.audit_log where migration_id = '0005_ask' and from_state = 'unhealthy' and to_state = 'rolling_back'`);
    expect(audit.rows.map((r) => r.actor)).toEqual(['oncall']);
    await expectRolledBackIntact(witness, w, []);
    await db.query('delete from app_errors');
  });

  it('with on_unhealthy: ask, a dismissal (godwit approve) lets the bake go on to applied', async () => {
    await db.query(`insert into app_errors (what) values ('a load test, not the release')`);
    const run = await start(
      '0006_dismiss',
      `  bake_seconds: 30
  on_unhealthy: ask
  probes:
    - { name: app errors, kind: sql, sql: "select count(*) from app_errors", fail_when: "> 0", interval: 1s, consecutive: 2 }`,
    );
    await until(run.handle, (p) => p.state === 'unhealthy');
    await db.query('delete from app_errors');
    const self = await runCli(['approve', '0006_dismiss', '--target', TARGET, '--by', 'deployer', '--note', 'mine is fine'], t.env);
    expect(self.code).not.toBe(0);
    expect(self.output).toMatch(/self approval: deployer requested this migration/);
    const cli = await runCli(['approve', '0006_dismiss', '--target', TARGET, '--by', 'oncall', '--note', 'the load test'], t.env);
    expect(cli.code).toBe(0);
    const outcome = await run.outcome;
    expect(finalState(outcome)).toBe('applied');
    const p = outcome.kind === 'finished' ? outcome.result : null;
    expect(p!.transitions.map((x) => `${x.from}>${x.to}`)).toEqual(['planned>in_progress', 'in_progress>validated', 'validated>unhealthy', 'unhealthy>validated', 'validated>applied']);
    expect(p!.health!.dismissals).toEqual([{ by: 'oncall', note: 'the load test', at: expect.any(String) }]);
    expect(p!.health!.probes[0]!.samples.at(-1)).toMatchObject({ ok: true, value: 0 });
    const audit = await db.query(`select actor, detail from godwit.audit_log where migration_id = '0006_dismiss' and event = 'DISMISS'`);
    expect(audit.rows.map((r) => r.actor)).toEqual(['oncall']);
  });

  it("adds the probes the worker's godwit.yaml names for the target, and records where they came from", async () => {
    const port = await closedPort();
    const file = join(mkdtempSync(join(tmpdir(), 'godwit-yaml-')), 'godwit.yaml');
    writeFileSync(
      file,
      `policies:
  "ap*":
    bake_seconds: 30
    probes:
      - { name: platform health, kind: http, url: "http://127.0.0.1:${port}/health", interval: 1s, consecutive: 2 }
`,
    );
    // A task queue of its own, served only by a worker that reads this godwit.yaml.
    const t2 = await setupTemporal({ [TARGET]: db.url });
    try {
      await t2.startWorker({ configFile: file });
      const handle = await startMigration(t2.client, t2.settings, { target: TARGET, loaded: await manifestFrom(migration('0009_platform', '')), requestedBy: 'deployer' });
      const outcome = await watchMigration(handle, () => undefined, { pollMs: 250 });
      expect(finalState(outcome)).toBe('rolled_back');
      const [evidence] = await firings('0009_platform');
      expect(evidence).toMatchObject({ probe: 'platform health', source: 'godwit.yaml policies.ap*' });
      const start = await db.query(`select detail from godwit.audit_log where migration_id = '0009_platform' and event = 'START'`);
      expect(start.rows[0]!.detail.health).toEqual(['bake_seconds 30 from godwit.yaml policies.ap* (the manifest says 0)']);
    } finally {
      await t2.close();
    }
  });

  it('rolls back at the step boundary once max_duration has run out', async () => {
    const witness = await takeWitness(db.url);
    const loaded = await manifestFrom(`
id: 0007_slow
operations:
  - sql: { up: "select pg_sleep(2)", down: "select 1" }
  - add_column: { table: orders, column: { name: never_added, type: text } }
policy:
  approval: never
  max_duration: 1s
`);
    const handle = await startMigration(t.client, t.settings, { target: TARGET, loaded, requestedBy: 'deployer' });
    const outcome = await watchMigration(handle, () => undefined, { pollMs: 250 });
    expect(finalState(outcome)).toBe('rolled_back');
    const p = outcome.kind === 'finished' ? outcome.result : null;
    expect(p!.reason).toMatch(/^max_duration 1s exceeded: the migration has run \d+\.\ds since its first step$/);
    expect(p!.steps.map((s) => s.status)).toEqual(['compensated', 'pending']);
    expect(await witness.differences()).toEqual([]);
  });

  it('rolls back once max_duration runs out while a firing probe waits for a person (on_unhealthy: ask)', async () => {
    const witness = await takeWitness(db.url);
    // The probe fires at its first sample; nobody answers, and ask_timeout is far off: max_duration's timer ends the wait.
    const run = await start(
      '0010_ask_deadline',
      `  bake_seconds: 600
  max_duration: 20s
  on_unhealthy: ask
  ask_timeout: 1h
  probes:
    - { name: always, kind: sql, sql: "select 1", fail_when: "> 0", interval: 1s, consecutive: 1 }`,
    );
    const outcome = await run.outcome;
    expect(finalState(outcome)).toBe('rolled_back');
    const result = outcome.kind === 'finished' ? outcome.result : null;
    expect(result!.transitions.map((x) => x.event)).toEqual(['START', 'STEPS_DONE', 'UNHEALTHY', 'FAIL', 'ROLLBACK_VERIFIED']);
    expect(result!.reason).toMatch(/^max_duration 20s exceeded: the migration has run \d+\.\ds since its first step while waiting for a person \(health probe 'always' \(sql, fails when > 0\) fired at /);
    expect(await witness.differences()).toEqual([]);
  });

  it('rolls back in the bake window once max_duration has run out', async () => {
    const witness = await takeWitness(db.url);
    const run = await start('0008_bake_deadline', `  bake_seconds: 600\n  max_duration: 3s`);
    const outcome = await run.outcome;
    expect(finalState(outcome)).toBe('rolled_back');
    expect(outcome.kind === 'finished' && outcome.result.reason).toMatch(/^max_duration 3s exceeded/);
    expect(await witness.differences()).toEqual([]);
  });
});

describe.runIf(prometheusAvailable())('one sample (the sampleProbe activity) against the real thing', () => {
  const common = { interval: '1s', timeout: '1s', consecutive: 1 };
  const sql = (q: string, fail_when = '> 0'): Probe => ({ name: 's', kind: 'sql', sql: q, fail_when, ...common });
  const http = (path: string, more: Partial<Extract<Probe, { kind: 'http' }>> = {}): Probe => ({ name: 'h', kind: 'http', url: `${app.url}${path}`, ...common, ...more });
  const promql = (query: string, more: Partial<Extract<Probe, { kind: 'prometheus' }>> = {}): Probe => ({ name: 'p', kind: 'prometheus', url: prom.url, query, fail_when: '> 0.02', ...common, ...more });
  let pools: TargetPools;
  beforeAll(() => {
    pools = new TargetPools(() => db.url);
  });
  afterAll(async () => {
    await pools.close();
  });
  const sample = (probe: Probe) => evaluateProbe({ pools }, TARGET, probe);

  it.each([
    ['a SQL error', () => sql('select count(*) from no_such_table'), /^cannot evaluate: relation "no_such_table" does not exist$/],
    ['a query with no rows', () => sql('select 1 where false'), /^cannot evaluate: the query returned no rows; it must return one value$/],
    ['text where a number is compared', () => sql("select 'many'"), /^cannot evaluate: the value "many" is not a number, and fail_when > 0 compares numbers$/],
    ['a query slower than its timeout', () => sql('select pg_sleep(5)'), /^cannot evaluate: timed out \(statement_timeout\)$/],
    ['a write (the sample runs read only)', () => sql('insert into app_errors (what) values (1) returning 1'), /^cannot evaluate: cannot execute INSERT in a read-only transaction$/],
    ['a status that is not expected', () => http('/broken'), /^status 503, expected 2xx$/],
    ['a response slower than max_latency', () => http('/slow', { max_latency: '50ms' }), /^took \d+ ms, more than max_latency 50ms$/],
    ['a body that is not JSON', () => http('/text', { field: '$.status', fail_when: '!= ok' }), /^cannot evaluate: the body of .* is not JSON, so field \$\.status cannot be read$/],
    ['a missing field', () => http('/health', { field: 'data.ratio', fail_when: '> 1' }), /^cannot evaluate: the body of .* has no field data\.ratio$/],
    ['a request slower than the timeout', () => http('/slow', { timeout: '100ms' }), /^cannot evaluate: GET .*\/slow: timed out$/],
    ['several series', () => promql('app_requests_total'), /^cannot evaluate: the query returned 2 series, not one; aggregate it/],
    ['an empty result', () => promql('sum(no_such_metric)'), /^cannot evaluate: the query returned no series \(empty result\)/],
    ['NaN', () => promql('sum(app_requests_total) * 0 / 0'), /^cannot evaluate: the query returned NaN/],
    ['a bad query', () => promql('sum(app_requests_total'), /^cannot evaluate: Prometheus refused the query \(HTTP 400\): /],
  ] as const)('fails a sample on %s, saying why', async (_what, probe, detail) => {
    // The probes are made when the test runs: the app and Prometheus start in beforeAll.
    const r = await sample(probe());
    expect(r.ok).toBe(false);
    expect(r.detail).toMatch(detail);
  });

  it("sends headers whose values come from the worker's environment, and says which one is missing", async () => {
    const secure = () => http('/secure', { headers_env: { Authorization: 'GODWIT_TEST_PROBE_TOKEN' }, field: '$.status', fail_when: '!= ok' });
    delete process.env.GODWIT_TEST_PROBE_TOKEN;
    expect((await sample(secure())).detail).toBe("cannot evaluate: header Authorization reads GODWIT_TEST_PROBE_TOKEN, which is not set in the worker's environment; set it and restart the worker");
    process.env.GODWIT_TEST_PROBE_TOKEN = 'Bearer wrong';
    expect(await sample(secure())).toMatchObject({ ok: false, value: 401, detail: 'status 401, expected 2xx' });
    process.env.GODWIT_TEST_PROBE_TOKEN = 'Bearer s3cret';
    expect(await sample(secure())).toMatchObject({ ok: true, value: 'ok' });
    delete process.env.GODWIT_TEST_PROBE_TOKEN;
  });

  it('passes a healthy sample of each kind, with its value', async () => {
    expect(await sample(sql('select count(*) from app_errors'))).toMatchObject({ ok: true, value: 0 });
    expect(await sample(http('/health', { field: '$.status', fail_when: '!= ok', max_latency: '5s' }))).toMatchObject({ ok: true, value: 'ok' });
    expect(await sample(promql('sum(app_requests_total{code="200"})', { fail_when: '< 1' }))).toMatchObject({ ok: true, value: 1000 });
    expect(await sample(promql('sum(no_such_metric)', { on_empty: 'pass' }))).toMatchObject({ ok: true, value: null, detail: 'empty result (on_empty: pass)' });
  });
});
