import { describe, expect, it } from 'vitest';
import { auditRowHash, GENESIS_HASH, type AuditRecord } from '../../src/db/audit';
import { verifyAuditChain, type AuditRow, type RecordedHead } from '../../src/db/audit-chain';

const EVENTS = ['START', 'STEPS_DONE', 'BAKE_PASSED', 'START', 'FAIL', 'ROLLBACK_VERIFIED'];

function record(i: number, overrides: Partial<AuditRecord> = {}): AuditRecord {
  return {
    at: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(),
    migration_id: i < 3 ? '1_first' : '2_second',
    workflow_id: i < 3 ? 'godwit/app/1_first' : 'godwit/app/2_second',
    run_id: i < 3 ? 'run-1' : 'run-2',
    event: EVENTS[i]!,
    from_state: 'planned',
    to_state: 'in_progress',
    actor: null,
    detail: i === 4 ? { reason: 'step 2 failed', nested: { b: 1, a: [1, 'x'] } } : null,
    ...overrides,
  };
}

/** A chain as appendAudit writes it: seq 1..n, each row sealing the one before. */
function chain(n = EVENTS.length): AuditRow[] {
  const rows: AuditRow[] = [];
  let prev = GENESIS_HASH;
  for (let i = 0; i < n; i++) {
    const r = record(i);
    const hash = auditRowHash(prev, r);
    rows.push({ ...r, seq: i + 1, prev_hash: prev, hash });
    prev = hash;
  }
  return rows;
}

function headOf(row: AuditRow, workflowId = row.workflow_id): RecordedHead {
  return { seq: row.seq, hash: row.hash, event: row.event, at: row.at, workflowId, runId: row.run_id, migrationId: row.migration_id };
}

describe('the audit chain check', () => {
  it('finds an untouched chain intact, against the heads its runs recorded', () => {
    const rows = chain();
    const r = verifyAuditChain(rows, [headOf(rows[2]!), headOf(rows[5]!)]);
    expect(r).toMatchObject({ intact: true, rows: 6, problems: [], recordedHeads: 2, head: { seq: 6, hash: rows[5]!.hash } });
    expect(r.latestRecorded?.seq).toBe(6);
  });

  it('finds an empty log with no recorded head intact', () => {
    expect(verifyAuditChain([], [])).toMatchObject({ intact: true, rows: 0, head: null });
  });

  it('takes a gap in seq with an unbroken link for a rolled-back transaction, not a deletion', () => {
    const rows = chain().map((r) => (r.seq > 3 ? { ...r, seq: r.seq + 2 } : r));
    expect(verifyAuditChain(rows, []).intact).toBe(true);
  });

  it('names a row whose content changed as updated', () => {
    const rows = chain();
    rows[3] = { ...rows[3]!, actor: 'mallory' };
    const r = verifyAuditChain(rows, []);
    expect(r.intact).toBe(false);
    expect(r.problems).toEqual([expect.objectContaining({ kind: 'updated', row: expect.objectContaining({ seq: 4, event: 'START', migrationId: '2_second' }) })]);
  });

  it('names a row whose jsonb detail changed as updated', () => {
    const rows = chain();
    rows[4] = { ...rows[4]!, detail: { reason: 'all fine' } };
    expect(verifyAuditChain(rows, []).problems.map((p) => [p.kind, p.row.seq])).toEqual([['updated', 5]]);
  });

  it('names the row after a deleted one, and the missing seqs', () => {
    const rows = chain().filter((r) => r.seq !== 3);
    const r = verifyAuditChain(rows, []);
    expect(r.problems).toHaveLength(1);
    expect(r.problems[0]).toMatchObject({ kind: 'deleted', row: { seq: 4 } });
    expect(r.problems[0]!.detail).toMatch(/rows between 2 and 4 were deleted \(row 3 is missing\)/);
  });

  it('names the first row when the rows before it were deleted', () => {
    const r = verifyAuditChain(chain().slice(2), []);
    expect(r.problems).toEqual([expect.objectContaining({ kind: 'deleted', row: expect.objectContaining({ seq: 3 }) })]);
    expect(r.problems[0]!.detail).toMatch(/first row/);
  });

  it('names the first of two rows whose contents were swapped as reordered', () => {
    const rows = chain();
    const [a, b] = [rows[2]!, rows[3]!];
    rows[2] = { ...b, seq: 3 };
    rows[3] = { ...a, seq: 4 };
    const r = verifyAuditChain(rows, []);
    expect(r.problems[0]).toMatchObject({ kind: 'reordered', row: { seq: 3 } });
    expect(r.problems[0]!.detail).toMatch(/points at row 4, not at row 2/);
    expect(r.problems.every((p) => p.kind === 'reordered')).toBe(true);
  });

  it('names the recorded head cut off the end as truncated', () => {
    const rows = chain();
    const r = verifyAuditChain(rows.slice(0, 4), [headOf(rows[2]!), headOf(rows[5]!)]);
    expect(r.problems).toEqual([expect.objectContaining({ kind: 'truncated', row: expect.objectContaining({ seq: 6, event: 'ROLLBACK_VERIFIED', migrationId: '2_second' }) })]);
    expect(r.problems[0]!.detail).toMatch(/the log ends at row 4/);
  });

  it('names every recorded head when the whole log is gone', () => {
    const rows = chain();
    const r = verifyAuditChain([], [headOf(rows[5]!), headOf(rows[2]!)]);
    expect(r.problems.map((p) => [p.kind, p.row.seq])).toEqual([
      ['truncated', 3],
      ['truncated', 6],
    ]);
    expect(r.problems[0]!.detail).toMatch(/the log is empty/);
  });

  it('names a recorded row cut off the end and followed by new rows as deleted', () => {
    // Truncated after run 1 recorded row 3, then run 2 appended from row 2: each link holds.
    const rows = chain(2);
    const cut = chain(3)[2]!;
    const next = { ...record(3), seq: 4, prev_hash: rows[1]!.hash, hash: auditRowHash(rows[1]!.hash, record(3)) };
    const r = verifyAuditChain([...rows, next], [headOf(cut)]);
    expect(r.problems).toEqual([expect.objectContaining({ kind: 'deleted', row: expect.objectContaining({ seq: 3 }) })]);
  });

  it('catches a chain rewritten with recomputed hashes only by the recorded head', () => {
    const original = chain();
    let prev = GENESIS_HASH;
    const forged = original.map((r) => {
      const { seq: _s, prev_hash: _p, hash: _h, ...rec } = r;
      const changed = r.seq === 2 ? { ...rec, actor: 'mallory' } : rec;
      const hash = auditRowHash(prev, changed);
      const row = { ...changed, seq: r.seq, prev_hash: prev, hash };
      prev = hash;
      return row;
    });
    expect(verifyAuditChain(forged, []).intact).toBe(true);
    const r = verifyAuditChain(forged, [headOf(original[5]!)]);
    expect(r.problems).toEqual([expect.objectContaining({ kind: 'rewritten', row: expect.objectContaining({ seq: 6 }) })]);
  });
});
