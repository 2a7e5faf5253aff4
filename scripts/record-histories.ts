/**
 * Records workflow histories from real runs into test/replay/histories/, for the
 * replay test to check that today's workflow code still replays them. Run it when
 * a workflow change is meant to ship (and keep the old files: they stand for
 * migrations that may still be running in production):
 *
 *   node --import tsx scripts/record-histories.ts          # records the histories not recorded yet
 *   node --import tsx scripts/record-histories.ts --all    # records every one again
 *
 * With scenario names as arguments, records only those (and no inspection workflow):
 *
 *   node --import tsx scripts/record-histories.ts health-probes-rolled-back
 */
import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import pg from 'pg';
import { connectOrStartTemporal, ensureTemporalCli } from '../src/devserver';
import { TargetPools } from '../src/db/pool';
import { connectClient, manageSnapshots, planAgainstTarget, startMigration, verifyAuditLog, verifyDrift, watchMigration } from '../src/client';
import { parseManifest } from '../src/manifest';
import { connectWorkerConnection, createGodwitWorker } from '../worker';
import { AUDIT_VERIFY_WORKFLOW_TYPE, PLAN_WORKFLOW_TYPE, SNAPSHOTS_WORKFLOW_TYPE, VERIFY_WORKFLOW_TYPE, type FaultInjection } from '../src/contract/migration';
import { approveUpdate, rejectUpdate, resolveUpdate, rollbackUpdate } from '../src/contract/messages';
import type { TemporalSettings } from '../src/config/temporal';

// Its runs fail steps on purpose through `faults`, which a worker runs only when told it is a test one.
process.env.GODWIT_ALLOW_FAULTS ??= '1';

const OUT = fileURLToPath(new URL('../test/replay/histories', import.meta.url));
const ADMIN = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
// Its own database per run: two recordings at once must not drop each other's.
const DB = `godwit_record_histories_${process.pid}`;

/** A history already recorded is kept: it stands for runs started by the code of its day. */
const RECORD_ALL = process.argv.includes('--all');
const wanted = (name: string) => RECORD_ALL || !existsSync(join(OUT, `${name}.json`));

// confirm: `godwit rollback` of a run that asks (on_unhealthy: ask); dismiss: clears the error, then `godwit approve`.
const scenarios: { name: string; yaml: string; faults?: FaultInjection; human?: 'approve' | 'reject' | 'resolve' | 'confirm' | 'dismiss' }[] = [
  {
    name: 'applied-with-checks',
    yaml: `id: r1_applied
description: three steps and a post check
operations:
  - create_table: { table: t1, columns: [{ name: id, type: int, primary_key: true }, { name: v, type: text }] }
  - add_column: { table: users, column: { name: email_norm, type: text } }
  - create_index: { table: users, columns: [email_norm], concurrently: true }
checks:
  post:
    - { name: users exist, sql: "select count(*) > 0 from users" }
`,
  },
  {
    name: 'rolled-back-at-step-2',
    yaml: `id: r2_rolled_back
operations:
  - add_column: { table: users, column: { name: c2, type: int } }
  - sql: { up: "select 1/0", down: "select 1" }
`,
  },
  {
    name: 'rollback-failed-then-resolved',
    yaml: `id: r3_resolved
operations:
  - add_column: { table: users, column: { name: c3, type: int } }
  - add_column: { table: users, column: { name: c4, type: int } }
`,
    faults: { failAtStep: 2, failCompensationOfStep: 1 },
    human: 'resolve',
  },
  {
    name: 'rolled-back-with-snapshot',
    yaml: `id: r5_snapshot
operations:
  - drop_column: { table: users, column: email }
checks:
  post:
    - { name: fails on purpose, sql: select false }
policy: { approval: never }
`,
  },
  {
    name: 'approval-required-approved',
    yaml: `id: r4_approved
operations:
  - add_column: { table: users, column: { name: c5, type: int } }
policy: { approval: required }
`,
    human: 'approve',
  },
  {
    name: 'health-probes-rolled-back',
    yaml: `id: r7_probe_fired
operations:
  - add_column: { table: users, column: { name: c7, type: int } }
policy:
  approval: never
  bake_seconds: 60
  max_duration: 10min
  probes:
    - { name: users present, kind: sql, sql: "select count(*) from users", fail_when: "> 0", interval: 1s, consecutive: 2 }
`,
  },
  {
    name: 'health-probes-ask-confirmed',
    yaml: `id: r8_probe_ask
operations:
  - add_column: { table: users, column: { name: c8, type: int } }
policy:
  approval: never
  bake_seconds: 60
  on_unhealthy: ask
  probes:
    - { name: users present, kind: sql, sql: "select count(*) from users", fail_when: "> 0", interval: 1s, consecutive: 2 }
`,
    human: 'confirm',
  },
  {
    name: 'health-probes-ask-dismissed',
    yaml: `id: r9_probe_dismissed
operations:
  - add_column: { table: users, column: { name: c9, type: int } }
policy:
  approval: never
  bake_seconds: 4
  on_unhealthy: ask
  probes:
    - { name: alarm, kind: sql, sql: "select count(*) from alarms", fail_when: "> 0", interval: 1s, consecutive: 2 }
`,
    human: 'dismiss',
  },
  // Since the godwit-failed-outcomes patch, every outcome but applied fails its run.
  {
    name: 'failed-outcome-rolled-back',
    yaml: `id: r10_failed_rolled_back
operations:
  - add_column: { table: users, column: { name: c11, type: int } }
  - sql: { up: "select 1/0", down: "select 1" }
`,
  },
  {
    name: 'failed-outcome-rejected',
    yaml: `id: r11_failed_rejected
operations:
  - add_column: { table: users, column: { name: c12, type: int } }
policy: { approval: required }
`,
    human: 'reject',
  },
  {
    name: 'failed-outcome-resolved',
    yaml: `id: r12_failed_resolved
operations:
  - add_column: { table: users, column: { name: c13, type: int } }
  - add_column: { table: users, column: { name: c14, type: int } }
`,
    faults: { failAtStep: 2, failCompensationOfStep: 1 },
    human: 'resolve',
  },
  // Since the godwit-max-duration-timer patch, a timer from the first step says when max_duration ran out.
  {
    name: 'max-duration-timer-at-step',
    yaml: `id: r13_max_duration_step
operations:
  - sql: { up: "select pg_sleep(2)", down: "select 1" }
  - add_column: { table: users, column: { name: c15, type: int } }
policy:
  approval: never
  max_duration: 1s
`,
  },
  {
    name: 'max-duration-timer-in-bake',
    yaml: `id: r14_max_duration_bake
operations:
  - add_column: { table: users, column: { name: c16, type: int } }
policy:
  approval: never
  bake_seconds: 600
  max_duration: 3s
  probes:
    - { name: users present, kind: sql, sql: "select count(*) from users", fail_when: "< 0", interval: 1s }
`,
  },
];
const only = process.argv.slice(2).filter((a) => !a.startsWith('--'));

async function main(): Promise<void> {
  const admin = new pg.Client({ connectionString: ADMIN });
  await admin.connect();
  await admin.query(`drop database if exists ${DB} with (force)`);
  await admin.query(`create database ${DB}`);
  const url = new URL(ADMIN);
  url.pathname = `/${DB}`;
  const db = new pg.Client({ connectionString: url.toString() });
  await db.connect();
  await db.query('create table users (id int primary key, email text); insert into users select g, g || \'@x\' from generate_series(1, 100) g');
  await db.query('create table alarms (id int); insert into alarms values (1)');

  const cli = await ensureTemporalCli({ onNote: console.log });
  const endpoint = await connectOrStartTemporal({ onNote: console.log });
  const settings: TemporalSettings = { address: endpoint.address, namespace: endpoint.namespace, taskQueue: 'godwit-record', uiUrl: endpoint.uiUrl };
  const connection = await connectWorkerConnection(endpoint.address);
  const pools = new TargetPools(() => url.toString());
  const { worker } = await createGodwitWorker({ connection, namespace: settings.namespace, taskQueue: settings.taskQueue, pools });
  const running = worker.run();
  const client = await connectClient(settings);
  try {
    for (const s of scenarios.filter((x) => (only.length === 0 ? wanted(x.name) : only.includes(x.name)))) {
      const handle = await startMigration(client, settings, { target: 'rec', loaded: parseManifest(s.yaml, `${s.name}.yaml`), requestedBy: 'recorder', ...(s.faults ? { faults: s.faults } : {}) });
      let outcome = await watchMigration(handle, (e) => {
        if (s.human === 'approve' && e.kind === 'transition' && e.to === 'awaiting_approval') {
          void handle.executeUpdate(approveUpdate, { args: [{ by: 'approver' }] });
        }
        if (s.human === 'confirm' && e.kind === 'transition' && e.to === 'unhealthy') {
          void handle.executeUpdate(rollbackUpdate, { args: [{ by: 'oncall', reason: 'confirmed' }] });
        }
        if (s.human === 'dismiss' && e.kind === 'transition' && e.to === 'unhealthy') {
          void db.query('delete from alarms').then(() => handle.executeUpdate(approveUpdate, { args: [{ by: 'oncall', note: 'not the release' }] }));
        }
        if (s.human === 'reject' && e.kind === 'transition' && e.to === 'awaiting_approval') {
          void handle.executeUpdate(rejectUpdate, { args: [{ by: 'approver', reason: 'recorded rejection' }] });
        }
      });
      if (outcome.kind === 'waiting' && s.human === 'resolve') {
        await handle.executeUpdate(resolveUpdate, { args: [{ by: 'oncall', note: 'cleaned up by hand' }] });
        outcome = await watchMigration(handle, () => undefined);
      }
      const state = outcome.kind === 'finished' ? outcome.result.state : outcome.progress.state;
      // The CLI writes the standard JSON form that historyFromJSON and the Web UI read.
      const json = execFileSync(cli.path, ['workflow', 'show', '--address', endpoint.address, '--workflow-id', handle.workflowId, '--output', 'json'], { maxBuffer: 64 << 20 });
      writeFileSync(join(OUT, `${s.name}.json`), json);
      console.log(`${s.name}: ${state}, ${(JSON.parse(json.toString()) as { events: unknown[] }).events.length} events`);
    }
    if (only.length > 0) return;
    // The short inspection workflows behind `godwit verify`, `godwit snapshots`, `godwit plan --target` and `godwit audit verify`.
    const planned = parseManifest('id: r6_plan\noperations:\n  - alter_column_type: { table: users, column: email, type: varchar(320) }\n', 'plan-live.yaml');
    const inspections: [string, string, () => Promise<unknown>][] = [
      ['verify-drift', VERIFY_WORKFLOW_TYPE, () => verifyDrift(client, settings, 'rec', [parseManifest(scenarios[0]!.yaml, 'applied-with-checks.yaml')])],
      ['snapshots-list', SNAPSHOTS_WORKFLOW_TYPE, () => manageSnapshots(client, settings, { target: 'rec', action: 'list' })],
      ['plan-live', PLAN_WORKFLOW_TYPE, () => planAgainstTarget(client, settings, 'rec', [planned])],
      ['audit-verify', AUDIT_VERIFY_WORKFLOW_TYPE, () => verifyAuditLog(client, settings, 'rec')],
    ];
    for (const [name, type, run] of inspections) {
      if (!wanted(name)) continue;
      await run();
      let workflowId: string | undefined;
      for (let i = 0; i < 50 && !workflowId; i++) {
        // Visibility lags a moment behind the run.
        for await (const wf of client.workflow.list({ query: `WorkflowType = '${type}'` })) workflowId ??= wf.workflowId;
        if (!workflowId) await new Promise((r) => setTimeout(r, 200));
      }
      if (!workflowId) throw new Error(`no ${type} run found to record`);
      const json = execFileSync(cli.path, ['workflow', 'show', '--address', endpoint.address, '--workflow-id', workflowId, '--output', 'json'], { maxBuffer: 64 << 20 });
      writeFileSync(join(OUT, `${name}.json`), json);
      console.log(`${name}: recorded`);
    }
  } finally {
    worker.shutdown();
    await running;
    await pools.close();
    await client.connection.close();
    await connection.close();
    await endpoint.stop();
    await db.end();
    await admin.query(`drop database if exists ${DB} with (force)`);
    await admin.end();
  }
}

await main();
