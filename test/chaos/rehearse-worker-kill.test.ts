import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_URL, createTestDatabase, type TestDatabase } from '../helpers/db';
import { setupTemporal, type TestTemporal } from '../helpers/temporal';
import { spawnWorker, waitForExit, type SpawnedWorker } from '../helpers/process';
import { takeWitness } from '../helpers/witness';
import { parseManifest } from '../../src/manifest';
import { rehearsalInput, startRehearsal, watchRehearsal } from '../../src/client/rehearse';
import { REHEARSAL_QUERY, type RehearsalReport } from '../../src/contract/rehearse';

// A rehearsal is a workflow like any other: a worker SIGKILLed in the middle of it is
// replaced, and the rehearsal goes on where it was, each run once, the copy dropped at the end.

let db: TestDatabase;
let t: TestTemporal;
const workers: SpawnedWorker[] = [];

beforeAll(async () => {
  db = await createTestDatabase('godwit_rehearse_chaos');
  await db.query(`create table users (id int primary key, email text not null, score int not null default 0);
                  insert into users select g, 'u' || g || '@x', g % 10 from generate_series(1, 2000) g`);
  t = await setupTemporal({ app: db.url });
});

afterAll(async () => {
  for (const w of workers) {
    w.child.kill('SIGKILL');
    await waitForExit(w.child);
  }
  await t?.close();
  await db?.drop();
});

async function scratchLeft(id: string): Promise<boolean> {
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  try {
    return ((await admin.query('select 1 from pg_database where datname = $1', [`godwit_rehearse_${id}`])).rowCount ?? 0) > 0;
  } finally {
    await admin.end();
  }
}

describe('rehearsal durability', () => {
  it('goes on after its worker is SIGKILLed between child runs, every run once, the target untouched and the copy dropped', async () => {
    const manifests = [
      parseManifest('id: 0001_a\noperations:\n  - add_column: { table: users, column: { name: a, type: int } }\n  - backfill: { table: users, set: { a: "score * 2" } }\n  - create_index: { table: users, columns: [a], concurrently: true }\n', 'a.yaml'),
      parseManifest('id: 0002_b\noperations:\n  - drop_column: { table: users, column: score }\n  - add_column: { table: users, column: { name: b, type: text } }\n', 'b.yaml'),
    ];
    const witness = await takeWitness(db.url);
    const first = await spawnWorker(t.env);
    workers.push(first);
    const input = rehearsalInput({ target: 'app', manifests, data: { kind: 'sample', rows: 300 }, keep: false, requestedBy: 'chaos' });
    const handle = await startRehearsal(t.client, t.settings, input);

    // Kill the worker once two runs are recorded: the third is then on its way.
    let rows = 0;
    for (let i = 0; i < 600 && rows < 2; i++) {
      rows = (await handle.query<RehearsalReport>(REHEARSAL_QUERY).catch(() => null))?.rows.length ?? 0;
      if (rows < 2) await new Promise((r) => setTimeout(r, 100));
    }
    expect(rows).toBeGreaterThanOrEqual(2);
    first.child.kill('SIGKILL');
    await waitForExit(first.child);

    workers.push(await spawnWorker(t.env));
    const report = await watchRehearsal(handle, () => undefined);
    expect(report.status).toBe('proven');
    expect(report.rows.map((r) => `${r.migrationId}/${r.afterStep ?? 'apply'}:${r.outcome}`)).toEqual([
      '0001_a/1:proven',
      '0001_a/2:proven',
      '0001_a/3:proven',
      '0001_a/apply:applied',
      '0002_b/1:proven',
      '0002_b/2:proven',
      '0002_b/apply:applied',
    ]);
    expect(await witness.differences()).toEqual([]);
    expect(await scratchLeft(input.rehearsalId)).toBe(false);
  }, 300_000);
});
