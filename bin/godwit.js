#!/usr/bin/env node
// The `godwit` command: the CLI compiled into dist/cli by `npm run build`, which `npm ci`
// runs (npm's prepare). During development, `npm run dev -- <command>` runs the
// TypeScript sources instead, without a build.
import { existsSync } from 'node:fs';

const entry = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('godwit: the CLI is not built (dist/cli/main.js is missing): run `npm run build` in the godwit package\n');
  process.exit(1);
}
const { main } = await import(entry.href);
await main();
