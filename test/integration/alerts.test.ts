import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Server as HttpServer } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WorkflowHandle } from '@temporalio/client';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { manifestFrom, setupTemporal, type TestTemporal } from '../helpers/temporal';
import { waitForState } from '../helpers/migrate';
import { makeSigners, type Signers } from '../helpers/signers';
import { startMigration } from '../../src/client';
import { ALERTS_PATH, createAlertsReceiver } from '../../src/alerts/receiver';
import { resultOf } from '../../src/client/outcome';

// Rollback from monitoring: Alertmanager's webhook, authenticated with a shared bearer secret,
// rolls back the migration baking on the target its alert names. The worker here requires
// signed actions and lists only `alertmanager` under rollback: the receiver signs with its key.

const SECRET = 'test-secret-0123456789abcdef';
const ALERTMANAGER = '/usr/bin/prometheus-alertmanager';

let db: TestDatabase;
let t: TestTemporal;
let s: Signers;
let receiver: HttpServer;
let receiverUrl: string;
let seq = 0;

beforeAll(async () => {
  db = await createTestDatabase('godwit_alerts');
  await db.query('create table users (id bigint primary key)');
  s = makeSigners(['alertmanager', 'mallory']);
  const configFile = s.config(['alertmanager'], { alerted: { approve: [], reject: [], rollback: ['alertmanager'], resolve: [] } });
  t = await setupTemporal({ alerted: db.url });
  await t.startWorker({ configFile });
  receiver = createAlertsReceiver({ client: t.client, secret: SECRET, by: 'alertmanager', key: s.key.alertmanager! });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}${ALERTS_PATH}`;
});

afterAll(async () => {
  receiver?.close();
  await t?.close();
  await db?.drop();
});

/** A migration that bakes for an hour: only a rollback ends it soon. */
async function baking(): Promise<WorkflowHandle> {
  const id = `00${++seq}_baking`;
  const loaded = await manifestFrom(`
id: ${id}
operations:
  - add_column: { table: users, column: { name: c${seq}, type: int } }
policy: { approval: never, bake_seconds: 3600 }
`);
  const handle = await startMigration(t.client, t.settings, { target: 'alerted', loaded, requestedBy: 'ci' });
  await waitForState(handle, 'validated');
  return handle;
}

function webhook(labels: Record<string, string>) {
  return {
    version: '4',
    groupKey: '{}:{alertname="HighErrorRate"}',
    truncatedAlerts: 0,
    status: 'firing',
    receiver: 'godwit',
    groupLabels: { alertname: 'HighErrorRate' },
    commonLabels: { alertname: 'HighErrorRate', ...labels },
    commonAnnotations: { summary: '5xx ratio above 2%' },
    externalURL: 'http://alertmanager:9093',
    alerts: [{ status: 'firing', labels: { alertname: 'HighErrorRate', ...labels }, annotations: { summary: '5xx ratio above 2%' }, startsAt: new Date().toISOString(), endsAt: '0001-01-01T00:00:00Z', generatorURL: '', fingerprint: 'f1' }],
  };
}

function post(body: unknown, authorization?: string): Promise<Response> {
  return fetch(receiverUrl, { method: 'POST', headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) }, body: JSON.stringify(body) });
}

async function auditOf(migrationId: string): Promise<{ event: string; actor: string | null; reason: string | null }[]> {
  const { rows } = await db.query<{ event: string; actor: string | null; reason: string | null }>(
    `select event, actor, detail->>'reason' as reason from godwit.audit_log where migration_id = $1 order by seq`,
    [migrationId],
  );
  return rows;
}

describe('Alertmanager receiver', () => {
  it('refuses a webhook without the shared secret, or with a wrong one, and says nothing more', async () => {
    const handle = await baking();
    const payload = webhook({ godwit_target: 'alerted' });
    for (const authorization of [undefined, 'Bearer wrong-secret-0123456789', `Basic ${SECRET}`]) {
      const res = await post(payload, authorization);
      expect(res.status).toBe(401);
      expect(await res.json()).toEqual({ error: 'unauthorized' });
    }
    // Nothing reached the run: it still bakes.
    expect((await handle.describe()).status.name).toBe('RUNNING');
    await waitForState(handle, 'validated');
    await handle.terminate('test done');
    await db.query('delete from godwit.leases');
  });

  it('with the secret, rolls back the migration baking on the labelled target; the audit entry names the alert and the principal', async () => {
    const handle = await baking();
    const migrationId = (await handle.describe()).typedSearchAttributes.getAll().find((p) => p.key.name === 'GodwitMigrationId')!.value as string;
    const res = await post(webhook({ godwit_target: 'alerted' }), `Bearer ${SECRET}`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ actions: [{ target: 'alerted', migrationId: null, alertname: 'HighErrorRate', workflowId: handle.workflowId, result: 'rolling back' }] });
    const result = await resultOf(handle);
    expect(result.state).toBe('rolled_back');
    expect(result.reason).toBe('rollback requested by alertmanager: alertmanager:HighErrorRate: 5xx ratio above 2%');
    const fail = (await auditOf(migrationId)).find((e) => e.event === 'FAIL');
    expect(fail).toEqual({ event: 'FAIL', actor: 'alertmanager', reason: 'rollback requested by alertmanager: alertmanager:HighErrorRate: 5xx ratio above 2%' });
  });

  it('is refused by the worker when it rolls back unsigned where signed actions are required', async () => {
    const unsigned = createAlertsReceiver({ client: t.client, secret: SECRET, by: 'alertmanager' });
    await new Promise<void>((r) => unsigned.listen(0, '127.0.0.1', r));
    try {
      const handle = await baking();
      const url = `http://127.0.0.1:${(unsigned.address() as AddressInfo).port}${ALERTS_PATH}`;
      const res = await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${SECRET}` }, body: JSON.stringify(webhook({ godwit_target: 'alerted' })) });
      const body = (await res.json()) as { actions: { result: string }[] };
      expect(body.actions[0]?.result).toMatch(/^refused: cannot rollback: unsigned: the worker requires rollback to be signed/);
      expect((await handle.describe()).status.name).toBe('RUNNING');
      await handle.terminate('test done');
      await db.query('delete from godwit.leases');
    } finally {
      unsigned.close();
    }
  });

  it.skipIf(!existsSync(ALERTMANAGER))('rolls back through a real Alertmanager: an alert posted to its API is routed to the receiver', async () => {
    const handle = await baking();
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'godwit-alertmanager-'));
    writeFileSync(
      join(dir, 'alertmanager.yml'),
      `route:
  receiver: godwit
  group_by: [alertname, godwit_target]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: godwit
    webhook_configs:
      - url: ${receiverUrl}
        send_resolved: false
        http_config:
          authorization:
            type: Bearer
            credentials: ${SECRET}
`,
    );
    const am: ChildProcess = spawn(ALERTMANAGER, [`--config.file=${join(dir, 'alertmanager.yml')}`, `--storage.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--cluster.listen-address='], { stdio: 'ignore' });
    try {
      const api = `http://127.0.0.1:${port}`;
      while ((await fetch(`${api}/-/ready`).then((r) => r.status, () => 0)) !== 200) await new Promise((r) => setTimeout(r, 100));
      const posted = await fetch(`${api}/api/v2/alerts`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify([{ labels: { alertname: 'HighErrorRate', godwit_target: 'alerted', severity: 'page' }, annotations: { summary: '5xx ratio above 2%' } }]),
      });
      expect(posted.status).toBe(200);
      const result = await resultOf(handle);
      expect(result.state).toBe('rolled_back');
      expect(result.reason).toBe('rollback requested by alertmanager: alertmanager:HighErrorRate: 5xx ratio above 2%');
    } finally {
      am.kill('SIGTERM');
    }
  });
});

async function freePort(): Promise<number> {
  const server: Server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}
