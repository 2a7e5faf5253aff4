import type { PlannedStep } from '../operations/types';
import type { AuditEntry } from '../db/audit';
import type { RevertState } from '../lifecycle/revert-machine';
import type { AuditHeadResult, MigrationPolicy, RollbackProof, RunScope, StepProgress } from './migration';

// What crosses the revert workflow's boundary: plain JSON data (see migration.ts).

export const REVERT_WORKFLOW_TYPE = 'revertWorkflow';

/** The memo key under which a revert run lists the migrations it reverts, newest first (`godwit status` reads it). */
export const REVERT_CHAIN_MEMO = 'godwitRevertChain';

/** `godwit/<target>/<migration id>/revert`: one revert run at a time per migration per target. */
export function revertWorkflowId(target: string, migrationId: string): string {
  return `godwit/${target}/${migrationId}${REVERT_WORKFLOW_SUFFIX}`;
}

export const REVERT_WORKFLOW_SUFFIX = '/revert';

export interface RevertInput {
  target: string;
  /** The applied migration to revert (the newest of the chain with `to`). */
  migrationId: string;
  /** Revert every applied migration from `migrationId` back to and including this one, newest first. */
  to?: string;
  requestedBy: string;
  /** The requester's SSH signature over canonicalRevertRequest() (`godwit revert --key`). */
  requestSignature?: string;
}

/** One applied migration the revert takes back, as its run recorded it. */
export interface RevertedRun {
  migrationId: string;
  /** The applied run whose plan is undone, and whose copies and retired objects are used. */
  runId: string;
  workflowId: string;
  checksum: string;
  steps: PlannedStep[];
  policy: MigrationPolicy;
}

export interface PrepareRevertInput extends RunScope, RevertInput {}

export interface PrepareRevertResult extends AuditHeadResult {
  token: string;
  /** Newest first: the order they are undone in. */
  chain: RevertedRun[];
}

export interface RevertStepInput extends RunScope {
  token: string;
  /** The run being undone and the step of its recorded plan. */
  original: { migrationId: string; runId: string; workflowId: string };
  step: PlannedStep;
  policy: MigrationPolicy;
  audit: AuditEntry[];
}

export interface VerifyRevertInput extends RunScope {
  token: string;
  original: { migrationId: string; runId: string };
  audit: AuditEntry[];
}

export interface RevertProof extends RollbackProof {
  migrationId: string;
  /** What the schema was compared with: the fingerprint recorded before the migration ran, or that with later migrations' objects kept. */
  expected: 'fingerprint_before' | 'fingerprint_before_with_later_changes';
}

export type VerifyRevertResult = RevertProof & AuditHeadResult;

export interface FinishRevertInput extends RunScope {
  token: string;
  state: RevertState;
  audit: AuditEntry[];
  reason: string | null;
  /** Migrations proven reverted by this call: marked `reverted` in godwit.migrations. */
  reverted: { migrationId: string; runId: string }[];
  /** Set the chain's migrations that are not reverted back to applied (a rejected revert). */
  restoreApplied: boolean;
  releaseLease: boolean;
  approvedBy?: string | null;
}

export interface RevertProgress {
  target: string;
  migrationId: string;
  to: string | null;
  state: RevertState;
  currentStep: string | null;
  /** The chain, newest first, each with its steps in the order they are undone. */
  migrations: { migrationId: string; runId: string; state: 'applied' | 'reverting' | 'reverted'; steps: StepProgress[] }[];
  transitions: { event: string; from: RevertState; to: RevertState; at: string; reason?: string }[];
  reason: string | null;
  approvalReason?: string;
  proofs: RevertProof[];
}

export type RevertOutcome = 'reverted' | 'revert_rejected' | 'revert_resolved_manually';

/**
 * The failure type a revert that did not end reverted fails with (runs with the
 * `godwit-revert-failed-outcomes` patch): listed as Failed in the Temporal UI, with the whole
 * RevertResult as the failure's first detail. src/contract/outcome.ts reads it back.
 */
export const REVERT_OUTCOME_FAILURE_TYPE = {
  revert_rejected: 'RevertRejected',
  revert_resolved_manually: 'RevertResolvedManually',
} as const satisfies Record<Exclude<RevertOutcome, 'reverted'>, string>;

export interface RevertResult extends RevertProgress {
  outcome: RevertOutcome;
}

/** The revert workflow's signature (workflows/revert.ts), for the client's typed handles. */
export type RevertWorkflow = (input: RevertInput) => Promise<RevertResult>;
