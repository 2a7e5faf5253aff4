/**
 * Godwit as another package uses it: `import { plan, apply, status } from 'godwit'`, resolved
 * through package.json `exports` to the built library (dist/lib) and its declarations
 * (dist/types), from a project of its own that has godwit in its node_modules.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildLibrary, buildTypes } from '../../scripts/build-library';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { manifestDir, setupTemporal, type TestTemporal } from '../helpers/temporal';
import { REPO_ROOT } from './run-godwit';

const run = promisify(execFile);
// A target of its own: other files' runs on the shared dev server stay out of its status.
const TARGET = `lib-${randomBytes(3).toString('hex')}`;
let db: TestDatabase;
let t: TestTemporal;
let consumer: string;

beforeAll(async () => {
  await buildLibrary(REPO_ROOT);
  await buildTypes(REPO_ROOT);
  consumer = mkdtempSync(join(tmpdir(), 'godwit-consumer-'));
  mkdirSync(join(consumer, 'node_modules'));
  symlinkSync(REPO_ROOT, join(consumer, 'node_modules', 'godwit'), 'dir');
  writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', type: 'module', private: true }));
  db = await createTestDatabase('godwit_e2e_library');
  await db.query('create table users (id bigint generated always as identity primary key, email text)');
  t = await setupTemporal({ [TARGET]: db.url });
  await t.startWorker();
});

afterAll(async () => {
  await t?.close();
  await db?.drop();
});

const MANIFEST = 'id: 0001_nickname\noperations:\n  - add_column: { table: users, column: { name: nickname, type: text } }\n';

describe("the library, imported by another package as 'godwit'", () => {
  it('plans offline, applies and waits, lists the status, and throws errors that carry their exit code', async () => {
    const dir = manifestDir({ '0001_nickname.yaml': MANIFEST });
    writeFileSync(
      join(consumer, 'use.mjs'),
      `import { plan, apply, status, GodwitError } from 'godwit';
const [dir, target] = process.argv.slice(2);
const planned = await plan(dir);
const applied = await apply(dir, { target, wait: true, requestedBy: 'library-test' });
// Visibility lists a run a moment after it closes: ask until it does.
let listed = await status({ target });
while (!listed.migrations.some((m) => m.state === 'applied')) {
  await new Promise((r) => setTimeout(r, 200));
  listed = await status({ target });
}
const bad = await plan(dir + '/missing.yaml').catch((e) => ({ godwit: e instanceof GodwitError, name: e.name, exitCode: e.exitCode, retryable: e.retryable }));
console.log(JSON.stringify({ planned, applied, listed, bad }));
`,
    );
    const { stdout } = await run(process.execPath, ['use.mjs', dir, TARGET], { cwd: consumer, env: t.env });
    const { planned, applied, listed, bad } = JSON.parse(stdout);
    expect(planned.migrations.map((m: { id: string }) => m.id)).toEqual(['0001_nickname']);
    expect(planned.migrations[0].steps[0].forward[0].sql).toBe('ALTER TABLE "public"."users" ADD COLUMN "nickname" text');
    expect(applied).toMatchObject({ target: TARGET, exitCode: 0, migrations: [{ migrationId: '0001_nickname', state: 'applied', alreadyApplied: false }] });
    expect(listed.migrations).toEqual([expect.objectContaining({ migrationId: '0001_nickname', state: 'applied' })]);
    expect(bad).toEqual({ godwit: true, name: 'ManifestError', exitCode: 1, retryable: false });
    const { rows } = await db.query<{ name: string }>("select column_name as name from information_schema.columns where table_name = 'users' and column_name = 'nickname'");
    expect(rows).toHaveLength(1);
  });

  it('gives a TypeScript project resolving as Node does (NodeNext) the types of what it returns', async () => {
    writeFileSync(
      join(consumer, 'use.ts'),
      `import { plan, ExitCode, GodwitError, type ApplyResult, type MigrationInput } from 'godwit';
const result = await plan('migrations');
const steps: number = result.migrations[0]?.steps.length ?? 0;
const code: ExitCode = result.drift ? ExitCode.drift : ExitCode.applied;
const retryable: boolean = new GodwitError('x').retryable;
export const seen: [number, ExitCode, boolean, ApplyResult['exitCode'] | null, MigrationInput['target']] = [steps, code, retryable, null, 'app'];
// @ts-expect-error: the result is typed, not any
export const wrong: string = result.migrations;
`,
    );
    writeFileSync(
      join(consumer, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, skipLibCheck: true, typeRoots: [join(REPO_ROOT, 'node_modules', '@types')], types: ['node'] },
        files: ['use.ts'],
      }),
    );
    const tsc = join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const checked = await run(process.execPath, [tsc, '-p', consumer], { cwd: consumer }).then(
      () => ({ code: 0, output: '' }),
      (err: { code: number; stdout: string }) => ({ code: err.code, output: err.stdout }),
    );
    expect(checked).toEqual({ code: 0, output: '' });
  });
});
