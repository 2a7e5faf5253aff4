/**
 * Runs the `godwit` CLI as a real process, the way a pipeline does, and captures
 * what it prints and its exit code.
 */
import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** A fixture under test/e2e/fixtures, as an absolute path. */
export const fixture = (path: string): string => fileURLToPath(new URL(`./fixtures/${path}`, import.meta.url));

export interface GodwitRun {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout and stderr together, for assertions that do not care which. */
  output: string;
  ms: number;
}

/** `node bin/godwit.js <args>` from the repo root; rejects if it outlives `timeoutMs`. */
export function godwit(args: string[], env: NodeJS.ProcessEnv, timeoutMs = 60_000): Promise<GodwitRun> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['bin/godwit.js', ...args], { cwd: REPO_ROOT, env, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const ms = Date.now() - started;
      const e = err as (Error & { code?: number | string; killed?: boolean; signal?: string | null }) | null;
      if (e && (e.killed || typeof e.code !== 'number')) {
        reject(new Error(`godwit ${args.join(' ')} did not exit normally after ${ms} ms (${e.signal ?? e.code ?? e.message})\nstdout:\n${stdout}\nstderr:\n${stderr}`));
        return;
      }
      // GODWIT_E2E_ECHO=1 shows what each run printed, to read the messages a user gets.
      if (process.env.GODWIT_E2E_ECHO) console.log(`$ godwit ${args.join(' ')}  → exit ${e ? e.code : 0} (${ms} ms)\n${stdout}${stderr}`);
      resolve({ code: e ? (e.code as number) : 0, stdout, stderr, output: `${stdout}\n${stderr}`, ms });
    });
  });
}

/** A local TCP port with nothing listening on it (bound, then released). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** `env` without any GODWIT_TARGET_* variable. */
export function withoutTargets(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([k]) => !k.startsWith('GODWIT_TARGET_')));
}
