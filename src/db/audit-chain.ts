/**
 * The check behind `godwit audit verify`: walks godwit.audit_log in seq order and
 * names every row that breaks the hash chain, then holds the table against the heads
 * that runs recorded in Temporal. Pure: the activity feeds it rows, tests feed it arrays.
 */
import { auditRowHash, GENESIS_HASH, type AuditHead, type AuditRecord } from './audit';

/** A row of godwit.audit_log as read back (seq as a number, at as ISO 8601). */
export interface AuditRow extends AuditRecord {
  seq: number;
  prev_hash: string;
  hash: string;
}

/** A head a run recorded in its Temporal memo, and which run recorded it. */
export interface RecordedHead extends AuditHead {
  workflowId: string;
  runId: string;
  migrationId: string | null;
}

/**
 * What is wrong with a row:
 * - updated: its content no longer matches its own hash;
 * - deleted: it links to a row that is no longer in the table, or a recorded row is gone from the middle;
 * - reordered: it links to a row that is in the table, but not right before it (rows moved, or one inserted);
 * - truncated: a row a run recorded in Temporal as its head is past the end of the table;
 * - rewritten: a recorded row is there with another hash (the chain was recomputed from that row on or before it).
 */
export const AuditProblemKind = { updated: 'updated', deleted: 'deleted', reordered: 'reordered', truncated: 'truncated', rewritten: 'rewritten' } as const;
export type AuditProblemKind = (typeof AuditProblemKind)[keyof typeof AuditProblemKind];

/** The row a problem is about, as the table has it (or, when it is gone, as Temporal recorded it). */
export interface AuditRowRef {
  seq: number;
  event: string;
  at: string;
  migrationId: string | null;
  workflowId: string;
}

export interface AuditProblem {
  kind: AuditProblemKind;
  row: AuditRowRef;
  /** What does not match, in words. */
  detail: string;
}

export interface AuditChainResult {
  intact: boolean;
  rows: number;
  /** The last row of the table, where the chain ends today. */
  head: AuditHead | null;
  /** How many heads recorded in Temporal were held against the table, and the latest of them. */
  recordedHeads: number;
  latestRecorded: RecordedHead | null;
  /** The rows that do not match, first row first (the first MAX_PROBLEMS of them). */
  problems: AuditProblem[];
  /** How many rows do not match in all. */
  problemCount: number;
}

/** Problems reported in full; past this the report only counts them. */
export const MAX_PROBLEMS = 100;

interface LinkBreak {
  row: AuditRowRef;
  prevHash: string;
  /** The row before it in seq order, null for the first row. */
  previous: number | null;
}

function refOf(r: AuditRow): AuditRowRef {
  return { seq: r.seq, event: r.event, at: r.at, migrationId: r.migration_id, workflowId: r.workflow_id };
}

function short(hash: string): string {
  return hash.replace(/^sha256:/, '').slice(0, 12);
}

/** Feed it the table's rows in seq order with push(), then call finish() with the heads kept in Temporal. */
export class AuditChainWalker {
  private readonly seqOfHash = new Map<string, number>();
  private readonly hashOfSeq = new Map<number, string>();
  private readonly problems: AuditProblem[] = [];
  private readonly breaks: LinkBreak[] = [];
  private expectedPrev = GENESIS_HASH;
  private previous: number | null = null;
  private last: AuditRow | null = null;
  private count = 0;

  push(row: AuditRow): void {
    if (this.previous !== null && row.seq <= this.previous) throw new Error(`audit rows must come in seq order: ${row.seq} after ${this.previous}`);
    this.count++;
    this.seqOfHash.set(row.hash, row.seq);
    this.hashOfSeq.set(row.seq, row.hash);
    const { seq: _seq, prev_hash: prevHash, hash, ...record } = row;
    if (auditRowHash(prevHash, record) !== hash) {
      this.problems.push({ kind: 'updated', row: refOf(row), detail: `its content does not match its hash ${short(hash)}: the row was changed after it was written` });
    } else if (prevHash !== this.expectedPrev) {
      // Whether the row it links to is elsewhere in the table is known only at the end.
      this.breaks.push({ row: refOf(row), prevHash, previous: this.previous });
    }
    // Go on from the row as it is, so a later problem is reported for itself.
    this.expectedPrev = hash;
    this.previous = row.seq;
    this.last = row;
  }

  finish(recorded: readonly RecordedHead[]): AuditChainResult {
    for (const b of this.breaks) this.problems.push(this.classifyBreak(b));
    const known = new Set(this.problems.map((p) => p.row.seq));
    for (const h of recorded) {
      const problem = this.checkRecorded(h);
      if (problem && !known.has(problem.row.seq)) {
        this.problems.push(problem);
        known.add(problem.row.seq);
      }
    }
    this.problems.sort((a, b) => a.row.seq - b.row.seq);
    const latestRecorded = recorded.reduce<RecordedHead | null>((best, h) => (best === null || h.seq > best.seq ? h : best), null);
    return {
      intact: this.problems.length === 0,
      rows: this.count,
      head: this.last ? { seq: this.last.seq, hash: this.last.hash, event: this.last.event, at: this.last.at } : null,
      recordedHeads: recorded.length,
      latestRecorded,
      problems: this.problems.slice(0, MAX_PROBLEMS),
      problemCount: this.problems.length,
    };
  }

  private classifyBreak(b: LinkBreak): AuditProblem {
    const linked = this.seqOfHash.get(b.prevHash);
    if (linked !== undefined) {
      return {
        kind: 'reordered',
        row: b.row,
        detail: `its previous-hash link points at row ${linked}, not at row ${b.previous ?? '(none: it is the first row)'}: rows were moved, or a row was inserted`,
      };
    }
    if (b.previous === null) {
      return { kind: 'deleted', row: b.row, detail: `it is the first row but links to ${short(b.prevHash)}, a row that is no longer in the table: the rows before it were deleted` };
    }
    const missing = b.row.seq - b.previous - 1;
    const gap = missing === 0 ? '' : missing === 1 ? ` (row ${b.previous + 1} is missing)` : ` (rows ${b.previous + 1}–${b.row.seq - 1} are missing)`;
    return { kind: 'deleted', row: b.row, detail: `it links to ${short(b.prevHash)}, a row that is no longer in the table: rows between ${b.previous} and ${b.row.seq} were deleted${gap}` };
  }

  private checkRecorded(h: RecordedHead): AuditProblem | null {
    const row: AuditRowRef = { seq: h.seq, event: h.event, at: h.at, migrationId: h.migrationId, workflowId: h.workflowId };
    const here = this.hashOfSeq.get(h.seq);
    if (here === h.hash) return null;
    const lastSeq = this.last?.seq ?? 0;
    const by = `run ${h.workflowId} (${h.runId}) recorded it in Temporal`;
    if (here === undefined && h.seq > lastSeq) {
      return { kind: 'truncated', row, detail: `the row is gone and ${by} as its audit head: ${this.last ? `the log ends at row ${lastSeq}` : 'the log is empty'}, rows were cut off its end` };
    }
    const moved = this.seqOfHash.get(h.hash);
    if (moved !== undefined) return { kind: 'reordered', row, detail: `${by} at row ${h.seq}, but the table has it at row ${moved}: rows were moved` };
    if (here === undefined) return { kind: 'deleted', row, detail: `the row is gone from the middle of the log and ${by} as its audit head` };
    return { kind: 'rewritten', row, detail: `its hash is ${short(here)}, but ${by} as ${short(h.hash)}: the chain was rewritten with recomputed hashes` };
  }
}

/** Walks `rows` (in seq order) and holds them against the recorded heads. */
export function verifyAuditChain(rows: Iterable<AuditRow>, recorded: readonly RecordedHead[]): AuditChainResult {
  const walker = new AuditChainWalker();
  for (const r of rows) walker.push(r);
  return walker.finish(recorded);
}
