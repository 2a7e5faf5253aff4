import { GodwitError } from '../errors';
import { assign, initialTransition, setup, transition, type SnapshotFrom } from 'xstate';
import type { LifecycleEvent, MigrationState } from './states';
import { approvalReason } from './approval';

export interface LifecycleContext {
  migrationId: string;
  /** Why the migration is rolling back / failed to roll back. */
  reason: string | null;
  approvedBy: string | null;
  rejectedBy: string | null;
  resolvedBy: string | null;
  resolutionNote: string | null;
  rollbackAttempts: number;
  /** Who last dismissed a firing health probe (on_unhealthy: ask), and why. */
  dismissedBy: string | null;
  dismissalNote: string | null;
  /** Why the run waits for a person before its first step (decided on START), or null. */
  approvalReason: string | null;
  /** True when the manifest was applied before with the same checksum, so nothing ran. */
  alreadyApplied: boolean;
  /** The schema's fingerprint when the run found the migration already applied, else null. */
  alreadyAppliedFingerprint: string | null;
}

/**
 * The migration lifecycle. Pure: no actors, no delays, no side effects; the
 * workflow steps it with `transition()` and acts on the state it lands in. It
 * is the only place that decides which transitions are legal.
 */
export const lifecycleMachine = setup({
  types: {
    context: {} as LifecycleContext,
    events: {} as LifecycleEvent,
    input: {} as { migrationId: string },
  },
  guards: {
    /** approval: required, or auto with a step risky enough (approval.ts decides, purely). */
    needsApproval: ({ event }) => event.type === 'START' && approvalReason(event) !== null,
  },
  actions: {
    recordApprovalReason: assign({ approvalReason: ({ event }) => (event.type === 'START' ? approvalReason(event) : null) }),
    recordAlreadyApplied: assign({
      alreadyApplied: true,
      alreadyAppliedFingerprint: ({ event }) => (event.type === 'ALREADY_APPLIED' ? event.fingerprint : null),
    }),
    recordReason: assign({
      reason: ({ event }) => ('reason' in event && event.reason !== undefined ? event.reason : null),
    }),
    recordApprover: assign({ approvedBy: ({ event }) => (event.type === 'APPROVE' ? event.by : null) }),
    recordRejecter: assign({
      rejectedBy: ({ event }) => (event.type === 'REJECT' ? event.by : null),
      reason: ({ event }) => (event.type === 'REJECT' ? (event.reason ?? 'rejected') : 'approval timed out'),
    }),
    recordDismissal: assign({
      dismissedBy: ({ event }) => (event.type === 'DISMISS' ? event.by : null),
      dismissalNote: ({ event }) => (event.type === 'DISMISS' ? (event.note ?? null) : null),
      reason: null,
    }),
    countRollbackAttempt: assign({ rollbackAttempts: ({ context }) => context.rollbackAttempts + 1 }),
    recordResolution: assign({
      resolvedBy: ({ event }) => (event.type === 'RESOLVE' ? event.by : null),
      resolutionNote: ({ event }) => (event.type === 'RESOLVE' ? event.note : null),
    }),
  },
}).createMachine({
  id: 'migration',
  initial: 'planned',
  context: ({ input }) => ({
    migrationId: input.migrationId,
    reason: null,
    approvedBy: null,
    rejectedBy: null,
    resolvedBy: null,
    resolutionNote: null,
    rollbackAttempts: 0,
    dismissedBy: null,
    dismissalNote: null,
    approvalReason: null,
    alreadyApplied: false,
    alreadyAppliedFingerprint: null,
  }),
  states: {
    planned: {
      on: {
        START: [{ guard: 'needsApproval', target: 'awaiting_approval', actions: 'recordApprovalReason' }, { target: 'in_progress' }],
        // A manifest applied before with the same checksum: nothing to do.
        ALREADY_APPLIED: { target: 'applied', actions: 'recordAlreadyApplied' },
      },
    },
    awaiting_approval: {
      on: {
        APPROVE: { target: 'in_progress', actions: 'recordApprover' },
        REJECT: { target: 'rejected', actions: 'recordRejecter' },
        APPROVAL_TIMEOUT: { target: 'rejected', actions: 'recordRejecter' },
      },
    },
    in_progress: {
      on: {
        STEPS_DONE: 'validated',
        FAIL: { target: 'rolling_back', actions: ['recordReason', 'countRollbackAttempt'] },
      },
    },
    validated: {
      on: {
        BAKE_PASSED: 'applied',
        FAIL: { target: 'rolling_back', actions: ['recordReason', 'countRollbackAttempt'] },
        // A health probe fired and on_unhealthy is ask: a person decides.
        UNHEALTHY: { target: 'unhealthy', actions: 'recordReason' },
      },
    },
    unhealthy: {
      on: {
        // Confirmed (godwit rollback), or nobody answered within ask_timeout, or max_duration ran out.
        FAIL: { target: 'rolling_back', actions: ['recordReason', 'countRollbackAttempt'] },
        // godwit approve: the alarm was not the migration's doing; the bake goes on.
        DISMISS: { target: 'validated', actions: 'recordDismissal' },
      },
    },
    rolling_back: {
      on: {
        ROLLBACK_VERIFIED: 'rolled_back',
        ROLLBACK_FAILED: { target: 'rollback_failed', actions: 'recordReason' },
      },
    },
    rollback_failed: {
      on: {
        RETRY_ROLLBACK: { target: 'rolling_back', actions: 'countRollbackAttempt' },
        RESOLVE: { target: 'resolved_manually', actions: 'recordResolution' },
      },
    },
    applied: { type: 'final' },
    rejected: { type: 'final' },
    rolled_back: { type: 'final' },
    resolved_manually: { type: 'final' },
  },
});

export type LifecycleSnapshot = SnapshotFrom<typeof lifecycleMachine>;

/** Thrown when an event is not legal in the current state. */
export class IllegalTransitionError extends GodwitError {
  override readonly name = 'IllegalTransitionError';
  constructor(
    readonly state: MigrationState,
    readonly event: LifecycleEvent['type'],
  ) {
    super(`event ${event} is not allowed in state ${state}`);
  }
}

export function startLifecycle(migrationId: string): LifecycleSnapshot {
  const [snapshot] = initialTransition(lifecycleMachine, { migrationId });
  return snapshot;
}

export function stateOf(snapshot: LifecycleSnapshot): MigrationState {
  return snapshot.value as MigrationState;
}

/** Steps the machine; refuses (throws) rather than ignoring an illegal event. */
export function step(snapshot: LifecycleSnapshot, event: LifecycleEvent): LifecycleSnapshot {
  if (!snapshot.can(event)) throw new IllegalTransitionError(stateOf(snapshot), event.type);
  const [next] = transition(lifecycleMachine, snapshot, event);
  return next;
}
