import type { Client } from '@temporalio/client';
import { runUrl, type TemporalSettings } from '../config/temporal';
import { migrationWorkflowId, type OperatorActionName, type OperatorRequest } from '../contract/migration';
import { revertWorkflowId } from '../contract/revert';
import { changeText, type ThrottleChange } from '../throttle/settings';
import { canonicalPayload } from '../auth/payload';
import { SigningError, sshSign } from '../auth/ssh';
import { RequestError, signingFailed } from './errors';
import { defaultRequester } from './requester';
import { withTemporal, type TemporalOptions } from './session';

/** The operator's verbs. */
export type OperatorAction = 'approve' | 'reject' | 'rollback' | 'resolve' | 'retry-rollback' | 'tune' | 'pause' | 'resume';

export interface OperateOptions extends TemporalOptions {
  target: string;
  /** Who does it (default: defaultRequester()). */
  by?: string;
  /** approve, resolve: a note for the audit log (resolve needs one). */
  note?: string;
  /** reject, rollback: why. */
  reason?: string;
  /** Sign with this SSH key: a private key, or a public key the ssh-agent holds the private half of (default: $GODWIT_SIGNING_KEY). */
  key?: string;
  /** Address the migration's revert run (`godwit revert`) rather than its own run. */
  revert?: boolean;
  /** tune: the change to the run's pacing (pause and resume make their own). */
  change?: ThrottleChange;
}

export interface OperateResult {
  action: OperatorAction;
  migrationId: string;
  target: string;
  by: string;
  signed: boolean;
  workflowId: string;
  url: string;
  /** The run's state once it took the action, when it answered. */
  state: string | null;
  /** tune, pause, resume: the pacing in force afterwards, as one line. */
  pacing: string | null;
}

async function isOpen(client: Client, workflowId: string): Promise<boolean> {
  const { WorkflowNotFoundError } = await import('../client/connect');
  try {
    return (await client.workflow.getHandle(workflowId).describe()).status.name === 'RUNNING';
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return false;
    throw err;
  }
}

/**
 * The run an operator's verb goes to: the migration's own, or its revert (`revert`, or when
 * the migration's run is closed and a revert of it is open: `godwit approve <id>` finds it).
 */
async function runningHandle(client: Client, settings: TemporalSettings, target: string, migrationId: string, revert = false) {
  const { WorkflowNotFoundError } = await import('../client/connect');
  if (!revert && (await isOpen(client, revertWorkflowId(target, migrationId))) && !(await isOpen(client, migrationWorkflowId(target, migrationId)))) revert = true;
  const workflowId = revert ? revertWorkflowId(target, migrationId) : migrationWorkflowId(target, migrationId);
  const handle = client.workflow.getHandle(workflowId);
  try {
    const d = await handle.describe();
    if (d.status.name !== 'RUNNING') {
      const state = d.typedSearchAttributes.getAll().find((p) => p.key.name === 'GodwitState')?.value ?? d.status.name.toLowerCase();
      throw new RequestError(`migration ${migrationId} on target '${target}' is not running: it ended ${String(state)} (${runUrl(settings, workflowId, d.runId)})`);
    }
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) {
      throw new RequestError(`no ${revert ? 'revert of ' : ''}migration ${migrationId} on target '${target}' (workflow ${workflowId}); list them with \`godwit status --target ${target}\``);
    }
    throw err;
  }
  return handle;
}

type RunHandle = Awaited<ReturnType<typeof runningHandle>>;

/**
 * Signs the action over the run's own target, migration id, run id and plan checksum, as the
 * run states them, so the signature is good for this run and this plan only.
 */
async function sign(handle: RunHandle, action: OperatorActionName, by: string, text: string | null, key: string): Promise<string> {
  const { actionSubjectQuery } = await import('../contract/messages');
  const subject = await handle.query(actionSubjectQuery);
  const payload = canonicalPayload({ action, principal: by, target: subject.target, migrationId: subject.migrationId, runId: subject.runId, checksum: subject.checksum, text });
  try {
    return await sshSign(payload, key);
  } catch (err) {
    if (err instanceof SigningError) throw signingFailed(err);
    throw err;
  }
}

/**
 * Sends an operator's verb to a running migration (or its revert): approve or reject a gated
 * one, ask one to roll back, retry or resolve one waiting in rollback_failed, or change the
 * pacing of its batched data steps (tune, pause, resume). Throws RequestError when the run is
 * not running or refuses the action.
 */
export async function operate(action: OperatorAction, migrationId: string, opts: OperateOptions): Promise<OperateResult> {
  const by = opts.by ?? defaultRequester();
  const key = opts.key ?? process.env.GODWIT_SIGNING_KEY;
  return withTemporal(opts, async (client, settings) => {
    const { WorkflowUpdateFailedError } = await import('../client/connect');
    const { approveUpdate, rejectUpdate, resolveUpdate, retryRollbackSignal, rollbackUpdate, stateQuery, tuneUpdate } = await import('../contract/messages');
    const handle = await runningHandle(client, settings, opts.target, migrationId, opts.revert);
    const request = async (verb: OperatorActionName, text: string | undefined, field: 'note' | 'reason' | null): Promise<OperatorRequest> => ({
      by,
      ...(text !== undefined && field !== null ? { [field]: text } : {}),
      ...(key ? { signature: await sign(handle, verb, by, text ?? null, key) } : {}),
    });
    let pacing: string | null = null;
    try {
      switch (action) {
        case 'approve':
          await handle.executeUpdate(approveUpdate, { args: [await request('approve', opts.note, 'note')] });
          break;
        case 'reject':
          await handle.executeUpdate(rejectUpdate, { args: [await request('reject', opts.reason, 'reason')] });
          break;
        case 'resolve':
          if (!opts.note?.trim()) throw new RequestError('resolve needs --note "<what was done by hand>": it goes into the audit log');
          await handle.executeUpdate(resolveUpdate, { args: [{ ...(await request('resolve', opts.note, 'note')), note: opts.note! }] });
          break;
        case 'rollback':
          await handle.executeUpdate(rollbackUpdate, { args: [await request('rollback', opts.reason, 'reason')] });
          break;
        case 'retry-rollback':
          await handle.signal(retryRollbackSignal, { by });
          break;
        case 'tune':
        case 'pause':
        case 'resume': {
          const change: ThrottleChange = action === 'pause' ? { paused: true } : action === 'resume' ? { paused: false } : (opts.change ?? {});
          pacing = await handle.executeUpdate(tuneUpdate, { args: [{ ...(await request('tune', changeText(change), null)), change }] });
          break;
        }
      }
    } catch (err) {
      if (err instanceof WorkflowUpdateFailedError) throw new RequestError(`${action} refused: ${err.cause?.message ?? err.message}`);
      throw err;
    }
    const p = await handle.query(stateQuery).catch(() => null);
    return { action, migrationId, target: opts.target, by, signed: Boolean(key), workflowId: handle.workflowId, url: runUrl(settings, handle.workflowId), state: p?.state ?? null, pacing };
  });
}
