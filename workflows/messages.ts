/**
 * The migration workflow's typed messages and search attribute keys, defined with the
 * SDK. Workflow code, the worker and the SDK client import them from here; the plain
 * names and data types are in definitions.ts.
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { MigrationState } from '../src/lifecycle/states';
import { SEARCH_ATTRIBUTE, STATE_QUERY, type MigrationProgress } from './definitions';

export const GodwitTargetKey = defineSearchAttributeKey(SEARCH_ATTRIBUTE.target, SearchAttributeType.KEYWORD);
export const GodwitMigrationIdKey = defineSearchAttributeKey(SEARCH_ATTRIBUTE.migrationId, SearchAttributeType.KEYWORD);
export const GodwitStateKey = defineSearchAttributeKey(SEARCH_ATTRIBUTE.state, SearchAttributeType.KEYWORD);

export const stateQuery = defineQuery<MigrationProgress>(STATE_QUERY);
export const rollbackSignal = defineSignal<[{ by: string; reason?: string }]>('rollbackSignal');
export const retryRollbackSignal = defineSignal<[{ by: string }]>('retryRollbackSignal');
export const approveUpdate = defineUpdate<MigrationState, [{ by: string; note?: string }]>('approveUpdate');
export const rejectUpdate = defineUpdate<MigrationState, [{ by: string; reason?: string }]>('rejectUpdate');
export const resolveUpdate = defineUpdate<MigrationState, [{ by: string; note: string }]>('resolveUpdate');
