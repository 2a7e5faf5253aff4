import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCli, DIST_DIR, freshEntry } from '../../bin/cli-build.js';
import { REPO_ROOT } from '../helpers/process';

const run = promisify(execFile);

/**
 * bin/godwit.js runs the compiled CLI and rebuilds it when a source is newer. Checked on
 * a throwaway package holding copies of bin/ and a one-line CLI, with the repository's
 * node_modules linked in for esbuild and tsx, so the real dist/ is never touched.
 */
describe('the compiled CLI (bin/godwit.js, bin/cli-build.js)', () => {
  let root: string;
  const mainTs = () => join(root, 'src', 'cli', 'main.ts');
  const writeMain = (text: string) => writeFileSync(mainTs(), `export async function main(): Promise<void> {\n  const says: string = ${JSON.stringify(text)};\n  console.log(says);\n}\n`);
  const godwit = (env: NodeJS.ProcessEnv = {}) => run(process.execPath, [join(root, 'bin', 'godwit.js')], { cwd: root, env: { ...process.env, ...env } });

  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'godwit-cli-build-'));
    mkdirSync(join(root, 'src', 'cli'), { recursive: true });
    cpSync(join(REPO_ROOT, 'bin'), join(root, 'bin'), { recursive: true });
    writeFileSync(join(root, 'package.json'), JSON.stringify({ name: 'godwit-build-check', type: 'module', private: true }));
    symlinkSync(join(REPO_ROOT, 'node_modules'), join(root, 'node_modules'), 'dir');
    writeMain('first');
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('builds on first use, then runs the build without rebuilding', async () => {
    expect(freshEntry(root)).toBeNull();
    expect((await godwit()).stdout).toBe('first\n');
    const entry = freshEntry(root);
    expect(entry).not.toBeNull();
    expect((await godwit()).stdout).toBe('first\n');
    expect(freshEntry(root)).toBe(entry);
  });

  it('keeps a V8 code cache beside the build, one per command, and replaces one V8 rejects', async () => {
    const entry = freshEntry(root)!;
    const cache = `${entry}.other.v8cache`; // run with no command
    expect(existsSync(cache)).toBe(true);
    writeFileSync(cache, 'not a code cache');
    expect((await godwit()).stdout).toBe('first\n');
    expect(readFileSync(cache).toString()).not.toBe('not a code cache');
    expect((await godwit()).stdout).toBe('first\n');
    await run(process.execPath, [join(root, 'bin', 'godwit.js'), 'plan'], { cwd: root });
    expect(existsSync(`${entry}.plan.v8cache`)).toBe(true);
  });

  it('rebuilds when a source file changed after the build', async () => {
    const before = freshEntry(root);
    writeMain('second');
    const later = new Date(Date.now() + 5_000);
    utimesSync(mainTs(), later, later);
    expect(freshEntry(root)).toBeNull();
    expect((await godwit()).stdout).toBe('second\n');
    expect(freshEntry(root)).not.toBe(before);
  });

  it('keeps only a few old builds beside the current one', async () => {
    for (let i = 0; i < 4; i++) await buildCli(root);
    const builds = readdirSync(join(root, DIST_DIR)).filter((d) => d.startsWith('build-'));
    expect(builds.length).toBeLessThanOrEqual(3);
    expect(freshEntry(root)).not.toBeNull();
  });

  it('runs the TypeScript sources through tsx when asked to (and when it cannot build)', async () => {
    writeMain('from source');
    const { stdout, stderr } = await godwit({ GODWIT_FROM_SOURCE: '1' });
    expect(stdout).toBe('from source\n');
    expect(stderr).toBe('');
  });

  it('says so, and still runs, when the build fails', async () => {
    writeFileSync(mainTs(), `export async function main(): Promise<void> { console.log('broken'); }\nimport { nothing } from './missing';\nvoid nothing;\n`);
    const later = new Date(Date.now() + 10_000);
    utimesSync(mainTs(), later, later);
    const failing = await godwit().catch((err: { stdout: string; stderr: string }) => err);
    expect(failing.stderr).toMatch(/running from the TypeScript sources \(the compiled CLI could not be built: /);
  });
});
