import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { connectOrStartTemporal } from '../devserver';
import { standaloneClient, TargetPools } from '../db/pool';
import { connectWorkerConnection, createGodwitWorker } from '../../worker';
import { applyCommand } from '../cli/commands/apply';
import { statusCommand } from '../cli/commands/status';
import { CliError, ExitCode } from '../cli/exit-codes';
import { bold, dim } from '../cli/output';
import { packageRoot } from '../package-root';

export const DEMO_DIR = join(packageRoot(), 'examples', 'demo');
const DEMO_DB = 'godwit_demo';
const TARGET = 'demo';

function demoDatabaseUrl(adminUrl: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${DEMO_DB}`;
  return url.toString();
}

/** (Re)creates godwit_demo with a users table of a few thousand rows, some sharing a display name. */
async function seedDatabase(adminUrl: string): Promise<string> {
  const admin = standaloneClient(adminUrl);
  try {
    await admin.connect();
  } catch (err) {
    throw new CliError(
      `cannot reach Postgres at ${new URL(adminUrl).host} (${(err as Error).message}); set DATABASE_URL to a database the demo may create ${DEMO_DB} from`,
    );
  }
  try {
    await admin.query(`drop database if exists ${DEMO_DB} with (force)`);
    await admin.query(`create database ${DEMO_DB}`);
  } finally {
    await admin.end();
  }
  const url = demoDatabaseUrl(adminUrl);
  const db = standaloneClient(url);
  await db.connect();
  try {
    await db.query(`
      create table users (
        id bigint generated always as identity primary key,
        email text not null,
        name text not null,
        created_at timestamptz not null default now()
      );
      insert into users (email, name)
        select 'User' || g || '@Example.COM', 'user ' || (g % 4500) from generate_series(1, 5000) g;`);
  } finally {
    await db.end();
  }
  return url;
}

/**
 * `npm run demo`: a dev server, a worker, a fresh database, and four migrations
 * applied through Temporal: three end applied, the fourth fails at its second step
 * and is rolled back, with the schema fingerprints before and after printed.
 */
export async function runDemo(opts: { exit?: boolean } = {}, out: (line: string) => void = console.log): Promise<void> {
  // The demo tells the story itself; the SDK's per-failure warnings would drown it.
  process.env.GODWIT_LOG_LEVEL ??= 'ERROR';
  const adminUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  out(bold('Godwit demo'));
  const url = await seedDatabase(adminUrl);
  out(`database ${DEMO_DB} created with 5,000 users (target '${TARGET}')`);

  const endpoint = await connectOrStartTemporal({ onNote: (line) => out(dim(line)) });
  const taskQueue = `godwit-demo-${randomBytes(3).toString('hex')}`;
  const connection = await connectWorkerConnection(endpoint.address);
  const pools = new TargetPools((alias) => {
    if (alias !== TARGET) throw Object.assign(new Error(`unknown target '${alias}'`), { name: 'UnknownTargetError' });
    return url;
  });
  const { worker } = await createGodwitWorker({ connection, namespace: endpoint.namespace, taskQueue, pools });
  const running = worker.run();
  // Ctrl-C already makes the SDK's runtime shut the worker down; shutting it down twice throws.
  const stopWorker = async () => {
    if (worker.getState() === 'RUNNING') worker.shutdown();
    await running;
  };
  out(`worker running on task queue ${taskQueue}\n`);

  let code: number;
  try {
    code = await applyCommand(DEMO_DIR, { target: TARGET, wait: true, address: endpoint.address, namespace: endpoint.namespace, taskQueue, uiUrl: endpoint.uiUrl, requestedBy: 'demo' }, out);
    out('');
    await statusCommand({ target: TARGET, address: endpoint.address, namespace: endpoint.namespace, uiUrl: endpoint.uiUrl }, out);
  } catch (err) {
    await stopWorker();
    await endpoint.stop();
    throw err;
  }
  const asExpected = code === ExitCode.rolledBack;
  out('');
  out(
    asExpected
      ? bold('Three migrations applied; the fourth failed at step 2 and was rolled back, its schema fingerprint proven equal to before.')
      : bold(`Unexpected: the run ended with exit code ${code} (expected 2, the fourth migration rolled back).`),
  );

  if (!opts.exit && process.stdout.isTTY) {
    out(`\nTemporal Web UI: ${endpoint.uiUrl}/namespaces/${endpoint.namespace}/workflows — press Ctrl-C to stop.`);
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
  }
  await stopWorker();
  await pools.close();
  await connection.close();
  await endpoint.stop();
  if (!asExpected) throw new CliError('the demo did not end as expected', ExitCode.error);
}
