#!/usr/bin/env node
// Runs the compiled CLI (dist/cli, see cli-build.js), building it first when it is
// missing or older than a source file. When it cannot be built, the TypeScript
// sources run through tsx: `npx godwit ...` works straight after `npm ci` either way.
import { fileURLToPath } from 'node:url';
import { buildCli, freshEntry, loadCompiled } from './cli-build.js';

const root = fileURLToPath(new URL('..', import.meta.url));

async function compiledEntry() {
  if (process.env.GODWIT_FROM_SOURCE === '1') return null;
  const fresh = freshEntry(root);
  if (fresh) return fresh;
  try {
    return await buildCli(root);
  } catch (err) {
    process.stderr.write(`godwit: running from the TypeScript sources (the compiled CLI could not be built: ${String(err?.message ?? err).split('\n')[0]})\n`);
    return null;
  }
}

const entry = await compiledEntry();
if (entry) {
  await loadCompiled(entry).main();
} else {
  const { register } = await import('tsx/esm/api');
  register();
  const { main } = await import('../src/cli/main.ts');
  await main();
}
