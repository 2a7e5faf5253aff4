/**
 * Records a release's history (workflows/release.ts) into test/replay/histories/, as
 * record-histories.ts does for migrations: a canary applied, a later target failing at the
 * threshold, the canary reverted. Leaves the other recorded histories as they are.
 *
 *   node --import tsx scripts/record-release-history.ts
 *
 * It writes release-failed-outcome-halted.json: since the godwit-release-failed-outcomes patch
 * the halted release fails its run. release-halted-rolled-back.json, recorded before that
 * patch, stands for releases that completed whatever their outcome: keep it.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import pg from 'pg';
import { connectOrStartTemporal, ensureTemporalCli } from '../src/devserver';
import { TargetPools } from '../src/db/pool';
import { connectClient } from '../src/client';
import { releaseManifests, startRelease, watchRelease } from '../src/client/release';
import { parseManifest } from '../src/manifest';
import { connectWorkerConnection, createGodwitWorker } from '../worker';
import { fleetReleaseId } from '../src/contract/release';
import type { TemporalSettings } from '../src/config/temporal';

const OUT = fileURLToPath(new URL('../test/replay/histories', import.meta.url));
const ADMIN = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const TARGETS = ['a', 'b', 'c'];
const NAME = 'release-failed-outcome-halted';
const dbName = (t: string) => `godwit_record_release_${t}_${process.pid}`;

async function main(): Promise<void> {
  const admin = new pg.Client({ connectionString: ADMIN });
  await admin.connect();
  const urls = new Map<string, string>();
  for (const t of TARGETS) {
    await admin.query(`drop database if exists ${dbName(t)} with (force)`);
    await admin.query(`create database ${dbName(t)}`);
    const url = new URL(ADMIN);
    url.pathname = `/${dbName(t)}`;
    urls.set(t, url.toString());
    const db = new pg.Client({ connectionString: url.toString() });
    await db.connect();
    await db.query(`create table users (id int primary key, email text); insert into users select g, 'u' || g || '@x' from generate_series(1, 50) g`);
    // b: two emails equal but for case, so the unique index on lower(email) fails there.
    if (t === 'b') await db.query(`insert into users values (51, 'U1@x')`);
    await db.end();
  }

  const cli = await ensureTemporalCli({ onNote: console.log });
  const endpoint = await connectOrStartTemporal({ onNote: console.log });
  const settings: TemporalSettings = { address: endpoint.address, namespace: endpoint.namespace, taskQueue: 'godwit-record-release', uiUrl: endpoint.uiUrl };
  const connection = await connectWorkerConnection(endpoint.address);
  const pools = new TargetPools((alias) => urls.get(alias)!);
  const { worker } = await createGodwitWorker({ connection, namespace: settings.namespace, taskQueue: settings.taskQueue, pools });
  const running = worker.run();
  const client = await connectClient(settings);
  try {
    const loaded = parseManifest(
      `id: r7_release
operations:
  - add_column: { table: users, column: { name: email_norm, type: text } }
  - backfill: { table: users, set: { email_norm: "lower(email)" } }
  - create_index: { table: users, columns: [email_norm], unique: true }
policy: { approval: never }
`,
      'release.yaml',
    );
    const workflowId = fleetReleaseId(`record-${process.pid}`, 'r7_release');
    const handle = await startRelease(client, settings, workflowId, {
      fleet: `record-${process.pid}`,
      targets: TARGETS,
      canaries: ['a'],
      maxParallel: 1,
      failureThreshold: 1,
      manifests: await releaseManifests([loaded], 'recorder'),
      requestedBy: 'recorder',
    });
    const result = await watchRelease(handle, () => undefined);
    const json = execFileSync(cli.path, ['workflow', 'show', '--address', endpoint.address, '--workflow-id', workflowId, '--output', 'json'], { maxBuffer: 64 << 20 });
    writeFileSync(join(OUT, `${NAME}.json`), json);
    console.log(`${NAME}: ${result.state}, ${(JSON.parse(json.toString()) as { events: unknown[] }).events.length} events`);
  } finally {
    worker.shutdown();
    await running;
    await pools.close();
    await client.connection.close();
    await connection.close();
    await endpoint.stop();
    for (const t of TARGETS) await admin.query(`drop database if exists ${dbName(t)} with (force)`);
    await admin.end();
  }
}

await main();
