import { TargetPools } from '../src/db/pool';
import { makeAuthorize } from './authorize';
import type { ActivityDeps } from './context';
import { makeFinish } from './finish';
import { makeInspect } from './inspect';
import { makePlan } from './plan';
import { makePrepare } from './prepare';
import { makeProbes } from './probes';
import { makeRehearse } from './rehearse';
import { makeSteps } from './steps';
import { makeThrottle } from './throttle';
import { makeRevert } from './revert';
import { makeRelease } from './release';

/** Builds the activity implementations bound to a set of target pools (one per worker). */
export function createActivities(deps: ActivityDeps = { pools: new TargetPools() }) {
  return {
    prepareMigration: makePrepare(deps),
    ...makeSteps(deps),
    ...makeFinish(deps),
    ...makeInspect(deps),
    ...makePlan(deps),
    ...makeAuthorize(deps),
    ...makeThrottle(deps),
    ...makeProbes(deps),
    ...makeRevert(deps),
    ...makeRehearse(deps),
    ...makeRelease(deps),
  };
}

export type GodwitActivities = ReturnType<typeof createActivities>;
