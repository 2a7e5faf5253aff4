import { WorkflowNotFoundError, WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import { connectClient } from '../../client';
import { runUrl, temporalSettings, type TemporalSettings } from '../../config/temporal';
import { migrationWorkflowId } from '../../../workflows/definitions';
import { approveUpdate, rejectUpdate, resolveUpdate, retryRollbackSignal, rollbackSignal, stateQuery } from '../../../workflows/messages';
import { CliError } from '../exit-codes';
import { defaultRequester } from './apply';

export type OperatorAction = 'approve' | 'reject' | 'rollback' | 'resolve' | 'retry-rollback';

export interface OperateOptions {
  target: string;
  by?: string;
  note?: string;
  reason?: string;
  address?: string;
  namespace?: string;
  taskQueue?: string;
}

async function runningHandle(client: Client, settings: TemporalSettings, target: string, migrationId: string) {
  const workflowId = migrationWorkflowId(target, migrationId);
  const handle = client.workflow.getHandle(workflowId);
  try {
    const d = await handle.describe();
    if (d.status.name !== 'RUNNING') {
      const state = d.typedSearchAttributes.getAll().find((p) => p.key.name === 'GodwitState')?.value ?? d.status.name.toLowerCase();
      throw new CliError(`migration ${migrationId} on target '${target}' is not running: it ended ${String(state)} (${runUrl(settings, workflowId, d.runId)})`);
    }
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) {
      throw new CliError(`no migration ${migrationId} on target '${target}' (workflow ${workflowId}); list them with \`godwit status --target ${target}\``);
    }
    throw err;
  }
  return handle;
}

/**
 * The operator's verbs: approve or reject a gated migration, ask a running one to
 * roll back, and retry or resolve one that is waiting in rollback_failed.
 */
export async function operateCommand(action: OperatorAction, migrationId: string, opts: OperateOptions, out: (line: string) => void = console.log): Promise<void> {
  const settings = temporalSettings(opts);
  const client = await connectClient(settings);
  const by = opts.by ?? defaultRequester();
  try {
    const handle = await runningHandle(client, settings, opts.target, migrationId);
    try {
      switch (action) {
        case 'approve':
          await handle.executeUpdate(approveUpdate, { args: [{ by, ...(opts.note ? { note: opts.note } : {}) }] });
          break;
        case 'reject':
          await handle.executeUpdate(rejectUpdate, { args: [{ by, ...(opts.reason ? { reason: opts.reason } : {}) }] });
          break;
        case 'resolve':
          if (!opts.note?.trim()) throw new CliError('resolve needs --note "<what was done by hand>": it goes into the audit log');
          await handle.executeUpdate(resolveUpdate, { args: [{ by, note: opts.note }] });
          break;
        case 'rollback':
          await handle.signal(rollbackSignal, { by, ...(opts.reason ? { reason: opts.reason } : {}) });
          break;
        case 'retry-rollback':
          await handle.signal(retryRollbackSignal, { by });
          break;
      }
    } catch (err) {
      if (err instanceof WorkflowUpdateFailedError) throw new CliError(`${action} refused: ${err.cause?.message ?? err.message}`);
      throw err;
    }
    const p = await handle.query(stateQuery).catch(() => null);
    out(`${action}: sent to ${migrationId} on '${opts.target}' by ${by}${p ? `; it is now ${p.state}` : ''}`);
    out(`  ${runUrl(settings, handle.workflowId)}`);
  } finally {
    await client.connection.close();
  }
}
