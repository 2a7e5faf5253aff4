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

export interface CliRun {
  child: ChildProcess;
  output(): string;
  /** Resolves when the output contains `text`; rejects after `timeoutMs`. */
  waitFor(text: string | RegExp, timeoutMs?: number): Promise<void>;
  exit: Promise<number | null>;
}

/** Spawns `godwit <args>` as a real process, for tests that act while it runs. */
export function spawnCli(args: string[], env: NodeJS.ProcessEnv): CliRun {
  const child = spawn(process.execPath, [GODWIT_BIN, ...args], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const listeners = new Set<() => void>();
  const onData = (d: Buffer) => {
    out += d.toString();
    for (const l of listeners) l();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exit = waitForExit(child);
  return {
    child,
    output: () => out,
    exit,
    waitFor(text, timeoutMs = 60_000) {
      const seen = () => (typeof text === 'string' ? out.includes(text) : text.test(out));
      if (seen()) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          listeners.delete(check);
          reject(new Error(`timed out waiting for ${String(text)} in:\n${out}`));
        }, timeoutMs);
        const check = () => {
          if (!seen()) return;
          clearTimeout(timer);
          listeners.delete(check);
          resolve();
        };
        listeners.add(check);
        void exit.then(() => setTimeout(() => {
          if (listeners.has(check)) {
            listeners.delete(check);
            clearTimeout(timer);
            reject(new Error(`process exited before ${String(text)} appeared:\n${out}`));
          }
        }, 50));
      });
    },
  };
}

/** Runs `godwit <args>` to completion. */
export async function runCli(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; output: string }> {
  const run = spawnCli(args, env);
  const code = await run.exit;
  return { code, output: run.output() };
}
