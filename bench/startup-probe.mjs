// Where `godwit apply`'s startup goes, stage by stage, in a fresh process: what
// bin/godwit.js does before the workflow starts, in the same order, each stage timed on
// its own. Run by bench/run.ts (after it built dist/cli); prints one JSON line. Plain .mjs
// so that nothing is compiled before the first mark.
import { readdirSync } from 'node:fs';
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

const manifest = process.argv[2];
if (!manifest) throw new Error('usage: startup-probe.mjs <manifest>');

const { main } = await stage('main', () => import('../dist/cli/main.js'));
// What apply does before it needs Temporal, through `godwit plan <manifest>` (offline):
// the same modules (yaml, zod and the operations' schemas), the manifest read, validated
// and planned (apply plans it offline for the run's summary in the Web UI).
await stage('apply', async () => {
  const log = console.log;
  console.log = () => undefined;
  try {
    await main(['node', 'godwit', 'plan', manifest]);
  } finally {
    console.log = log;
  }
});
// Then apply loads the SDK's client and connects: src/client/connect.ts, whose chunk of
// dist/cli holds the SDK's client side, bundled in (scripts/build.ts), and its first call.
const dist = new URL('../dist/cli/', import.meta.url);
const connectChunk = readdirSync(dist).find((f) => /^connect-[A-Z0-9]+\.js$/.test(f));
if (!connectChunk) throw new Error('startup-probe: no connect-*.js chunk in dist/cli (run npm run build)');
const { connectClient } = await stage('sdk', () => import(new URL(connectChunk, dist).href));
if (process.env.TEMPORAL_ADDRESS) {
  const settings = { address: process.env.TEMPORAL_ADDRESS, namespace: process.env.TEMPORAL_NAMESPACE ?? 'default', taskQueue: 'probe', uiUrl: '' };
  const client = await stage('connect', () => connectClient(settings));
  await stage('close', () => client.connection.close());
}
marks.total = last;
process.stdout.write(`${JSON.stringify(marks)}\n`);
