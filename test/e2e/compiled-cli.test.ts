import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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
    // Packages imported by ES modules still go through require's cache when they are CommonJS, as the SDK is.
    const probe = `
      import { createRequire } from 'node:module';
      const { main } = await import(${JSON.stringify(join(REPO_ROOT, 'dist', 'cli', 'main.js'))});
      await main(['node', 'godwit', 'apply', ${JSON.stringify(manifest)}, '--target', 'app']);
      const loaded = Object.keys(createRequire(import.meta.url).cache);
      const has = (dir) => loaded.some((f) => f.includes(dir));
      console.log(JSON.stringify({ exitCode: process.exitCode, client: has('/node_modules/@temporalio/client/'), pg: has('/node_modules/pg/') }));
    `;
    const { stdout, stderr } = await settle(run(process.execPath, ['--input-type=module', '-e', probe], { cwd: REPO_ROOT }));
    expect(stderr).toMatch(/unknown operation 'add_colum' \(did you mean add_column\?\)/);
    expect(JSON.parse(stdout.trim().split('\n').pop()!)).toEqual({ exitCode: 1, client: false, pg: false });
  });

  it('runs from the TypeScript sources for development (npm run dev --)', async () => {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'src/cli/dev.ts', '--help'], { cwd: REPO_ROOT });
    expect(stdout).toMatch(/^Usage: godwit \[options\] \[command\]/);
  });
});
