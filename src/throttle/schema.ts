import { z } from 'zod';
import { flag, friendly, strict } from '../operations/fields';
import type { ThrottleChange } from './settings';

const count = (what: string, min: number) =>
  z
    .number({ error: friendly('a number', what) })
    .min(min, { error: `expected at least ${min} (${what})` })
    .refine(Number.isFinite, { error: `expected a finite number (${what})` });

/** A number, or null to lift the limit (`rate: null`; `--rate none` on the command line). */
const limit = (what: string, min: number) => count(what, min).nullable();

/** The manifest's `policy.throttle` and what `godwit tune` accepts; every field optional. */
export const throttleSchema = strict(
  {
    batch_ms: count('the batch duration, ms, that the batch size is chosen for; row locks are held about this long', 1).optional(),
    rate: limit('at most this many rows per second; null: no limit', 1).optional(),
    pause_ms: count('a pause after every batch, ms', 0).optional(),
    yield: count('while the application writes, a pause of this many times the batch duration after every batch; 0 never yields', 0).optional(),
    max_lag_ms: limit('wait while a standby replays more than this far behind, ms; null: ignore replication lag', 0).optional(),
    max_wal_mb_s: limit('wait while the server writes more WAL than this, MB per second; null: no limit', 0).optional(),
    paused: flag('start paused: no batch runs until `godwit resume`').optional(),
    lanes: count('key ranges filled side by side while the database is otherwise idle, each on its own connection; 1: one range', 1)
      .max(8, { error: 'expected at most 8 lanes' })
      .int({ error: 'expected a whole number of lanes' })
      .optional(),
  },
  'the throttle: { batch_ms, rate, pause_ms, yield, max_lag_ms, max_wal_mb_s, paused, lanes }',
);

/** Compile-time proof that the schema produces a ThrottleChange. */
const _assignable = (t: z.output<typeof throttleSchema>): ThrottleChange => t;
void _assignable;
