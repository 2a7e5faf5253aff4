import type { Check, MigrationPolicy } from './migration';

// What crosses the boundary of `godwit rehearse`'s workflow: plain JSON data, no SDK imports.

export const REHEARSAL_WORKFLOW_TYPE = 'rehearsalWorkflow';

/** `godwit/<target>/rehearse/<id>`: one parent workflow per rehearsal. */
export function rehearsalWorkflowId(target: string, rehearsalId: string): string {
  return `godwit/${target}/rehearse/${rehearsalId}`;
}

/** The query every rehearsal answers with its report so far. */
export const REHEARSAL_QUERY = 'rehearsalQuery';

/** How the scratch database gets its rows. */
export type RehearsalData = { kind: 'sample'; rows: number } | { kind: 'synthetic'; rows: number; seed: string };

export interface RehearsalManifest {
  id: string;
  /** The file's checksum: what the target records once it is applied (pending or not is decided by it). */
  checksum: string;
  /**
   * The manifest the scratch database runs: the same operations and checks, with a policy for a
   * quiet copy (never waits for approval, no bake, whole-table data proof), and its own checksum.
   */
  rehearsal: { manifest: unknown; checksum: string; description: string; checks: Check[]; policy: MigrationPolicy };
}

export interface RehearsalInput {
  target: string;
  rehearsalId: string;
  requestedBy: string;
  /** In the order apply would run them. */
  manifests: RehearsalManifest[];
  data: RehearsalData;
  /** Leave the scratch database in place when the rehearsal ends. */
  keep: boolean;
}

/** One child run of a migration on the scratch database. */
export interface RehearsalRow {
  migrationId: string;
  /** The failure was injected after this step (1-based); null for the full apply that follows. */
  afterStep: number | null;
  /** The step the failure followed, or 'apply'. */
  summary: string;
  workflowId: string;
  /** proven: rolled back with a proof; applied: the full run; the rest are findings. */
  outcome: 'proven' | 'not_proven' | 'applied' | 'not_applied' | 'failed' | 'fault_missed';
  /** From the start of the first step to the failure (or to applied). */
  forwardMs: number | null;
  /** From the failure to the rollback's verdict. */
  rollbackMs: number | null;
  /** What the proof found different, or why the run ended as it did. */
  differences: string[];
}

export interface PrepareRehearsalInput {
  target: string;
  rehearsalId: string;
  manifests: { id: string; checksum: string }[];
  data: RehearsalData;
}

export interface ScratchTable {
  table: string;
  rows: number;
}

export interface PrepareRehearsalResult {
  /** The alias the children run on (`rehearse:<target>:<id>`). */
  scratchTarget: string;
  database: string;
  tables: ScratchTable[];
  /** Ids applied to the target with the same checksum: not rehearsed. */
  applied: string[];
  /** Ids applied to the target with another checksum: the rehearsal stops (exit 5). */
  changed: { id: string; recorded: string; current: string }[];
  /** What the copy could not do (a table synthetic data could not fill, ...). */
  notes: string[];
  ms: number;
}

export interface DropScratchInput {
  target: string;
  rehearsalId: string;
}

export interface AwaitChildInput {
  workflowId: string;
}

export type RehearsalStatus = 'preparing' | 'running' | 'proven' | 'problems' | 'drift';

export interface RehearsalReport {
  target: string;
  rehearsalId: string;
  scratchTarget: string | null;
  database: string | null;
  data: RehearsalData;
  status: RehearsalStatus;
  tables: ScratchTable[];
  applied: string[];
  changed: PrepareRehearsalResult['changed'];
  notes: string[];
  rows: RehearsalRow[];
  /** Migrations not rehearsed because an earlier one left the copy in an unknown state. */
  notRun: string[];
  kept: boolean;
  copyMs: number | null;
}
