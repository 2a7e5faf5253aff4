import { describe, expect, it } from 'vitest';
import {
  IllegalTransitionError,
  startLifecycle,
  stateOf,
  step,
  type LifecycleEvent,
  type LifecycleSnapshot,
  type MigrationState,
} from '../../src/lifecycle';

const E = {
  start: { type: 'START', needsApproval: false },
  startGated: { type: 'START', needsApproval: true },
  approve: { type: 'APPROVE', by: 'alice' },
  reject: { type: 'REJECT', by: 'alice', reason: 'not now' },
  approvalTimeout: { type: 'APPROVAL_TIMEOUT' },
  stepsDone: { type: 'STEPS_DONE' },
  bakePassed: { type: 'BAKE_PASSED' },
  fail: { type: 'FAIL', reason: 'step 2 failed' },
  unhealthy: { type: 'UNHEALTHY', reason: "health probe 'errors' fired" },
  dismiss: { type: 'DISMISS', by: 'carol', note: 'the load test, not the migration' },
  verified: { type: 'ROLLBACK_VERIFIED' },
  rollbackFailed: { type: 'ROLLBACK_FAILED', reason: 'fingerprint differs' },
  retry: { type: 'RETRY_ROLLBACK' },
  resolve: { type: 'RESOLVE', by: 'bob', note: 'fixed by hand' },
} satisfies Record<string, LifecycleEvent>;

function run(...events: LifecycleEvent[]): LifecycleSnapshot {
  return events.reduce(step, startLifecycle('0001_test'));
}

// Every legal transition of DESIGN.md: [path to the source state, event, expected target].
const legal: [string, LifecycleEvent[], LifecycleEvent, MigrationState][] = [
  ['planned START (auto)', [], E.start, 'in_progress'],
  ['planned START (gated)', [], E.startGated, 'awaiting_approval'],
  ['awaiting_approval APPROVE', [E.startGated], E.approve, 'in_progress'],
  ['awaiting_approval REJECT', [E.startGated], E.reject, 'rejected'],
  ['awaiting_approval APPROVAL_TIMEOUT', [E.startGated], E.approvalTimeout, 'rejected'],
  ['in_progress STEPS_DONE', [E.start], E.stepsDone, 'validated'],
  ['in_progress FAIL', [E.start], E.fail, 'rolling_back'],
  ['validated BAKE_PASSED', [E.start, E.stepsDone], E.bakePassed, 'applied'],
  ['validated FAIL', [E.start, E.stepsDone], E.fail, 'rolling_back'],
  ['validated UNHEALTHY', [E.start, E.stepsDone], E.unhealthy, 'unhealthy'],
  ['unhealthy FAIL', [E.start, E.stepsDone, E.unhealthy], E.fail, 'rolling_back'],
  ['unhealthy DISMISS', [E.start, E.stepsDone, E.unhealthy], E.dismiss, 'validated'],
  ['rolling_back ROLLBACK_VERIFIED', [E.start, E.fail], E.verified, 'rolled_back'],
  ['rolling_back ROLLBACK_FAILED', [E.start, E.fail], E.rollbackFailed, 'rollback_failed'],
  ['rollback_failed RETRY_ROLLBACK', [E.start, E.fail, E.rollbackFailed], E.retry, 'rolling_back'],
  ['rollback_failed RESOLVE', [E.start, E.fail, E.rollbackFailed], E.resolve, 'resolved_manually'],
];

describe('lifecycle machine', () => {
  it('starts in planned', () => {
    expect(stateOf(startLifecycle('x'))).toBe('planned');
  });

  it.each(legal)('%s', (_name, path, event, target) => {
    expect(stateOf(step(run(...path), event))).toBe(target);
  });

  // Every (state, event) pair not listed above must be refused.
  const sources: Record<MigrationState, LifecycleEvent[]> = {
    planned: [],
    awaiting_approval: [E.startGated],
    in_progress: [E.start],
    validated: [E.start, E.stepsDone],
    unhealthy: [E.start, E.stepsDone, E.unhealthy],
    applied: [E.start, E.stepsDone, E.bakePassed],
    rejected: [E.startGated, E.reject],
    rolling_back: [E.start, E.fail],
    rolled_back: [E.start, E.fail, E.verified],
    rollback_failed: [E.start, E.fail, E.rollbackFailed],
    resolved_manually: [E.start, E.fail, E.rollbackFailed, E.resolve],
  };
  const allowed = new Set(legal.map(([, path, ev]) => `${stateOf(run(...path))}:${ev.type}`));
  const illegal = Object.entries(sources).flatMap(([state, path]) =>
    Object.values(E)
      .filter((ev) => !allowed.has(`${state}:${ev.type}`))
      .map((ev) => [state, ev.type, path, ev] as const),
  );

  it.each(illegal)('refuses %s + %s', (state, _type, path, event) => {
    const snapshot = run(...path);
    expect(stateOf(snapshot)).toBe(state);
    expect(() => step(snapshot, event)).toThrow(IllegalTransitionError);
  });

  it('records why it is rolling back', () => {
    expect(run(E.start, E.fail).context.reason).toBe('step 2 failed');
  });

  it('records the approver and the resolution', () => {
    expect(run(E.startGated, E.approve).context.approvedBy).toBe('alice');
    const resolved = run(E.start, E.fail, E.rollbackFailed, E.resolve).context;
    expect([resolved.resolvedBy, resolved.resolutionNote]).toEqual(['bob', 'fixed by hand']);
  });

  it('records why a run asks, and who dismissed it', () => {
    expect(run(E.start, E.stepsDone, E.unhealthy).context.reason).toBe("health probe 'errors' fired");
    const dismissed = run(E.start, E.stepsDone, E.unhealthy, E.dismiss).context;
    expect([dismissed.dismissedBy, dismissed.dismissalNote, dismissed.reason]).toEqual(['carol', 'the load test, not the migration', null]);
  });

  it('counts rollback attempts across retries', () => {
    expect(run(E.start, E.fail, E.rollbackFailed, E.retry).context.rollbackAttempts).toBe(2);
  });

  it('leaves the snapshot it was given unchanged', () => {
    const before = run(E.start);
    step(before, E.stepsDone);
    expect(stateOf(before)).toBe('in_progress');
  });
});
