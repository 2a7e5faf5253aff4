import { GodwitError } from '../errors';
import { assign, initialTransition, setup, transition, type SnapshotFrom } from 'xstate';
import { revertApprovalReason, type RevertedPlan } from './revert-approval';

/**
 * The lifecycle of a revert run (workflows/revert.ts): the same shape as a migration's, with
 * its own names, so `godwit status` and the GodwitState search attribute never mistake a
 * revert that waits or was rejected for the migration itself.
 *
 * ```
 * revert_planned --START--> revert_awaiting_approval? --APPROVE--> reverting
 * revert_awaiting_approval --REJECT/APPROVAL_TIMEOUT--> revert_rejected
 * reverting --REVERT_VERIFIED--> reverted
 * reverting --REVERT_FAILED--> revert_failed --RETRY_REVERT--> reverting
 * revert_failed --RESOLVE--> revert_resolved_manually
 * ```
 */
export const RevertState = {
  revert_planned: 'revert_planned',
  revert_awaiting_approval: 'revert_awaiting_approval',
  reverting: 'reverting',
  reverted: 'reverted',
  revert_rejected: 'revert_rejected',
  revert_failed: 'revert_failed',
  revert_resolved_manually: 'revert_resolved_manually',
} as const;
export type RevertState = (typeof RevertState)[keyof typeof RevertState];

export const FINAL_REVERT_STATES: readonly RevertState[] = ['reverted', 'revert_rejected', 'revert_resolved_manually'];

export type RevertEvent =
  /** The recorded plans the revert undoes, with their policies: the machine decides whether a person approves first. */
  | { type: 'START'; plans: readonly RevertedPlan[] }
  | { type: 'APPROVE'; by: string }
  | { type: 'REJECT'; by: string; reason?: string }
  | { type: 'APPROVAL_TIMEOUT' }
  | { type: 'REVERT_VERIFIED' }
  | { type: 'REVERT_FAILED'; reason: string }
  | { type: 'RETRY_REVERT' }
  | { type: 'RESOLVE'; by: string; note: string };

export interface RevertContext {
  reason: string | null;
  attempts: number;
  /** Why the revert waits for a person before it undoes anything (decided on START), or null. */
  approvalReason: string | null;
}

export const revertMachine = setup({
  types: { context: {} as RevertContext, events: {} as RevertEvent },
  guards: {
    /** Under the reverted migrations' own policies (revert-approval.ts decides, purely). */
    needsApproval: ({ event }) => event.type === 'START' && revertApprovalReason(event.plans) !== null,
  },
  actions: {
    recordApprovalReason: assign({ approvalReason: ({ event }) => (event.type === 'START' ? revertApprovalReason(event.plans) : null) }),
    recordReason: assign({ reason: ({ event }) => ('reason' in event && event.reason !== undefined ? event.reason : null) }),
    recordRejection: assign({ reason: ({ event }) => (event.type === 'REJECT' ? (event.reason ?? `rejected by ${event.by}`) : 'approval timed out') }),
    countAttempt: assign({ attempts: ({ context }) => context.attempts + 1 }),
  },
}).createMachine({
  id: 'revert',
  initial: 'revert_planned',
  context: { reason: null, attempts: 0, approvalReason: null },
  states: {
    revert_planned: {
      on: { START: [{ guard: 'needsApproval', target: 'revert_awaiting_approval', actions: 'recordApprovalReason' }, { target: 'reverting', actions: 'countAttempt' }] },
    },
    revert_awaiting_approval: {
      on: {
        APPROVE: { target: 'reverting', actions: 'countAttempt' },
        REJECT: { target: 'revert_rejected', actions: 'recordRejection' },
        APPROVAL_TIMEOUT: { target: 'revert_rejected', actions: 'recordRejection' },
      },
    },
    reverting: {
      on: {
        REVERT_VERIFIED: 'reverted',
        REVERT_FAILED: { target: 'revert_failed', actions: 'recordReason' },
      },
    },
    revert_failed: {
      on: {
        RETRY_REVERT: { target: 'reverting', actions: 'countAttempt' },
        RESOLVE: { target: 'revert_resolved_manually', actions: 'recordReason' },
      },
    },
    reverted: { type: 'final' },
    revert_rejected: { type: 'final' },
    revert_resolved_manually: { type: 'final' },
  },
});

export type RevertSnapshot = SnapshotFrom<typeof revertMachine>;

/** Thrown when an event is not legal in the revert's current state. */
export class IllegalRevertTransitionError extends GodwitError {
  override readonly name = 'IllegalRevertTransitionError';
  constructor(
    readonly state: RevertState,
    readonly event: RevertEvent['type'],
  ) {
    super(`event ${event} is not allowed in revert state ${state}`);
  }
}

export function startRevertLifecycle(): RevertSnapshot {
  return initialTransition(revertMachine, undefined)[0];
}

export function revertStateOf(snapshot: RevertSnapshot): RevertState {
  return snapshot.value as RevertState;
}

/** Steps the machine; refuses (throws) rather than ignoring an illegal event. */
export function stepRevert(snapshot: RevertSnapshot, event: RevertEvent): RevertSnapshot {
  if (!snapshot.can(event)) throw new IllegalRevertTransitionError(revertStateOf(snapshot), event.type);
  return transition(revertMachine, snapshot, event)[0];
}
