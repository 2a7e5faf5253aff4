/** The release workflow's typed messages (workflows/release.ts). */
import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { ReleaseProgress } from './release';

export const releaseStateQuery = defineQuery<ReleaseProgress>('releaseStateQuery');
/** Halts a release by hand: no new target starts, and what it applied is reverted. */
export const haltReleaseSignal = defineSignal<[{ by: string; reason?: string }]>('haltReleaseSignal');
