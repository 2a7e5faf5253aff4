import { spawn } from 'node:child_process';
import { accessSync, constants, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { packageRoot } from '../package-root';
import { GodwitError } from '../errors';

/** The Temporal CLI release Godwit pins and builds when none is installed. */
export const TEMPORAL_CLI_VERSION = 'v1.5.1';
export const TEMPORAL_CLI_MODULE = 'github.com/temporalio/cli/cmd/temporal';

/** Where a Temporal CLI binary came from: PATH, the project's `.godwit/bin`, or a build just now. */
export type TemporalCliSource = 'path' | 'local' | 'built';

export interface TemporalCli {
  path: string;
  source: TemporalCliSource;
}

export interface FindTemporalCliOptions {
  /** Environment to read PATH from; defaults to `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Folder holding `.godwit/bin`; defaults to the Godwit package root. */
  projectRoot?: string;
}

export interface EnsureTemporalCliOptions extends FindTemporalCliOptions {
  /** Receives the few lines a user should see (the build notice, progress). */
  onNote?: (line: string) => void;
  /** The `go` binary to build with; defaults to `go` on PATH, then /usr/local/go/bin/go. */
  goBinary?: string;
}

/** Thrown when no Temporal CLI is on PATH or in `.godwit/bin` and building one with Go failed or was impossible. */
export class TemporalUnavailableError extends GodwitError {
  override readonly name = 'TemporalUnavailableError';
  constructor(readonly tried: readonly string[]) {
    super(
      [
        'No Temporal CLI is available to start a local Temporal dev server.',
        'Tried:',
        ...tried.map((t) => `  - ${t}`),
        'Fix it with one of:',
        `  - install Go (https://go.dev/dl/) and run the command again: Godwit then builds the pinned Temporal CLI ${TEMPORAL_CLI_VERSION} into .godwit/bin by itself;`,
        '  - put a `temporal` binary on PATH (https://docs.temporal.io/cli/setup-cli);',
        '  - set TEMPORAL_ADDRESS to a running Temporal server, e.g. TEMPORAL_ADDRESS=127.0.0.1:7233.',
      ].join('\n'),
    );
  }
}

const exeName = (name: string): string => (process.platform === 'win32' ? `${name}.exe` : name);

/** The project-local folder the pinned CLI is built into. */
export function localBinDir(projectRoot: string = packageRoot()): string {
  return join(projectRoot, '.godwit', 'bin');
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

function findOnPath(name: string, env: NodeJS.ProcessEnv): string | null {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, exeName(name));
    if (isExecutable(candidate)) return candidate;
  }
  return null;
}

/** Finds an installed Temporal CLI without building anything: PATH first, then `.godwit/bin`. */
export function findTemporalCli(opts: FindTemporalCliOptions = {}): { path: string; source: 'path' | 'local' } | null {
  const env = opts.env ?? process.env;
  const onPath = findOnPath('temporal', env);
  if (onPath) return { path: onPath, source: 'path' };
  const local = join(localBinDir(opts.projectRoot), exeName('temporal'));
  if (isExecutable(local)) return { path: local, source: 'local' };
  return null;
}

function findGo(opts: EnsureTemporalCliOptions, env: NodeJS.ProcessEnv): { go: string | null; lookedAt: string } {
  if (opts.goBinary !== undefined) {
    return { go: isExecutable(opts.goBinary) ? opts.goBinary : null, lookedAt: opts.goBinary };
  }
  const onPath = findOnPath('go', env);
  if (onPath) return { go: onPath, lookedAt: 'PATH' };
  // The official Go tarball installs here, often without touching PATH.
  const fallbacks = [env.GOROOT ? join(env.GOROOT, 'bin', exeName('go')) : null, '/usr/local/go/bin/go'].filter(
    (p): p is string => p !== null,
  );
  for (const candidate of fallbacks) if (isExecutable(candidate)) return { go: candidate, lookedAt: candidate };
  return { go: null, lookedAt: ['PATH', ...fallbacks].join(', ') };
}

/**
 * Returns a usable Temporal CLI: `temporal` on PATH, else `<projectRoot>/.godwit/bin/temporal`,
 * else one built with `go install` into that folder (about 3 minutes, once).
 */
export async function ensureTemporalCli(opts: EnsureTemporalCliOptions = {}): Promise<TemporalCli> {
  const env = opts.env ?? process.env;
  const projectRoot = opts.projectRoot ?? packageRoot();
  const binDir = localBinDir(projectRoot);
  const local = join(binDir, exeName('temporal'));

  const found = findTemporalCli({ env, projectRoot });
  if (found) return found;

  const tried = [`\`temporal\` on PATH: not found`, `project-local binary ${local}: not found`];
  const installCmd = `go install ${TEMPORAL_CLI_MODULE}@${TEMPORAL_CLI_VERSION}`;
  const { go, lookedAt } = findGo(opts, env);
  if (!go) {
    tried.push(`building it with \`${installCmd}\`: \`go\` not found (looked at ${lookedAt})`);
    throw new TemporalUnavailableError(tried);
  }

  mkdirSync(binDir, { recursive: true });
  try {
    await withBuildLock(binDir, opts.onNote, async () => {
      // Another process may have finished the build while we waited for the lock.
      if (isExecutable(local)) return;
      opts.onNote?.(
        `Building the Temporal CLI ${TEMPORAL_CLI_VERSION} with Go into .godwit/bin (first time only, about 3 minutes)...`,
      );
      await runGoInstall(go, installCmd, binDir, env, opts.onNote);
    });
  } catch (err) {
    tried.push(`building it with \`${installCmd}\` (GOBIN=${binDir}): ${(err as Error).message}`);
    throw new TemporalUnavailableError(tried);
  }
  if (!isExecutable(local)) {
    tried.push(`building it with \`${installCmd}\`: go finished but ${local} does not exist`);
    throw new TemporalUnavailableError(tried);
  }
  opts.onNote?.(`Temporal CLI ready at ${local}`);
  return { path: local, source: 'built' };
}

function runGoInstall(
  go: string,
  installCmd: string,
  binDir: string,
  env: NodeJS.ProcessEnv,
  onNote: ((line: string) => void) | undefined,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    // Pure-Go build like the official releases: no C compiler needed.
    const child = spawn(go, ['install', `${TEMPORAL_CLI_MODULE}@${TEMPORAL_CLI_VERSION}`], {
      env: { CGO_ENABLED: '0', ...env, GOBIN: binDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const keep = (chunk: Buffer): void => {
      output = (output + chunk.toString()).slice(-4000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const progress = setInterval(() => {
      const minutes = Math.round((Date.now() - started) / 60_000);
      onNote?.(`...still building the Temporal CLI (${minutes} min so far)`);
    }, 60_000);
    progress.unref();
    const killOnExit = (): void => {
      child.kill('SIGKILL');
    };
    process.once('exit', killOnExit);
    child.once('error', (err) => {
      clearInterval(progress);
      process.removeListener('exit', killOnExit);
      reject(new Error(`could not run ${go}: ${err.message}`));
    });
    child.once('close', (code, signal) => {
      clearInterval(progress);
      process.removeListener('exit', killOnExit);
      if (code === 0) resolve();
      else {
        const tail = output.trim().split('\n').slice(-15).join('\n    ');
        reject(new Error(`\`${installCmd}\` failed (${signal ?? `exit code ${code}`}):\n    ${tail}`));
      }
    });
  });
}

const LOCK_STALE_MS = 20 * 60_000;

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Runs `build` while holding `<binDir>/.temporal-build.lock`, so two Godwit processes never build at once. */
async function withBuildLock(
  binDir: string,
  onNote: ((line: string) => void) | undefined,
  build: () => Promise<void>,
): Promise<void> {
  const lock = join(binDir, '.temporal-build.lock');
  let announced = false;
  for (;;) {
    try {
      mkdirSync(lock);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      let holder = NaN;
      try {
        holder = Number(readFileSync(join(lock, 'pid'), 'utf8'));
      } catch {
        // The holder has not written its pid yet.
      }
      const stat = statSync(lock, { throwIfNoEntry: false });
      if (!stat) continue; // released between mkdir and stat
      if ((holder > 0 && !processAlive(holder)) || Date.now() - stat.mtimeMs > LOCK_STALE_MS) {
        rmSync(lock, { recursive: true, force: true });
        continue;
      }
      if (!announced) {
        onNote?.(`Waiting for another process (pid ${holder > 0 ? holder : '?'}) that is building the Temporal CLI...`);
        announced = true;
      }
      await new Promise((r) => setTimeout(r, 1000));
      continue;
    }
    try {
      writeFileSync(join(lock, 'pid'), String(process.pid));
      await build();
      return;
    } finally {
      rmSync(lock, { recursive: true, force: true });
    }
  }
}
