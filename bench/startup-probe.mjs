// Where `godwit apply`'s startup goes, stage by stage, in a fresh process: what
// bin/godwit.js does before the workflow starts, in the same order, each stage timed on
// its own. Run by bench/run.ts (after it made sure the compiled CLI is fresh); prints one
// JSON line. Plain .mjs so that nothing is compiled before the first mark.
import { performance } from 'node:perf_hooks';

const marks = { boot: performance.now() };
let last = marks.boot;
const stage = async (name, fn) => {
  const value = await fn();
  const now = performance.now();
  marks[name] = now - last;
  last = now;
  return value;
};

const { readdirSync } = await import('node:fs');
const { dirname, join } = await import('node:path');
const { fileURLToPath, pathToFileURL } = await import('node:url');
const root = fileURLToPath(new URL('..', import.meta.url));

const entry = await stage('check', async () => {
  const { freshEntry } = await import('../bin/cli-build.js');
  const found = freshEntry(root);
  if (!found) throw new Error('the compiled CLI is missing or stale: run `npm run build` first');
  return found;
});
await stage('main', () => import(pathToFileURL(entry).href));
// The chunk `godwit apply` imports: the command and everything it needs before it connects.
const applyChunk = readdirSync(dirname(entry)).find((f) => /^apply-[A-Z0-9]+\.mjs$/.test(f));
if (!applyChunk) throw new Error(`no apply chunk next to ${entry}`);
await stage('apply', () => import(pathToFileURL(join(dirname(entry), applyChunk)).href));
if (process.env.TEMPORAL_ADDRESS) {
  // What connectWire opens: one HTTP/2 connection.
  const { connect } = await import('node:http2');
  const session = await stage(
    'connect',
    () =>
      new Promise((resolve, reject) => {
        const s = connect(`http://${process.env.TEMPORAL_ADDRESS}`);
        s.once('connect', () => resolve(s));
        s.once('error', reject);
      }),
  );
  await stage('close', () => new Promise((resolve) => session.close(resolve)));
}
marks.total = last;
process.stdout.write(`${JSON.stringify(marks)}\n`);
