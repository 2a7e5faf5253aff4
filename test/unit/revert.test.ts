import { describe, expect, it } from 'vitest';
import { IllegalRevertTransitionError, revertStateOf, startRevertLifecycle, stepRevert, type RevertEvent, type RevertState } from '../../src/lifecycle/revert-machine';
import { revertApprovalReason } from '../../src/lifecycle/revert-approval';
import { expectedAfterRevert } from '../../src/db/revert';
import { hashEntries } from '../../src/db/fingerprint';

const plan = (approval: 'auto' | 'required' | 'never', kind = 'set_default') => ({ migrationId: '0002', steps: [{ index: 1, kind, summary: `${kind} 1`, risk: 'low' as const }], policy: { approval } });

const E = {
  start: { type: 'START', plans: [plan('auto')] },
  startGated: { type: 'START', plans: [plan('required')] },
  approve: { type: 'APPROVE', by: 'alice' },
  reject: { type: 'REJECT', by: 'alice', reason: 'not now' },
  timeout: { type: 'APPROVAL_TIMEOUT' },
  verified: { type: 'REVERT_VERIFIED' },
  failed: { type: 'REVERT_FAILED', reason: 'fingerprint differs' },
  retry: { type: 'RETRY_REVERT' },
  resolve: { type: 'RESOLVE', by: 'bob', note: 'fixed by hand' },
} satisfies Record<string, RevertEvent>;

const run = (...events: RevertEvent[]) => events.reduce(stepRevert, startRevertLifecycle());

describe('revert lifecycle', () => {
  const legal: [RevertEvent[], RevertState][] = [
    [[E.start], 'reverting'],
    [[E.startGated], 'revert_awaiting_approval'],
    [[E.startGated, E.approve], 'reverting'],
    [[E.startGated, E.reject], 'revert_rejected'],
    [[E.startGated, E.timeout], 'revert_rejected'],
    [[E.start, E.verified], 'reverted'],
    [[E.start, E.failed], 'revert_failed'],
    [[E.start, E.failed, E.retry], 'reverting'],
    [[E.start, E.failed, E.retry, E.verified], 'reverted'],
    [[E.start, E.failed, E.resolve], 'revert_resolved_manually'],
  ];
  it.each(legal)('%j ends %s', (events, state) => {
    expect(revertStateOf(run(...events))).toBe(state);
  });

  it('keeps the reason of a failure and of a rejection', () => {
    expect(run(E.start, E.failed).context.reason).toBe('fingerprint differs');
    expect(run(E.startGated, E.reject).context.reason).toBe('not now');
    expect(run(E.startGated, E.timeout).context.reason).toBe('approval timed out');
  });

  it('decides on START from the recorded plans whether a person approves first, and records why', () => {
    const gated = run({ type: 'START', plans: [plan('auto', 'add_column')] });
    expect(revertStateOf(gated)).toBe('revert_awaiting_approval');
    expect(gated.context.approvalReason).toBe('a revert asks a person: 0002: undoing step 1 (add_column 1) drops what the application wrote there since');
    expect(run(E.startGated).context.approvalReason).toBe('a revert asks a person: 0002 has approval: required');
    const through = run({ type: 'START', plans: [plan('never', 'add_column'), plan('auto')] });
    expect([revertStateOf(through), through.context.approvalReason]).toEqual(['reverting', null]);
  });

  it('refuses what is not legal, naming the state and event', () => {
    expect(() => run(E.start, E.approve)).toThrow(IllegalRevertTransitionError);
    expect(() => run(E.start, E.approve)).toThrow('event APPROVE is not allowed in revert state reverting');
    expect(() => run(E.start, E.verified, E.failed)).toThrow(IllegalRevertTransitionError);
    expect(() => run(E.start, E.resolve)).toThrow(IllegalRevertTransitionError);
    expect(() => run(E.startGated, E.verified)).toThrow(IllegalRevertTransitionError);
  });
});

describe('revertApprovalReason', () => {
  const step = (index: number, kind: string, risk: 'low' | 'medium' | 'high' = 'low') => ({ index, kind, summary: `${kind} ${index}`, risk });
  it('asks when an undo drops what the application may have written since', () => {
    const reason = revertApprovalReason([{ migrationId: '0002', steps: [step(1, 'add_column')], policy: { approval: 'auto' } }]);
    expect(reason).toContain('0002: undoing step 1 (add_column 1) drops what the application wrote there since');
  });
  it('asks for a step that reached the approval risk, and always under approval: required', () => {
    expect(revertApprovalReason([{ migrationId: 'a', steps: [step(1, 'drop_column', 'high')], policy: { approval: 'auto' } }])).toContain('step 1 (drop_column 1) is high risk');
    expect(revertApprovalReason([{ migrationId: 'b', steps: [step(1, 'set_default')], policy: { approval: 'required' } }])).toContain('b has approval: required');
  });
  it('does not ask under approval: never, nor for low-risk undos that drop nothing', () => {
    expect(revertApprovalReason([{ migrationId: 'a', steps: [step(1, 'add_column', 'high')], policy: { approval: 'never' } }])).toBeNull();
    expect(revertApprovalReason([{ migrationId: 'a', steps: [step(1, 'set_default'), step(2, 'drop_column', 'medium')], policy: { approval: 'auto' } }])).toBeNull();
  });
});

describe('expectedAfterRevert', () => {
  const before = ['column public.t.a: type=int', 'table public.t: kind=r'];
  const after = ['column public.t.a: type=bigint', 'column public.t.b: type=text', 'table public.t: kind=r'];
  it('is the fingerprint before when nothing changed since the migration', () => {
    const expected = expectedAfterRevert(before, after, after);
    expect(expected.entries).toEqual(before);
    expect(expected.hash).toBe(hashEntries(before));
  });
  it("keeps what later migrations changed elsewhere, and puts back only the run's own objects", () => {
    const now = [...after, 'table public.other: kind=r'].sort();
    expect(expectedAfterRevert(before, after, now).entries).toEqual([...before, 'table public.other: kind=r'].sort());
  });
  it('restores an object the run removed', () => {
    expect(expectedAfterRevert(['index public.i: x', 'table public.t: kind=r'], ['table public.t: kind=r'], ['table public.t: kind=r']).entries).toEqual(['index public.i: x', 'table public.t: kind=r']);
  });
});
