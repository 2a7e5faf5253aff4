import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { setupTemporal, type TestTemporal } from '../helpers/temporal';
import { runCli, spawnWorker, waitForExit, type SpawnedWorker } from '../helpers/process';
import { startTlsFront, type TlsFront } from '../helpers/tls-proxy';

/**
 * Temporal behind TLS with an API key, as Temporal Cloud serves it: the worker (the SDK's
 * native connection), `apply --wait` (the CLI's own client) and `status` (the SDK's client)
 * all read Temporal's standard variables, TEMPORAL_API_KEY and TEMPORAL_TLS_*.
 */
const KEY = 'godwit-test-key';
let db: TestDatabase;
let t: TestTemporal;
let front: TlsFront;
let worker: SpawnedWorker | undefined;
let env: NodeJS.ProcessEnv;
let manifest: string;

beforeAll(async () => {
  db = await createTestDatabase('godwit_tls');
  await db.query('create table users (id bigint generated always as identity primary key, email text)');
  t = await setupTemporal({ app: db.url });
  front = await startTlsFront(t.settings.address, { apiKey: KEY });
  env = { ...t.env, TEMPORAL_ADDRESS: front.address, TEMPORAL_API_KEY: KEY, TEMPORAL_TLS_SERVER_CA_CERT_PATH: front.caPath };
  delete env.GODWIT_WORKFLOW_BUNDLE;
  worker = await spawnWorker(env);
  manifest = join(mkdtempSync(join(tmpdir(), 'godwit-tls-')), '0001_tls.yaml');
  writeFileSync(manifest, 'id: 0001_tls\noperations:\n  - add_column: { table: users, column: { name: note, type: text } }\n');
});

afterAll(async () => {
  if (worker) {
    worker.child.kill('SIGTERM');
    await waitForExit(worker.child);
  }
  await front?.close();
  await t?.close();
  await db?.drop();
});

describe('Temporal behind TLS with an API key', () => {
  it('applies through it (worker, apply --wait) and lists the run (status)', async () => {
    const applied = await runCli(['apply', manifest, '--target', 'app', '--wait'], env);
    expect(applied.output).toMatch(/0001_tls applied/);
    expect(applied.code).toBe(0);
    const status = await runCli(['status', '--target', 'app'], env);
    // The output with the code, so a failure says what the CLI said.
    expect({ code: status.code, output: status.output }).toMatchObject({ code: 0 });
    expect(status.output).toMatch(/0001_tls\s+applied/);
  });

  it('says the key was refused, and which variable to check, when it is wrong', async () => {
    const run = await runCli(['apply', manifest, '--target', 'app', '--wait'], { ...env, TEMPORAL_API_KEY: 'wrong' });
    expect(run.code).toBe(1);
    expect(run.output).toMatch(/error: Temporal at 127\.0\.0\.1:\d+ refused the call: Request unauthorized\. Check TEMPORAL_API_KEY/);
  });

  it("says the TLS handshake failed, and how to trust the server, without the server's CA", async () => {
    const withoutCa = { ...env };
    delete withoutCa.TEMPORAL_TLS_SERVER_CA_CERT_PATH;
    const run = await runCli(['apply', manifest, '--target', 'app', '--wait'], withoutCa);
    expect(run.code).toBe(1);
    expect(run.output).toMatch(/error: the TLS handshake with Temporal at 127\.0\.0\.1:\d+ failed: .*certificate.*TEMPORAL_TLS_SERVER_CA_CERT_PATH/);
  });
});
