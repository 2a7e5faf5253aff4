/**
 * Godwit as a library: what the `godwit` command does, as functions that return data.
 * The CLI (src/cli) only parses arguments, calls these, prints and exits with the result's
 * code. Every function that talks to Temporal takes TemporalOptions (address, namespace,
 * task queue), which fall back to the environment and godwit.yaml as the CLI's flags do.
 *
 *   import { plan, apply, status } from 'godwit';
 *   const { migrations } = await plan('migrations/');
 *   const result = await apply('migrations/', { target: 'app-prod', wait: true });
 *   process.exitCode = result.exitCode;
 */
export { plan, type PlanOptions, type PlanResult, type MigrationPlan } from './library/plan';
export { apply, exitCodeOfState, type ApplyOptions, type ApplyResult, type ApplyReport, type RunLink } from './library/apply';
export { status, type StatusOptions, type StatusResult } from './library/status';
export { verify, type VerifyOptions, type VerifyResult } from './library/verify';
export { operate, type OperatorAction, type OperateOptions, type OperateResult } from './library/operate';
export { snapshots, type SnapshotsOptions } from './library/snapshots';
export { defaultRequester } from './library/requester';
export type { TemporalOptions } from './library/session';

// Loading manifests without planning them, and the settings the functions above resolve.
export { loadManifests, loadManifest } from './manifest';
export type { LoadedManifest, Manifest, OperationSpec, Check, Policy } from './manifest';
export { temporalSettings, runUrl, type TemporalSettings } from './config/temporal';
export type { PlannedStep, SqlAction, SnapshotSpec, LintFinding, Risk } from './operations/types';
export type { MigrationStatusRow } from './client/status';
export type { SavedQueries, SavedQuery } from './client/links';
export type { ProgressEvent } from './client/watch';

// Errors: every one is a GodwitError, with the exit code the CLI leaves with and whether retrying can help.
export { ExitCode, GodwitError, isGodwitError } from './errors';
export { RequestError, ManifestPlanError, NotAppliedError } from './library/errors';
export { ManifestError } from './manifest/errors';
export { PlanError } from './operations/types';
export { ConfigError, UnknownTargetError } from './config/targets';
export { TemporalUnreachableError, TemporalRefusedError, MigrationAlreadyRunningError, MigrationFailedError, InspectionFailedError } from './client/errors';
export { SigningError } from './auth/ssh';

// The contract with the workflows: inputs, results, workflow and message names, search attributes.
export type * from './contract/migration';
export type * from './contract/revert';
export type * from './contract/release';
export type * from './contract/rehearse';
export { WORKFLOW_TYPE, DEFAULT_TASK_QUEUE, SEARCH_ATTRIBUTE, STATE_QUERY, OUTCOME_FAILURE_TYPE, migrationWorkflowId, describeRestore } from './contract/migration';
export { REVERT_WORKFLOW_TYPE, revertWorkflowId } from './contract/revert';
export { RELEASE_WORKFLOW_TYPE, fleetReleaseId, atomicReleaseId } from './contract/release';
export { REHEARSAL_WORKFLOW_TYPE, rehearsalWorkflowId } from './contract/rehearse';
export type { MigrationState } from './lifecycle/states';
