/**
 * The migration workflow's typed messages and search attribute keys, defined with the
 * SDK. Workflow code, the worker and the SDK client import them from here; the plain
 * names and data types are in migration.ts.
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { MigrationState } from '../lifecycle/states';
import { SEARCH_ATTRIBUTE, STATE_QUERY, type ActionSubject, type MigrationProgress, type OperatorRequest, type TuneRequest } from './migration';

export const GodwitTargetKey = defineSearchAttributeKey(SEARCH_ATTRIBUTE.target, SearchAttributeType.KEYWORD);
export const GodwitMigrationIdKey = defineSearchAttributeKey(SEARCH_ATTRIBUTE.migrationId, SearchAttributeType.KEYWORD);
export const GodwitStateKey = defineSearchAttributeKey(SEARCH_ATTRIBUTE.state, SearchAttributeType.KEYWORD);

export const stateQuery = defineQuery<MigrationProgress>(STATE_QUERY);
/** What an operator signs over: the run's target, migration id, run id and plan checksum. */
export const actionSubjectQuery = defineQuery<ActionSubject>('actionSubjectQuery');
export const rollbackSignal = defineSignal<[OperatorRequest]>('rollbackSignal');
export const retryRollbackSignal = defineSignal<[{ by: string }]>('retryRollbackSignal');
export const approveUpdate = defineUpdate<MigrationState, [OperatorRequest]>('approveUpdate');
export const rejectUpdate = defineUpdate<MigrationState, [OperatorRequest]>('rejectUpdate');
export const resolveUpdate = defineUpdate<MigrationState, [OperatorRequest & { note: string }]>('resolveUpdate');
/** rollbackSignal as an update, so the operator hears whether it was accepted (signed or refused). */
export const rollbackUpdate = defineUpdate<MigrationState, [OperatorRequest]>('rollbackUpdate');
/** godwit tune, pause and resume; returns the pacing in force afterwards, as one line. */
export const tuneUpdate = defineUpdate<string, [TuneRequest]>('tuneUpdate');
