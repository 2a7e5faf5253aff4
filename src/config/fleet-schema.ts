/** The `fleets:` section of godwit.yaml (resolved in fleets.ts); apart so targets.ts can use it without a cycle. */
import { z } from 'zod';

const TargetEntry = z.union([z.string().min(1), z.object({ file: z.string().min(1) }).strict()]);

/** `2` (targets) or `"5%"` (of the fleet's targets). */
const Threshold = z.union([
  z.number().int().min(1, 'a count of failed targets, at least 1 (the first failure halts the release)'),
  z.string().regex(/^\d+(\.\d+)?%$/, 'a count (e.g. 2) or a percentage of the fleet (e.g. "5%")'),
]);

export const FleetSchema = z
  .object({
    targets: z.array(TargetEntry).min(1, 'list at least one target alias, glob or { file: ... }'),
    canary: z.array(z.string().min(1)).default([]),
    max_parallel: z.number().int().min(1).max(1000).default(1),
    failure_threshold: Threshold.default(1),
  })
  .strict();

export const FleetsSchema = z.record(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/, 'a fleet name: letters, digits, -, _ or .'), FleetSchema);

