/**
 * When `approval: auto` asks a person: pure, so the workflow can decide it from the plan
 * (and replay decides the same).
 */
import type { PlannedStep } from '../operations/types';

export type RiskLevel = 'low' | 'medium' | 'high';

const RANK: Record<RiskLevel, number> = { low: 0, medium: 1, high: 2 };

/** The default approval_risk: destructive steps, table rewrites and long exclusive locks. */
export const DEFAULT_APPROVAL_RISK: RiskLevel = 'high';

/** The default approval_timeout: a migration waits a day for its approval, then ends rejected. */
export const DEFAULT_APPROVAL_TIMEOUT = '24h';

/**
 * Why a plan needs an approval under `approval: auto`, or null: a step whose risk reaches
 * `threshold`, or a step that holds a lock blocking writes for a whole-table operation.
 */
export function autoApprovalReason(steps: readonly Pick<PlannedStep, 'index' | 'summary' | 'risk' | 'blocksWrites'>[], threshold: RiskLevel = DEFAULT_APPROVAL_RISK): string | null {
  const reasons: string[] = [];
  for (const s of steps) {
    if (s.blocksWrites !== undefined) reasons.push(`step ${s.index} (${s.summary}) holds ${s.blocksWrites.lock} on ${s.blocksWrites.table}: ${s.blocksWrites.reason}`);
    else if (RANK[s.risk] >= RANK[threshold]) reasons.push(`step ${s.index} (${s.summary}) is ${s.risk} risk`);
  }
  return reasons.length === 0 ? null : `approval: auto asks a person when a step reaches ${threshold} risk: ${reasons.join('; ')}`;
}

/** What the plan says about asking a person: the facts the lifecycle machine's START carries. */
export interface ApprovalFacts {
  /** The manifest's policy.approval. */
  approval: 'auto' | 'required' | 'never';
  /** The planned steps, weighed under `approval: auto`. */
  steps: readonly Pick<PlannedStep, 'index' | 'summary' | 'risk' | 'blocksWrites'>[];
  /** The manifest's approval_risk (default DEFAULT_APPROVAL_RISK). */
  approvalRisk?: RiskLevel | undefined;
  /**
   * False for runs started before `approval: auto` weighed the plan's risk (no
   * `approval-auto-risk` patch marker in their history): auto never asked then.
   */
  weighRisk: boolean;
}

/** Why a run must wait for a person before its first step, or null when it goes on at once. */
export function approvalReason(facts: ApprovalFacts): string | null {
  if (facts.approval === 'required') return 'approval: required asks a person before every run of this migration';
  if (facts.approval === 'auto' && facts.weighRisk) return autoApprovalReason(facts.steps, facts.approvalRisk);
  return null;
}
