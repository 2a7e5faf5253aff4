/** The revert workflow's typed messages: the migration's own names (messages.ts), so operators' verbs and `godwit status` reach a revert run too. */
import { defineQuery } from '@temporalio/workflow';
import { STATE_QUERY } from './migration';
import type { RevertProgress } from './revert';

export const revertStateQuery = defineQuery<RevertProgress>(STATE_QUERY);
