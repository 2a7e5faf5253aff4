import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const GODWIT_BIN = fileURLToPath(new URL('../../bin/godwit.js', import.meta.url));

export interface SpawnedWorker {
  child: ChildProcess;
  output(): string;
}

/** Starts `godwit worker` as its own process and resolves once it polls its task queue. */
export async function spawnWorker(env: NodeJS.ProcessEnv, timeoutMs = 60_000): Promise<SpawnedWorker> {
  const child = spawn(process.execPath, [GODWIT_BIN, 'worker'], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`worker did not start within ${timeoutMs} ms:\n${out}`)), timeoutMs);
    const check = () => {
      if (out.includes("godwit worker: task queue")) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`worker exited with ${code} before starting:\n${out}`));
    });
  });
  return { child, output: () => out };
}

export function waitForExit(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}
