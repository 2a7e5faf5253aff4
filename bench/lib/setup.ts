import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { Client, Connection } from '@temporalio/client';
import type { Worker } from '@temporalio/worker';
import { connectOrStartTemporal, type TemporalEndpoint } from '../../src/devserver';
import { TargetPools } from '../../src/db/pool';
import { connectWorkerConnection, createGodwitWorker } from '../../worker';

export const BENCH_DB = 'godwit_bench';
export const BENCH_TARGET = 'bench';
export const USER_ROWS = 10_000;

export function benchDatabaseUrl(adminUrl: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${BENCH_DB}`;
  return url.toString();
}

const USERS_DDL = `
  create table users (
    id bigint generated always as identity primary key,
    email text not null,
    name text not null,
    created_at timestamptz not null default now()
  );
  create index users_email_idx on users (email);
  insert into users (email, name)
    select 'user' || g || '@example.com', 'user ' || g from generate_series(1, ${USER_ROWS}) g;
  analyze users;`;

/** (Re)creates godwit_bench with a users table of USER_ROWS rows. */
export async function createBenchDatabase(adminUrl: string): Promise<string> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`drop database if exists ${BENCH_DB} with (force)`);
    await admin.query(`create database ${BENCH_DB}`);
  } finally {
    await admin.end();
  }
  const url = benchDatabaseUrl(adminUrl);
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  try {
    await db.query(USERS_DDL);
  } finally {
    await db.end();
  }
  return url;
}

export async function dropBenchDatabase(adminUrl: string): Promise<void> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`drop database if exists ${BENCH_DB} with (force)`);
  } finally {
    await admin.end();
  }
}

/**
 * Postgres never reuses the attribute number of a dropped column and a table holds at
 * most 1600 of them, dropped ones included: rebuild users (outside any timing) before
 * repeated add/drop cycles get near that.
 */
export async function rebuildUsersIfWorn(db: pg.Client): Promise<boolean> {
  const { rows } = await db.query<{ n: number }>(`select max(attnum)::int as n from pg_attribute where attrelid = 'public.users'::regclass`);
  if ((rows[0]?.n ?? 0) < 1400) return false;
  await db.query(`drop table users`);
  await db.query(USERS_DDL);
  return true;
}

export interface BenchTemporal {
  endpoint: TemporalEndpoint;
  taskQueue: string;
  /** For reading histories after the runs; never used while a run is timed. */
  client: Client;
  worker: Worker;
  stop(): Promise<void>;
}

/**
 * A Temporal dev server (or TEMPORAL_ADDRESS) and an in-process Godwit worker on a task
 * queue of its own that resolves the target `bench` to the bench database.
 */
export async function startTemporalAndWorker(databaseUrl: string, onNote: (line: string) => void): Promise<BenchTemporal> {
  const endpoint = await connectOrStartTemporal({ onNote });
  const taskQueue = `godwit-bench-${randomBytes(3).toString('hex')}`;
  let connection;
  let pools: TargetPools | undefined;
  try {
    connection = await connectWorkerConnection(endpoint.address);
    pools = new TargetPools((alias) => {
      if (alias !== BENCH_TARGET) throw Object.assign(new Error(`unknown target '${alias}'`), { name: 'UnknownTargetError' });
      return databaseUrl;
    });
    const { worker } = await createGodwitWorker({ connection, namespace: endpoint.namespace, taskQueue, pools });
    const running = worker.run();
    const clientConnection = await Connection.connect({ address: endpoint.address });
    const client = new Client({ connection: clientConnection, namespace: endpoint.namespace });
    const nativeConnection = connection;
    const targetPools = pools;
    return {
      endpoint,
      taskQueue,
      client,
      worker,
      async stop() {
        await clientConnection.close().catch(() => undefined);
        if (worker.getState() === 'RUNNING') worker.shutdown();
        await running.catch(() => undefined);
        await targetPools.close();
        await nativeConnection.close().catch(() => undefined);
        await endpoint.stop();
      },
    };
  } catch (err) {
    await pools?.close().catch(() => undefined);
    await connection?.close().catch(() => undefined);
    await endpoint.stop();
    throw err;
  }
}

/**
 * The environment of a `godwit` CLI the bench spawns: the bench's Temporal server, namespace,
 * task queue and UI, no colours, and the compiled workflow code rather than a prebuilt bundle.
 */
export function cliEnv(temporal: Pick<BenchTemporal, 'endpoint' | 'taskQueue'>, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NO_COLOR: '1',
    TEMPORAL_ADDRESS: temporal.endpoint.address,
    TEMPORAL_NAMESPACE: temporal.endpoint.namespace,
    GODWIT_TASK_QUEUE: temporal.taskQueue,
    GODWIT_UI_URL: temporal.endpoint.uiUrl,
    GODWIT_REQUESTED_BY: 'bench',
    ...extra,
  };
  delete env.GODWIT_WORKFLOW_BUNDLE;
  return env;
}
