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

const LOW = { index: 1, summary: 'add_column users.nickname', risk: 'low' } as const;
const HIGH = { index: 2, summary: 'drop_table sessions', risk: 'high' } as const;

const E = {
  start: { type: 'START', approval: 'auto', steps: [LOW], weighRisk: true },
  startGated: { type: 'START', approval: 'required', steps: [LOW], weighRisk: true },
  alreadyApplied: { type: 'ALREADY_APPLIED', fingerprint: 'sha256:abc' },
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
  ['planned ALREADY_APPLIED', [], E.alreadyApplied, 'applied'],
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

  describe('decides on START whether a person approves first, and records why', () => {
    const start = (facts: Partial<Extract<LifecycleEvent, { type: 'START' }>>): LifecycleSnapshot => step(startLifecycle('x'), { ...E.start, ...facts });

    it('approval: required always asks, whatever the risk', () => {
      const s = start({ approval: 'required' });
      expect(stateOf(s)).toBe('awaiting_approval');
      expect(s.context.approvalReason).toBe('approval: required asks a person before every run of this migration');
    });

    it('approval: auto asks for a step that reaches approval_risk, naming it', () => {
      const s = start({ steps: [LOW, HIGH] });
      expect(stateOf(s)).toBe('awaiting_approval');
      expect(s.context.approvalReason).toBe('approval: auto asks a person when a step reaches high risk: step 2 (drop_table sessions) is high risk');
    });

    it('approval: auto asks for a step that blocks writes, even at low risk', () => {
      const blocking = { ...LOW, blocksWrites: { lock: 'ACCESS EXCLUSIVE', table: 'users', reason: 'rewrites the table' } };
      expect(start({ steps: [blocking] }).context.approvalReason).toMatch(/step 1 \(add_column users.nickname\) holds ACCESS EXCLUSIVE on users: rewrites the table/);
    });

    it('approval: auto lets a plan below approval_risk through, and approval_risk: low stops it', () => {
      const through = start({ steps: [LOW] });
      expect([stateOf(through), through.context.approvalReason]).toEqual(['in_progress', null]);
      expect(stateOf(start({ steps: [LOW], approvalRisk: 'low' }))).toBe('awaiting_approval');
    });

    it('approval: never never asks, however risky the plan', () => {
      expect(stateOf(start({ approval: 'never', steps: [HIGH] }))).toBe('in_progress');
    });

    it('approval: auto does not weigh risk for runs from before that rule (no patch marker)', () => {
      expect(stateOf(start({ steps: [HIGH], weighRisk: false }))).toBe('in_progress');
      expect(stateOf(start({ approval: 'required', weighRisk: false }))).toBe('awaiting_approval');
    });
  });

  it('records a run found already applied, with the fingerprint prepare read', () => {
    const s = run(E.alreadyApplied);
    expect([s.context.alreadyApplied, s.context.alreadyAppliedFingerprint]).toEqual([true, 'sha256:abc']);
    expect(run(E.start).context.alreadyApplied).toBe(false);
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
