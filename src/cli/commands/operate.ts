import { WorkflowNotFoundError, WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import { connectClient } from '../../client';
import { runUrl, temporalSettings, type TemporalSettings } from '../../config/temporal';
import { migrationWorkflowId } from '../../contract/migration';
import { revertWorkflowId } from '../../contract/revert';
import { actionSubjectQuery, approveUpdate, rejectUpdate, resolveUpdate, retryRollbackSignal, rollbackUpdate, stateQuery, tuneUpdate } from '../../contract/messages';
import { changeText, type ThrottleChange } from '../../throttle/settings';
import type { OperatorActionName, OperatorRequest } from '../../contract/migration';
import { canonicalPayload } from '../../auth/payload';
import { SigningError, sshSign } from '../../auth/ssh';
import { CliError } from '../exit-codes';
import { defaultRequester } from './apply';

export type OperatorAction = 'approve' | 'reject' | 'rollback' | 'resolve' | 'retry-rollback' | 'tune' | 'pause' | 'resume';

export interface OperateOptions {
  target: string;
  by?: string;
  note?: string;
  reason?: string;
  /** An SSH private key, or a public key the ssh-agent holds the private half of (default: $GODWIT_SIGNING_KEY). */
  key?: string;
  /** Address the migration's revert run (`godwit revert`) rather than its own run. */
  revert?: boolean;
  /** tune: the change to the run's pacing (pause and resume make their own). */
  change?: ThrottleChange;
  address?: string;
  namespace?: string;
  taskQueue?: string;
}

/**
 * The run an operator's verb goes to: the migration's own, or its revert (`--revert`, or when
 * the migration's run is closed and a revert of it is open: `godwit approve <id>` finds it).
 */
async function runningHandle(client: Client, settings: TemporalSettings, target: string, migrationId: string, revert = false) {
  if (!revert && (await isOpen(client, revertWorkflowId(target, migrationId))) && !(await isOpen(client, migrationWorkflowId(target, migrationId)))) revert = true;
  const workflowId = revert ? revertWorkflowId(target, migrationId) : migrationWorkflowId(target, migrationId);
  const handle = client.workflow.getHandle(workflowId);
  try {
    const d = await handle.describe();
    if (d.status.name !== 'RUNNING') {
      const state = d.typedSearchAttributes.getAll().find((p) => p.key.name === 'GodwitState')?.value ?? d.status.name.toLowerCase();
      throw new CliError(`migration ${migrationId} on target '${target}' is not running: it ended ${String(state)} (${runUrl(settings, workflowId, d.runId)})`);
    }
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) {
      throw new CliError(`no ${revert ? 'revert of ' : ''}migration ${migrationId} on target '${target}' (workflow ${workflowId}); list them with \`godwit status --target ${target}\``);
    }
    throw err;
  }
  return handle;
}

async function isOpen(client: Client, workflowId: string): Promise<boolean> {
  try {
    return (await client.workflow.getHandle(workflowId).describe()).status.name === 'RUNNING';
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return false;
    throw err;
  }
}

/**
 * Signs the action over the run's own target, migration id, run id and plan checksum, as the
 * run states them, so the signature is good for this run and this plan only.
 */
async function sign(handle: Awaited<ReturnType<typeof runningHandle>>, action: OperatorActionName, by: string, text: string | null, key: string): Promise<string> {
  const subject = await handle.query(actionSubjectQuery);
  const payload = canonicalPayload({ action, principal: by, target: subject.target, migrationId: subject.migrationId, runId: subject.runId, checksum: subject.checksum, text });
  try {
    return await sshSign(payload, key);
  } catch (err) {
    if (err instanceof SigningError) throw new CliError(`${err.message}; pass --key with an SSH private key file (or a public key whose private half your ssh-agent holds)`);
    throw err;
  }
}

/**
 * The operator's verbs: approve or reject a gated migration, ask a running one to
 * roll back, and retry or resolve one that is waiting in rollback_failed.
 */
export async function operateCommand(action: OperatorAction, migrationId: string, opts: OperateOptions, out: (line: string) => void = console.log): Promise<void> {
  const settings = await temporalSettings(opts);
  const client = await connectClient(settings);
  const by = opts.by ?? defaultRequester();
  try {
    const handle = await runningHandle(client, settings, opts.target, migrationId, opts.revert);
    try {
      const key = opts.key ?? process.env.GODWIT_SIGNING_KEY;
      const request = async (verb: OperatorActionName, text: string | undefined, field: 'note' | 'reason' | null): Promise<OperatorRequest> => ({
        by,
        ...(text !== undefined && field !== null ? { [field]: text } : {}),
        ...(key ? { signature: await sign(handle, verb, by, text ?? null, key) } : {}),
      });
      let settings: string | null = null;
      switch (action) {
        case 'approve':
          await handle.executeUpdate(approveUpdate, { args: [await request('approve', opts.note, 'note')] });
          break;
        case 'reject':
          await handle.executeUpdate(rejectUpdate, { args: [await request('reject', opts.reason, 'reason')] });
          break;
        case 'resolve':
          if (!opts.note?.trim()) throw new CliError('resolve needs --note "<what was done by hand>": it goes into the audit log');
          await handle.executeUpdate(resolveUpdate, { args: [{ ...(await request('resolve', opts.note, 'note')), note: opts.note }] });
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
          settings = await handle.executeUpdate(tuneUpdate, { args: [{ ...(await request('tune', changeText(change), null)), change }] });
          break;
        }
      }
      if (settings !== null) out(`pacing of ${migrationId} on '${opts.target}' is now: ${settings} (from its next batch)`);
    } catch (err) {
      if (err instanceof WorkflowUpdateFailedError) throw new CliError(`${action} refused: ${err.cause?.message ?? err.message}`);
      throw err;
    }
    const p = await handle.query(stateQuery).catch(() => null);
    out(`${action}: sent to ${migrationId} on '${opts.target}' by ${by}${opts.key ?? process.env.GODWIT_SIGNING_KEY ? ' (signed)' : ''}${p ? `; it is now ${p.state}` : ''}`);
    out(`  ${runUrl(settings, handle.workflowId)}`);
  } finally {
    await client.connection.close();
  }
}
