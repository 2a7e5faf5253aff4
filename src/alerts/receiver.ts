/**
 * The Alertmanager receiver: an HTTP endpoint that turns Alertmanager's webhook into a
 * rollback of the migration running on the target the alert names. Alertmanager
 * authenticates with a shared secret (`Authorization: Bearer <secret>`, its webhook's
 * http_config.authorization); anything else is refused with 401 and no detail. The rollback
 * is an operator action like `godwit rollback`: by a principal (default `alertmanager`),
 * signed with its SSH key when the worker requires signed actions, audited by the worker
 * with the alert's name as its reason.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { WorkflowNotFoundError, WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import { canonicalPayload } from '../auth/payload';
import { sshSign } from '../auth/ssh';
import { migrationWorkflowId, WORKFLOW_TYPE, type OperatorRequest } from '../contract/migration';
import { actionSubjectQuery, rollbackUpdate } from '../contract/messages';
import { targetQuery } from '../client/audit-heads';
import { AlertmanagerPayload, rollbackRequests, type RollbackRequest } from './payload';
import { GodwitError } from '../errors';

/** The path Alertmanager posts to (`webhook_configs[].url`). */
export const ALERTS_PATH = '/alertmanager';
/** The shortest secret the receiver accepts. */
export const MIN_SECRET_LENGTH = 16;
const MAX_BODY_BYTES = 1 << 20;

export interface ReceiverOptions {
  client: Client;
  /** The shared secret Alertmanager sends as its bearer token. */
  secret: string;
  /** The principal the rollbacks are made by: listed under rollback in the worker's godwit.yaml. */
  by: string;
  /** The principal's SSH key, to sign each rollback where the worker requires signed actions. */
  key?: string;
  /** Where the receiver says what it did (one line per action). */
  log?: (line: string) => void;
}

/** What the receiver did with one alert's request. */
export interface AlertAction extends Omit<RollbackRequest, 'reason'> {
  workflowId: string | null;
  /** `rolling back`: the run took the rollback; otherwise why nothing was done. */
  result: string;
}

/** Thrown when the receiver's configuration is not usable. */
export class AlertsReceiverConfigError extends GodwitError {
  override readonly name = 'AlertsReceiverConfigError';
}

/** Constant-time comparison of the presented bearer token with the secret (both hashed first, so lengths do not leak either). */
export function bearerMatches(header: string | undefined, secret: string): boolean {
  const m = /^Bearer (.+)$/.exec(header ?? '');
  const given = createHash('sha256').update(m?.[1] ?? '').digest();
  const wanted = createHash('sha256').update(secret).digest();
  return timingSafeEqual(given, wanted) && m !== null;
}

async function readBody(req: IncomingMessage): Promise<string | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) return null;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function reply(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

/** The running migration workflows an alert names: its migration's, or every running one on its target. */
async function runningMigrations(client: Client, r: RollbackRequest): Promise<string[]> {
  if (r.migrationId !== null) return [migrationWorkflowId(r.target, r.migrationId)];
  const ids: string[] = [];
  const query = `${targetQuery(r.target)} AND WorkflowType = '${WORKFLOW_TYPE}' AND ExecutionStatus = 'Running'`;
  for await (const wf of client.workflow.list({ query })) ids.push(wf.workflowId);
  return ids;
}

async function rollBack(opts: ReceiverOptions, r: RollbackRequest, workflowId: string): Promise<string> {
  const handle = opts.client.workflow.getHandle(workflowId);
  const request: OperatorRequest = { by: opts.by, reason: r.reason };
  try {
    if (opts.key) {
      const s = await handle.query(actionSubjectQuery);
      request.signature = await sshSign(
        canonicalPayload({ action: 'rollback', principal: opts.by, target: s.target, migrationId: s.migrationId, runId: s.runId, checksum: s.checksum, text: r.reason }),
        opts.key,
      );
    }
    await handle.executeUpdate(rollbackUpdate, { args: [request] });
    return 'rolling back';
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError) return `refused: ${err.cause?.message ?? err.message}`;
    if (err instanceof WorkflowNotFoundError) return 'no such migration running';
    throw err;
  }
}

/** Handles one authenticated payload: a rollback per firing alert that names a target. */
export async function handleAlerts(opts: ReceiverOptions, payload: AlertmanagerPayload): Promise<AlertAction[]> {
  const actions: AlertAction[] = [];
  for (const r of rollbackRequests(payload)) {
    const { reason: _reason, ...named } = r;
    const workflows = await runningMigrations(opts.client, r);
    if (workflows.length === 0) actions.push({ ...named, workflowId: null, result: `no migration running on '${r.target}'` });
    for (const workflowId of workflows) actions.push({ ...named, workflowId, result: await rollBack(opts, r, workflowId) });
  }
  for (const a of actions) opts.log?.(`alert ${a.alertname} → ${a.target}${a.migrationId ? `/${a.migrationId}` : ''}: ${a.result}`);
  return actions;
}

/**
 * The receiver's HTTP server (not yet listening). Only `POST /alertmanager` with the right
 * bearer token is read; a payload that is not Alertmanager's version 4 gets 400, a Temporal
 * that cannot be reached 503 (Alertmanager retries 5xx).
 */
export function createAlertsReceiver(opts: ReceiverOptions): Server {
  if (opts.secret.length < MIN_SECRET_LENGTH) {
    throw new AlertsReceiverConfigError(`the shared secret must be at least ${MIN_SECRET_LENGTH} characters (e.g. \`openssl rand -hex 32\`); set GODWIT_ALERTS_SECRET`);
  }
  return createServer((req, res) => {
    void (async () => {
      const path = new URL(req.url ?? '/', 'http://receiver').pathname;
      // Authentication first, for every path and method: an unauthenticated caller learns nothing.
      if (!bearerMatches(req.headers.authorization, opts.secret)) return reply(res, 401, { error: 'unauthorized' }, { 'www-authenticate': 'Bearer' });
      if (path !== ALERTS_PATH) return reply(res, 404, { error: `not found: alerts go to POST ${ALERTS_PATH}` });
      if (req.method !== 'POST') return reply(res, 405, { error: `method ${req.method} not allowed: POST the webhook` }, { allow: 'POST' });
      const body = await readBody(req);
      if (body === null) return reply(res, 413, { error: `payload larger than ${MAX_BODY_BYTES} bytes` });
      let json: unknown;
      try {
        json = JSON.parse(body);
      } catch {
        return reply(res, 400, { error: 'the body is not JSON: expected Alertmanager webhook payload version 4' });
      }
      const parsed = AlertmanagerPayload.safeParse(json);
      if (!parsed.success) {
        return reply(res, 400, { error: `not an Alertmanager webhook payload (version 4): ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}` });
      }
      try {
        reply(res, 200, { actions: await handleAlerts(opts, parsed.data) });
      } catch (err) {
        opts.log?.(`alerts not handled: ${(err as Error).message}`);
        reply(res, 503, { error: 'Temporal could not be reached; Alertmanager will retry' });
      }
    })();
  });
}
