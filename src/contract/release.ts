import type { FaultInjection, MigrationInput } from './migration';

// What crosses the release workflow's boundary: plain JSON data (see migration.ts).

export const RELEASE_WORKFLOW_TYPE = 'releaseWorkflow';

/** `godwit-release/fleet/<fleet>/<last migration id>`: one release of a migration per fleet at a time. */
export function fleetReleaseId(fleet: string, migrationId: string): string {
  return `${FLEET_RELEASE_PREFIX}${fleet}/${migrationId}`;
}
export const FLEET_RELEASE_PREFIX = 'godwit-release/fleet/';

/** `godwit-release/target/<target>/<last migration id>`: an all-or-nothing directory on one target (`apply --atomic`). */
export function atomicReleaseId(target: string, migrationId: string): string {
  return `godwit-release/target/${target}/${migrationId}`;
}

/** One manifest of the release, as every target's migration run takes it (the target is the release's to fill in). */
export interface ReleaseManifest {
  input: Omit<MigrationInput, 'target'>;
  /** The offline plan, one line per step, for the child run's details in the UI. */
  planLines: string[];
}

export interface ReleaseInput {
  /** The fleet's name, or null for `apply --atomic` on one target. */
  fleet: string | null;
  /** Every target once, canaries first. */
  targets: string[];
  canaries: string[];
  maxParallel: number;
  /** The release halts when this many targets have failed (a canary failure always halts it). */
  failureThreshold: number;
  /** Applied on each target in this order; a target's manifests are all or nothing within the release. */
  manifests: ReleaseManifest[];
  requestedBy: string;
  /** Continue as new after this many child runs started in one run (history stays bounded). Default 500. */
  childrenPerRun?: number;
  /** How often the watcher of a running child looks for a run parked for a person (default 1000 ms). */
  parkPollMs?: number;
  /** Test and chaos hooks for one target's runs (see FaultInjection); absent in normal releases. */
  faults?: { target: string; faults: FaultInjection }[];
}

/**
 * Where one target is in the release:
 * pending → running → applied; a failed run ends failed (nothing of it stays: it rolled back,
 * or never started) or needs_person (its rollback did not prove). A target the release applied
 * and then reverts goes rolling_back → rolled_back, or needs_person. not_started: the release
 * halted before it.
 */
export type ReleaseTargetStatus = 'pending' | 'running' | 'applied' | 'failed' | 'rolling_back' | 'rolled_back' | 'needs_person' | 'not_started';

export interface TargetProof {
  migrationId: string;
  /** rollback: the failed run's own; revert: the revert of what the release applied. */
  kind: 'rollback' | 'revert';
  equal: boolean;
  fingerprintBefore: string;
  fingerprintAfter: string;
  differences: string[];
}

export interface ReleaseTarget {
  target: string;
  canary: boolean;
  status: ReleaseTargetStatus;
  /** Migrations this release applied here, oldest first (already-applied ones are not listed: the release did not apply them). */
  applied: string[];
  /** Counts against the threshold: a migration run here did not end applied. */
  failed: boolean;
  /** The child run in flight or last run (migration or revert). */
  workflowId: string | null;
  /** When it finished applying, in release order: the rollback reverts the newest first. */
  appliedSeq: number | null;
  reason: string | null;
  proofs: TargetProof[];
}

export type ReleaseState = 'checking' | 'canary' | 'rolling_out' | 'halted' | 'rolling_back' | 'applied' | 'partially_applied' | 'rolled_back' | 'rollback_failed';

export const FINAL_RELEASE_STATES: readonly ReleaseState[] = ['applied', 'partially_applied', 'rolled_back', 'rollback_failed'];

export interface ReleaseProgress {
  fleet: string | null;
  migrationIds: string[];
  state: ReleaseState;
  reason: string | null;
  failureThreshold: number;
  maxParallel: number;
  targets: ReleaseTarget[];
  /** Runs of this release so far (continue-as-new starts a new one). */
  run: number;
}

/** What a run carries into the next (continue-as-new). */
export interface ReleaseCarry {
  progress: ReleaseProgress;
  seq: number;
}

export type ReleaseOutcome = 'applied' | 'partially_applied' | 'rolled_back' | 'rollback_failed';

/**
 * The failure type a release that did not end applied fails with (runs with the
 * `godwit-release-failed-outcomes` patch): halted and rolled back, halted with a target that
 * needs a person, or applied with failed targets below the threshold. Listed as Failed in the
 * Temporal UI, with the whole ReleaseResult as the failure's first detail.
 */
export const RELEASE_OUTCOME_FAILURE_TYPE = {
  partially_applied: 'ReleasePartiallyApplied',
  rolled_back: 'ReleaseRolledBack',
  rollback_failed: 'ReleaseNeedsPerson',
} as const satisfies Record<Exclude<ReleaseOutcome, 'applied'>, string>;

export interface ReleaseResult extends ReleaseProgress {
  outcome: ReleaseOutcome;
}

export interface CheckTargetsInput {
  targets: string[];
}

export interface CheckTargetsResult {
  unreachable: { target: string; reason: string }[];
}

/** The watcher of one child run: returns when the run waits for a person in one of `states`, or has closed. */
export interface AwaitParkedInput {
  workflowId: string;
  runId: string;
  states: string[];
  pollMs: number;
}

export interface AwaitParkedResult {
  state: string | null;
  closed: boolean;
}

export function countByStatus(targets: readonly ReleaseTarget[]): Record<ReleaseTargetStatus, number> {
  const counts: Record<ReleaseTargetStatus, number> = { pending: 0, running: 0, applied: 0, failed: 0, rolling_back: 0, rolled_back: 0, needs_person: 0, not_started: 0 };
  for (const t of targets) counts[t.status]++;
  return counts;
}

/** The release workflow's signature (workflows/release.ts), for the client's typed handles. */
export type ReleaseWorkflow = (input: ReleaseInput, carry?: ReleaseCarry) => Promise<ReleaseResult>;
