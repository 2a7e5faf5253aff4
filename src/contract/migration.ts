import type { MigrationState } from '../lifecycle/states';
import type { PlannedStep } from '../operations/types';
import type { AuditEntry, AuditHead } from '../db/audit';
import type { AuditChainResult, RecordedHead } from '../db/audit-chain';
import type { SnapshotRecord } from '../db/snapshots';
import type { RestoreRecord } from '../db/restores';
import type { PurgeOutcome, RetiredRecord } from '../db/purge';
import type { ThrottleChange } from '../throttle/settings';
import type { HealthPolicy, HealthPolicyFields, HealthProgress, Probe, ProbeEvidence } from '../health/types';

// Everything here crosses the workflow boundary, so it is plain JSON data.

export const WORKFLOW_TYPE = 'migrationWorkflow';
export const DEFAULT_TASK_QUEUE = 'godwit';

/**
 * Names of the search attributes on every migration workflow (Keyword). The SDK's typed
 * keys, queries, signals and updates are in messages.ts: this module stays free of SDK
 * imports so the CLI's apply path can use it without loading the SDK.
 */
export const SEARCH_ATTRIBUTE = { target: 'GodwitTarget', migrationId: 'GodwitMigrationId', state: 'GodwitState' } as const;

/** The query every migration workflow answers with its MigrationProgress. */
export const STATE_QUERY = 'stateQuery';

/** `godwit/<target>/<migration id>`: one workflow per migration per target. */
export function migrationWorkflowId(target: string, migrationId: string): string {
  return `godwit/${target}/${migrationId}`;
}

/** A named SQL query that must return true (pre: before any step; post: after the last). */
export interface Check {
  name: string;
  sql: string;
}

/**
 * How a migration is run. Timeouts are Postgres setting values: `'5s'`, `'500ms'`,
 * `'2min'`; an integer in the manifest means milliseconds and is kept as `'<n>ms'`.
 * Defaults: approval `auto` (risk decides), bake_seconds `0` (no bake window),
 * lock_timeout `'5s'` (a DDL step waiting longer for its lock gives up and is
 * retried, instead of queueing the application's queries behind it),
 * statement_timeout `'0'` (no limit: index builds and big rewrites legitimately
 * run long; the lock timeout is what protects the application).
 */
export interface MigrationPolicy extends HealthPolicyFields {
  approval: 'auto' | 'required' | 'never';
  bake_seconds: number;
  lock_timeout: string;
  statement_timeout: string;
  /** What the rollback proof compares (default `restores`); `whole_table` is for quiet databases. */
  data_proof?: 'restores' | 'whole_table';
  /** How long snapshots and retired columns and tables are kept (default 14 days). */
  retention?: string;
  /** With approval `auto`: the step risk from which a person must approve (default `high`). */
  approval_risk?: 'low' | 'medium' | 'high';
  /** How long a migration waits for its approval before it ends rejected (default 24h). */
  approval_timeout?: string;
  /** Lint codes of level error this manifest accepts; any other lint error stops the apply before its first step. */
  allow_lint?: string[];
  /** How fast batched data steps go: batch_ms, rate, pause_ms, yield, max_lag_ms, max_wal_mb_s (src/throttle/settings.ts). */
  throttle?: ThrottleChange;
}

/** Test and chaos hooks; absent in normal runs. Recorded in history like any input. */
export interface FaultInjection {
  /** Fail step N (1-based) after its SQL ran, before it commits. */
  failAtStep?: number;
  /** Sleep this long inside step N before committing (durability tests kill the worker meanwhile). */
  sleepAtStep?: { step: number; ms: number };
  /** Make the inverse of step N fail, to exercise rollback_failed. */
  failCompensationOfStep?: number;
}

export interface MigrationInput {
  target: string;
  migrationId: string;
  description: string;
  /** The manifest as loaded and validated by the client (canonical form). */
  manifest: unknown;
  checksum: string;
  requestedBy: string;
  /** The requester's SSH signature over canonicalRequest(), when the request is signed (`apply --key`). */
  requestSignature?: string;
  checks: Check[];
  policy: MigrationPolicy;
  faults?: FaultInjection;
}

/**
 * A batched data step's progress, carried by its heartbeats: `godwit status` and the
 * Temporal UI (the pending activity's details) show it while the step runs.
 */
export interface DataProgress {
  /** fill: a backfill or an online type change's fill; restore: a rollback putting back logged changes. */
  phase: 'fill' | 'restore';
  rows: number;
  /** Rows the step is expected to touch (the planner's estimate), or null when unknown. */
  estimated: number | null;
  /** Rows per second over the last few seconds, pauses included. */
  perSecond: number | null;
  etaSeconds: number | null;
  batchSize: number;
  lastBatchMs: number;
  /** Why the last pause was longer than the settings' pause: yield, rate, lock waits. */
  slowedBy: string[];
  /** Why no batch runs now (paused, a standby behind, WAL too fast), or null. */
  held: string | null;
  /** The settings in force, as one line. */
  throttle: string;
}

export type StepStatus = 'pending' | 'running' | 'done' | 'skipped' | 'failed' | 'compensating' | 'compensated';

export interface StepProgress {
  id: string;
  index: number;
  summary: string;
  status: StepStatus;
  error?: string;
}

export interface TransitionRecord {
  event: string;
  from: MigrationState;
  to: MigrationState;
  /** Workflow time, ISO 8601. */
  at: string;
  reason?: string;
}

export interface DataChecksumComparison {
  table: string;
  before: { rows: number; checksum: string };
  after: { rows: number; checksum: string } | null;
  equal: boolean;
}

/** The proof of one restore, against its own snapshot or change log (see src/db/restores.ts). */
export type RestoreProof = Omit<RestoreRecord, 'ordinal'>;

/** One line for a restore's proof: `proven: 9,412 of 10,000 rows restored, 588 kept (the application's later writes)`. */
export function describeRestore(r: RestoreProof): string {
  if (r.kind === 'retired') return r.equal ? 'proven: renamed back' : `NOT proven: ${r.detail ?? ''}`;
  const parts = [`${r.restored} of ${r.rows} rows restored`];
  if (r.kept > 0) parts.push(`${r.kept} kept (changed by the application after the migration)`);
  if (r.gone > 0) parts.push(`${r.gone} gone (deleted by the application)`);
  return `${r.equal ? 'proven' : 'NOT proven'}: ${parts.join(', ')}${r.equal || !r.detail ? '' : `; ${r.detail}`}`;
}

export interface RollbackProof {
  /** Schema fingerprint equal to before, every restore proven, and (data_proof whole_table) every touched table's checksum equal. */
  equal: boolean;
  fingerprintBefore: string;
  fingerprintAfter: string;
  /** What the data proof compared: each restore against its own snapshot (default), or whole tables too. Absent in runs before it existed. */
  dataProof?: 'restores' | 'whole_table';
  /** Each restore's proof, in the order the compensations ran. Absent in runs before it existed. */
  restores?: RestoreProof[];
  /** The data checksums of the tables the plan touched, before and after (data_proof whole_table only). */
  data: DataChecksumComparison[];
  /** Readable differences (schema objects, restores that did not hold, tables whose data changed), empty when equal. */
  differences: string[];
}

/** One line of a run's story, in the order it happened: what `apply --wait` prints. */
export type ProgressEvent =
  | { kind: 'transition'; event: string; from: MigrationState; to: MigrationState; reason?: string }
  | { kind: 'step'; index: number; total: number; summary: string; status: StepStatus; error?: string };

export interface MigrationProgress {
  target: string;
  migrationId: string;
  state: MigrationState;
  currentStep: string | null;
  steps: StepProgress[];
  transitions: TransitionRecord[];
  reason: string | null;
  fingerprintBefore: string | null;
  fingerprintAfter: string | null;
  rollback: RollbackProof | null;
  events: ProgressEvent[];
  /** Why `approval: auto` asked a person (the risky steps), when it did. */
  approvalReason?: string;
  /** The pacing of batched data steps in force, when an operator changed it (godwit tune, pause, resume). */
  throttle?: string;
  /** Health probes of the bake window, max_duration and on_unhealthy (src/health), when the run has any. */
  health?: HealthProgress;
}

export type MigrationOutcome = 'applied' | 'rolled_back' | 'rejected' | 'resolved_manually';

export interface MigrationResult extends MigrationProgress {
  outcome: MigrationOutcome;
  /** True when the migration had already been applied with the same checksum: nothing ran. */
  alreadyApplied: boolean;
}

/** The migration workflow's signature (workflows/migration.ts), for the client's typed handles. */
export type MigrationWorkflow = (input: MigrationInput) => Promise<MigrationResult>;

/**
 * The failure type a run that did not end applied fails with (runs with the
 * `godwit-failed-outcomes` patch): the Temporal UI lists it as Failed, not Completed, and the
 * failure's first detail is the run's whole MigrationResult. src/client/outcome.ts reads it back.
 */
export const OUTCOME_FAILURE_TYPE = {
  rolled_back: 'MigrationRolledBack',
  rejected: 'MigrationRejected',
  resolved_manually: 'MigrationResolvedManually',
} as const satisfies Record<Exclude<MigrationOutcome, 'applied'>, string>;

// ---- activity contracts ----

export interface RunScope {
  target: string;
  migrationId: string;
  workflowId: string;
  runId: string;
}

export interface PrepareInput extends RunScope {
  description: string;
  manifest: unknown;
  checksum: string;
  requestedBy: string;
  /** The requester's SSH signature over canonicalRequest(), when the request is signed. */
  requestSignature?: string;
}

export type PrepareResult =
  | { alreadyApplied: true; fingerprint: string }
  | {
      alreadyApplied: false;
      token: string;
      steps: PlannedStep[];
      fingerprintBefore: string;
      /** The health policy in force: the manifest's combined with the worker's godwit.yaml (absent: none, or histories from before it). */
      health?: HealthPolicy;
    };

/** sampleProbe's input: one evaluation of one probe. */
export interface SampleProbeInput extends RunScope {
  probe: Probe;
  /** The sample's number, for the Temporal UI's activity summary and the logs. */
  n: number;
}

/** recordProbeFiring's input: the evidence, and the transitions still to write before it. */
export interface ProbeFiringInput extends RunScope {
  token: string;
  audit: AuditEntry[];
  evidence: ProbeEvidence;
}

export interface StepInput extends RunScope {
  token: string;
  step: PlannedStep;
  policy: MigrationPolicy;
  /** Transitions not yet written to the audit log; written in the step's transaction. */
  audit: AuditEntry[];
  faults?: FaultInjection;
}

/**
 * The memo key under which a run keeps the last audit row it wrote (an AuditHead), outside
 * the table an attacker with the table owner's rights could cut short (`godwit audit verify`).
 */
export const AUDIT_HEAD_MEMO = 'godwitAuditHead';

/** Part of the results of the activities that write audit entries: the head once they committed. */
export interface AuditHeadResult {
  /** Absent when the activity wrote no entry (and in histories from before it existed). */
  auditHead?: AuditHead | null;
}

export interface StepResult extends AuditHeadResult {
  /** The ledger or catalog showed the step had already run: nothing was executed. */
  skipped: boolean;
  ms: number;
}

export interface ChecksInput extends RunScope {
  token: string;
  checks: Check[];
  policy: MigrationPolicy;
  audit: AuditEntry[];
}

export interface CheckResult {
  name: string;
  passed: boolean;
  detail: string;
}

export interface VerifyInput extends RunScope {
  token: string;
  audit: AuditEntry[];
  /** The policy's data proof; absent (runs started before it existed) means whole_table, as they were planned. */
  dataProof?: 'restores' | 'whole_table';
}

export interface FinishInput extends RunScope {
  token: string;
  state: MigrationState;
  audit: AuditEntry[];
  reason: string | null;
  /** Record the fingerprint after (applied migrations; drift detection starts from it). */
  recordFingerprint: boolean;
  /** Its lock_timeout bounds the drop of sync triggers once the migration is applied (absent in histories from before them). */
  policy?: MigrationPolicy;
  releaseLease: boolean;
}

export interface FinishResult extends AuditHeadResult {
  fingerprintAfter: string | null;
}

/** verifyRollback's result: the proof, and the audit head of its ROLLBACK_PROOF entry. */
export type VerifyRollbackResult = RollbackProof & AuditHeadResult;


// ---- inspection workflows (verify, snapshots) ----

export const VERIFY_WORKFLOW_TYPE = 'verifyWorkflow';
export const SNAPSHOTS_WORKFLOW_TYPE = 'snapshotsWorkflow';
export const AUDIT_VERIFY_WORKFLOW_TYPE = 'auditVerifyWorkflow';
export const UNLOCK_WORKFLOW_TYPE = 'unlockWorkflow';

/** `godwit unlock`: free a target whose lease holder's run no longer exists. */
export interface UnlockInput {
  target: string;
  /** Who asks, for the audit log. */
  by: string;
}

export interface UnlockReport {
  target: string;
  /** True when a lease was freed. */
  released: boolean;
  /** The holder (a workflow id), when there was a lease. */
  holder: string | null;
  /** What Temporal said of the holder's run: a lease is freed only when it is closed. */
  holderState: 'open' | 'closed' | 'unknown' | null;
  /** The migration the holder ran, when the target's records know it. */
  migrationId: string | null;
  /**
   * When the holder was a revert: the migrations it was taking back, newest first. They stay
   * `reverting` (perhaps partly undone) until a new `godwit revert` finishes them.
   */
  revert?: { migrationId: string; chain: string[] } | null;
}

export interface DriftInput {
  target: string;
  manifests: { id: string; file: string; checksum: string }[];
}

export interface DriftReport {
  target: string;
  /** Applied manifests whose file has changed since they were applied. */
  changedFiles: { id: string; file: string; recorded: string; current: string }[];
  /** The schema differs from the fingerprint recorded by the last applied migration. */
  schemaDrift: { since: string; recorded: string; current: string; differences: string[] } | null;
  /** Manifests not applied yet. */
  pending: string[];
  /** Migrations recorded as applied that have no file among those given. */
  appliedWithoutFile: string[];
}

export interface SnapshotsInput {
  target: string;
  action: 'list' | 'prune';
}

export interface SnapshotsReport {
  target: string;
  snapshots: SnapshotRecord[];
  dropped: string[];
  /** Retired columns and tables not yet purged. */
  retired: RetiredRecord[];
  /** What this prune purged, and what was due but is left for the next one, with the reason. */
  purged: PurgeOutcome['purged'];
  deferred: PurgeOutcome['deferred'];
}

// ---- godwit plan --target: the plan made against the live catalog, on a worker ----

export const PLAN_WORKFLOW_TYPE = 'planWorkflow';

export interface LivePlanInput {
  target: string;
  /** In the order apply would run them; each is planned against the schema the earlier ones leave. */
  manifests: { id: string; checksum: string; manifest: unknown }[];
}

/** What apply would do with one manifest, as prepare would find it now. */
export type LivePlanOutcome =
  | { id: string; status: 'planned'; steps: PlannedStep[] }
  /** Applied with this checksum: apply does nothing. */
  | { id: string; status: 'applied' }
  /** Applied with another checksum: apply refuses it (exit 5). */
  | { id: string; status: 'changed'; recorded: string }
  /** The plan does not fit the catalog; the manifests after it are not planned. */
  | { id: string; status: 'error'; error: { path: string; message: string; hint?: string } };

export interface LivePlanReport {
  target: string;
  /** The schema fingerprint the plans were made against (the one `godwit verify` compares). */
  fingerprint: string;
  /** The existing tables the planned steps touch, with the catalog's estimate of their size. */
  tables: { table: string; rows: number; bytes: number }[];
  migrations: LivePlanOutcome[];
}

export interface AuditVerifyInput {
  target: string;
  /** The audit heads that runs on this target recorded in their Temporal memos (listed by the client). */
  recorded: RecordedHead[];
}

export interface AuditVerifyReport extends AuditChainResult {
  target: string;
}

// ---- signed operator actions (see src/auth) ----

export type OperatorActionName = 'approve' | 'reject' | 'rollback' | 'resolve' | 'tune';

/** What an operator signs over, as the run itself states it (actionSubjectQuery). */
export interface ActionSubject {
  target: string;
  migrationId: string;
  runId: string;
  checksum: string;
  requestedBy: string;
}

/** An approve/reject/rollback/resolve as it reaches the workflow; `signature` is ssh-keygen -Y sign's output. */
export interface OperatorRequest {
  by: string;
  note?: string;
  reason?: string;
  signature?: string;
}

/** authorizeAction's input: the run's own facts (never the operator's claims) plus what was signed. */
export interface AuthorizeInput extends RunScope {
  action: OperatorActionName;
  principal: string;
  requestedBy: string;
  checksum: string;
  /** The note or reason the action carries (it is signed too). */
  text: string | null;
  signature?: string;
  /** The run's state when the request came, for the audit entry of a refusal. */
  state: MigrationState;
}

/** godwit tune, pause and resume: a change to the run's pacing (src/throttle/settings.ts). */
export interface TuneRequest extends OperatorRequest {
  change: ThrottleChange;
}

/** tuneThrottle's input: the change, who made it, and the key that signed it. */
export interface TuneInput extends RunScope {
  change: ThrottleChange;
  by: string;
  signedWith: string | null;
  /** The manifest's throttle policy, to state the settings in force. */
  policy: ThrottleChange | undefined;
  state: MigrationState;
}

/** The settings in force after the change, as one line, and the audit head. */
export type TuneResult = { settings: string } & AuditHeadResult;

export type AuthorizeResult = ({ ok: true; signedWith: string | null } | { ok: false; reason: string }) & AuditHeadResult;
