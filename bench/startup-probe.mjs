// Where `godwit apply`'s startup goes, stage by stage, in a fresh process: what
// bin/godwit.js does before the workflow starts, in the same order, each stage timed on
// its own. Run by bench/run.ts (after it made sure the compiled CLI is fresh and has run
// once, so its V8 code cache exists); prints one JSON line. Plain .mjs so that nothing is
// compiled before the first mark.
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

const { fileURLToPath } = await import('node:url');
const root = fileURLToPath(new URL('..', import.meta.url));
const manifest = process.argv[2];
if (!manifest) throw new Error('usage: startup-probe.mjs <manifest>');

const { freshEntry, loadCompiled } = await import('../bin/cli-build.js');
const entry = await stage('check', () => {
  const found = freshEntry(root);
  if (!found) throw new Error('the compiled CLI is missing or stale: run `npm run build` first');
  return found;
});
const { main } = await stage('main', () => loadCompiled(entry, 'apply'));
// `apply` up to the point where it connects: its modules initialised, the manifest read and
// validated. Pointed at a closed port, it stops there with an error (silenced here).
await stage('apply', async () => {
  const error = console.error;
  console.error = () => undefined;
  try {
    await main(['node', 'godwit', 'apply', manifest, '--target', 'probe', '--address', '127.0.0.1:1']);
  } finally {
    console.error = error;
    process.exitCode = 0;
  }
});
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
