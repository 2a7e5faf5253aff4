// Where `godwit apply`'s startup goes, stage by stage, in a fresh process: the same
// imports the CLI's apply path makes, in the same order, each timed on its own, then
// the connection to Temporal. Run by bench/run.ts; prints one JSON line.
// Plain .mjs (not TypeScript) so that tsx's own cost is measured, not paid up front.
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
const here = (path) => new URL(path, import.meta.url).href;

await stage('tsx', async () => {
  const { register } = await import('tsx/esm/api');
  register();
});
await stage('cli', () => import(here('../src/cli/main.ts')));
await stage('temporalClient', () => import('@temporalio/client'));
await stage('zodYaml', async () => {
  await import('zod');
  await import('yaml');
});
await stage('applyModules', () => import(here('../src/cli/commands/apply.ts')));
if (process.env.TEMPORAL_ADDRESS) {
  const { connectClient } = await import(here('../src/client/index.ts'));
  const { temporalSettings } = await import(here('../src/config/temporal.ts'));
  const client = await stage('connect', () => connectClient(temporalSettings()));
  await stage('close', () => client.connection.close());
}
marks.total = last;
process.stdout.write(`${JSON.stringify(marks)}\n`);
