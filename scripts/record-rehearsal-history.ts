/**
 * Records the history of one `godwit rehearse` run (the parent workflow: the copy, a plan,
 * a child per step and the full apply, the cleanup) into test/replay/histories/rehearsal.json,
 * for the replay test. Only this one file: the migration workflow's histories are recorded
 * by scripts/record-histories.ts, and older files must be kept as they are.
 *
 *   node --import tsx scripts/record-rehearsal-history.ts
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import pg from 'pg';
import { connectOrStartTemporal, ensureTemporalCli } from '../src/devserver';
import { TargetPools } from '../src/db/pool';
import { connectClient } from '../src/client';
import { rehearsalInput, startRehearsal, watchRehearsal } from '../src/client/rehearse';
import { parseManifest } from '../src/manifest';
import { connectWorkerConnection, createGodwitWorker } from '../worker';
import type { TemporalSettings } from '../src/config/temporal';

const OUT = fileURLToPath(new URL('../test/replay/histories', import.meta.url));
const ADMIN = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const DB = `godwit_record_rehearsal_${process.pid}`;

async function main(): Promise<void> {
  const admin = new pg.Client({ connectionString: ADMIN });
  await admin.connect();
  await admin.query(`drop database if exists ${DB} with (force)`);
  await admin.query(`create database ${DB}`);
  const url = new URL(ADMIN);
  url.pathname = `/${DB}`;
  const db = new pg.Client({ connectionString: url.toString() });
  await db.connect();
  await db.query(`create table users (id int primary key, email text); insert into users select g, g || '@x' from generate_series(1, 100) g;
                  create table orders (id int primary key, user_id int references users(id)); insert into orders select g, g from generate_series(1, 50) g`);
  await db.end();

  const cli = await ensureTemporalCli({ onNote: console.log });
  const endpoint = await connectOrStartTemporal({ onNote: console.log });
  const settings: TemporalSettings = { address: endpoint.address, namespace: endpoint.namespace, taskQueue: 'godwit-record-rehearsal', uiUrl: endpoint.uiUrl };
  const connection = await connectWorkerConnection(endpoint.address);
  const pools = new TargetPools(() => url.toString());
  const { worker } = await createGodwitWorker({ connection, namespace: settings.namespace, taskQueue: settings.taskQueue, pools });
  const running = worker.run();
  const client = await connectClient(settings);
  try {
    const manifests = [
      parseManifest('id: rh1_email_norm\noperations:\n  - add_column: { table: users, column: { name: email_norm, type: text } }\n  - backfill: { table: users, set: { email_norm: "lower(email)" } }\n', 'rh1.yaml'),
      parseManifest('id: rh2_wrong_down\noperations:\n  - sql: { up: "alter table orders add column flag boolean", down: "select 1" }\n', 'rh2.yaml'),
    ];
    const input = rehearsalInput({ target: 'rec', manifests, data: { kind: 'sample', rows: 20 }, keep: false, requestedBy: 'recorder' });
    const handle = await startRehearsal(client, settings, input);
    const report = await watchRehearsal(handle, () => undefined);
    const json = execFileSync(cli.path, ['workflow', 'show', '--address', endpoint.address, '--workflow-id', handle.workflowId, '--output', 'json'], { maxBuffer: 64 << 20 });
    writeFileSync(join(OUT, 'rehearsal.json'), json);
    console.log(`rehearsal: ${report.status}, ${report.rows.length} runs, ${(JSON.parse(json.toString()) as { events: unknown[] }).events.length} events`);
  } finally {
    worker.shutdown();
    await running;
    await pools.close();
    await client.connection.close();
    await connection.close();
    await endpoint.stop();
    await admin.query(`drop database if exists ${DB} with (force)`);
    await admin.end();
  }
}

await main();
