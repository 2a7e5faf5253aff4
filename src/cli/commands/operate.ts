import { operate, type OperateOptions, type OperatorAction } from '../../library/operate';

export type { OperatorAction, OperateOptions };

/**
 * The operator's verbs: approve or reject a gated migration, ask a running one to
 * roll back, retry or resolve one that is waiting in rollback_failed, and tune, pause or
 * resume the pacing of its batched data steps.
 */
export async function operateCommand(action: OperatorAction, migrationId: string, opts: OperateOptions, out: (line: string) => void = console.log): Promise<void> {
  const r = await operate(action, migrationId, opts);
  if (r.pacing !== null) out(`pacing of ${migrationId} on '${opts.target}' is now: ${r.pacing} (from its next batch)`);
  out(`${action}: sent to ${migrationId} on '${opts.target}' by ${r.by}${r.signed ? ' (signed)' : ''}${r.state !== null ? `; it is now ${r.state}` : ''}`);
  out(`  ${r.url}`);
}
