import type { ApprovalFacts } from './approval';

/** Lifecycle state names: one casing (snake_case) across the machine, the
 * GodwitState search attribute, the control schema and the CLI. */
export const MigrationState = {
  planned: 'planned',
  awaiting_approval: 'awaiting_approval',
  in_progress: 'in_progress',
  validated: 'validated',
  /** A health probe fired under on_unhealthy: ask; waiting for a person to roll back or dismiss it. */
  unhealthy: 'unhealthy',
  applied: 'applied',
  rejected: 'rejected',
  rolling_back: 'rolling_back',
  rolled_back: 'rolled_back',
  rollback_failed: 'rollback_failed',
  resolved_manually: 'resolved_manually',
} as const;
export type MigrationState = (typeof MigrationState)[keyof typeof MigrationState];

/** States a migration never leaves. */
export const FINAL_STATES: readonly MigrationState[] = ['applied', 'rejected', 'rolled_back', 'resolved_manually'];

export type LifecycleEvent =
  /** The plan's facts: the machine decides whether a person approves first (src/lifecycle/approval.ts). */
  | ({ type: 'START' } & ApprovalFacts)
  /** Applied before with the same checksum: nothing runs; the schema's fingerprint as prepare found it. */
  | { type: 'ALREADY_APPLIED'; fingerprint: string }
  | { type: 'APPROVE'; by: string }
  | { type: 'REJECT'; by: string; reason?: string }
  | { type: 'APPROVAL_TIMEOUT' }
  | { type: 'STEPS_DONE' }
  | { type: 'BAKE_PASSED' }
  | { type: 'UNHEALTHY'; reason: string }
  | { type: 'DISMISS'; by: string; note?: string }
  | { type: 'FAIL'; reason: string }
  | { type: 'ROLLBACK_VERIFIED' }
  | { type: 'ROLLBACK_FAILED'; reason: string }
  | { type: 'RETRY_ROLLBACK'; by?: string }
  | { type: 'RESOLVE'; by: string; note: string };

export type LifecycleEventType = LifecycleEvent['type'];
