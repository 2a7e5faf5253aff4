import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/process';

const run = promisify(execFile);
type Ran = { code: number; stdout: string; stderr: string };
const settle = (p: Promise<{ stdout: string; stderr: string }>): Promise<Ran> =>
  p.then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (err: { code: number; stdout: string; stderr: string }) => ({ code: err.code, stdout: err.stdout, stderr: err.stderr }),
  );

/** bin/godwit.js runs dist/cli, which global setup built from these sources (scripts/build.ts). */
describe('the compiled CLI (bin/godwit.js → dist/cli)', () => {
  let scratch: string;
  beforeAll(() => {
    scratch = mkdtempSync(join(tmpdir(), 'godwit-bin-'));
  });
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it('runs what dist/cli/main.js exports', async () => {
    const pkg = join(scratch, 'built');
    cpSync(join(REPO_ROOT, 'bin'), join(pkg, 'bin'), { recursive: true });
    mkdirSync(join(pkg, 'dist', 'cli'), { recursive: true });
    writeFileSync(join(pkg, 'package.json'), JSON.stringify({ type: 'module', private: true }));
    writeFileSync(join(pkg, 'dist', 'cli', 'main.js'), 'export async function main() { console.log(`compiled ${process.argv.slice(2).join(" ")}`); }\n');
    const { stdout } = await run(process.execPath, [join(pkg, 'bin', 'godwit.js'), 'status', '--json']);
    expect(stdout).toBe('compiled status --json\n');
  });

  it('says how to build it when dist/ is missing, and exits 1', async () => {
    const pkg = join(scratch, 'unbuilt');
    cpSync(join(REPO_ROOT, 'bin'), join(pkg, 'bin'), { recursive: true });
    writeFileSync(join(pkg, 'package.json'), JSON.stringify({ type: 'module', private: true }));
    const ran = await settle(run(process.execPath, [join(pkg, 'bin', 'godwit.js'), '--help']));
    expect(ran.code).toBe(1);
    expect(ran.stderr).toBe('godwit: the CLI is not built (dist/cli/main.js is missing): run `npm run build` in the godwit package\n');
  });

  it("loads neither the SDK's client nor pg in apply before there is something to send: a manifest that does not validate fails without them", async () => {
    const manifest = join(scratch, '0001_bad.yaml');
    writeFileSync(manifest, 'id: 0001_bad\noperations:\n  - add_colum: { table: users }\n');
    // The SDK's client is bundled into a chunk of dist/cli (scripts/build.ts): which chunks hold it.
    const dist = join(REPO_ROOT, 'dist', 'cli');
    const sdkChunks = readdirSync(dist).filter((f) => f.endsWith('.js') && /node_modules\/@temporalio\/client\/lib\//.test(readFileSync(join(dist, f), 'utf8')));
    expect(sdkChunks.length).toBeGreaterThan(0);
    // Every ES module the process loads is reported by a loader hook; pg, CommonJS left in node_modules, shows in require's cache.
    const hooks = `export async function initialize({ port }) { globalThis.port = port; }
      export async function load(url, context, next) { globalThis.port.postMessage(url); return next(url, context); }`;
    const probe = `
      import { createRequire, register } from 'node:module';
      import { MessageChannel } from 'node:worker_threads';
      const { port1, port2 } = new MessageChannel();
      const urls = [];
      port1.on('message', (url) => urls.push(url));
      register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(hooks)}), { data: { port: port2 }, transferList: [port2] });
      const { main } = await import(${JSON.stringify(join(dist, 'main.js'))});
      await main(['node', 'godwit', 'apply', ${JSON.stringify(manifest)}, '--target', 'app']);
      await new Promise((r) => setTimeout(r, 100));
      port1.close();
      const loaded = Object.keys(createRequire(import.meta.url).cache);
      console.log(JSON.stringify({ exitCode: process.exitCode, urls, pg: loaded.some((f) => f.includes('/node_modules/pg/')) }));
    `;
    const { stdout, stderr } = await settle(run(process.execPath, ['--input-type=module', '-e', probe], { cwd: REPO_ROOT }));
    expect(stderr).toMatch(/unknown operation 'add_colum' \(did you mean add_column\?\)/);
    const seen = JSON.parse(stdout.trim().split('\n').pop()!) as { exitCode: number; urls: string[]; pg: boolean };
    expect(seen.urls.some((u) => u.endsWith('/dist/cli/main.js'))).toBe(true);
    expect({ exitCode: seen.exitCode, sdk: sdkChunks.filter((c) => seen.urls.some((u) => u.endsWith(`/dist/cli/${c}`))), pg: seen.pg }).toEqual({ exitCode: 1, sdk: [], pg: false });
  });

  it('runs from the TypeScript sources for development (npm run dev --)', async () => {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'src/cli/dev.ts', '--help'], { cwd: REPO_ROOT });
    expect(stdout).toMatch(/^Usage: godwit \[options\] \[command\]/);
  });
});
