/**
 * When a revert asks a person: pure, so the revert workflow decides it from the recorded
 * plans (and replay decides the same). A revert is a change of its own: undoing a step that
 * created a table or column drops what the application wrote there since, which no copy kept.
 */
import type { PlannedStep } from '../operations/types';
import type { MigrationPolicy } from '../contract/migration';
import { autoApprovalReason } from './approval';

/** Step kinds whose undo drops objects the application may have written to since the migration. */
const UNDO_DROPS_DATA = new Set(['create_table', 'add_column', 'sql']);

export interface RevertedPlan {
  migrationId: string;
  steps: readonly Pick<PlannedStep, 'index' | 'summary' | 'risk' | 'blocksWrites' | 'kind'>[];
  policy: Pick<MigrationPolicy, 'approval' | 'approval_risk'>;
}

/**
 * Why a revert needs an approval, or null. Each migration's own policy decides, as for apply:
 * `required` always asks, `never` never does, and `auto` asks when a step's undo drops data
 * written since, or the step itself reached the policy's approval_risk.
 */
export function revertApprovalReason(plans: readonly RevertedPlan[]): string | null {
  const reasons: string[] = [];
  for (const p of plans) {
    if (p.policy.approval === 'never') continue;
    if (p.policy.approval === 'required') {
      reasons.push(`${p.migrationId} has approval: required`);
      continue;
    }
    const drops = p.steps.filter((s) => UNDO_DROPS_DATA.has(s.kind)).map((s) => `undoing step ${s.index} (${s.summary}) drops what the application wrote there since`);
    const risky = autoApprovalReason(p.steps, p.policy.approval_risk);
    if (drops.length > 0) reasons.push(`${p.migrationId}: ${drops.join('; ')}`);
    if (risky !== null) reasons.push(`${p.migrationId}: ${risky}`);
  }
  return reasons.length === 0 ? null : `a revert asks a person: ${reasons.join('; ')}`;
}
