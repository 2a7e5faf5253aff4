/**
 * Writes src/client/wire/temporal-api.json: the few Temporal API messages the CLI's
 * apply path sends and reads (start a workflow, query it, wait for its close event),
 * cut out of the full API descriptor that @temporalio/proto ships.
 *
 * Why a subset: loading the whole API into protobufjs builds reflection objects for
 * thousands of types and cost the CLI about 130 ms of its startup; these ~30 types
 * load in a couple of milliseconds. Fields whose types are left out are dropped from
 * the subset, and protobufjs skips them when it decodes a message that carries them.
 *
 * Run after upgrading @temporalio/*: `node --import tsx scripts/gen-temporal-api.ts`.
 * A unit test fails when the committed file differs from what this produces.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { temporalApiSubset } from './temporal-api-subset';

const out = fileURLToPath(new URL('../src/client/wire/temporal-api.json', import.meta.url));
writeFileSync(out, `${JSON.stringify(temporalApiSubset(), null, 1)}\n`);
console.log(`wrote ${out}`);
