import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';

/** The pgroll release the backfill benchmark compares with. */
export const PGROLL_TAG = 'v0.16.2';
const PGROLL_REPO = 'https://github.com/xataio/pgroll';

export interface PgrollBinary {
  path: string;
  /** How it came to be there, for the report. */
  how: string;
}

/**
 * pgroll built from its source at PGROLL_TAG, cached in `<root>/.godwit/pgroll-<tag>/pgroll`
 * (git-ignored). pgroll is not on the Go module proxy this machine reaches, so the source
 * comes from a git repository that has the tag: PGROLL_SRC (a clone or mirror, e.g. one
 * fetched earlier) or else a shallow clone of GitHub. BENCH_PGROLL names a binary to use
 * instead. Returns null, with the reason, when none can be had.
 */
export function ensurePgroll(root: string, onNote: (line: string) => void): PgrollBinary | { missing: string } {
  if (process.env.BENCH_PGROLL) return existsSync(process.env.BENCH_PGROLL) ? { path: process.env.BENCH_PGROLL, how: 'BENCH_PGROLL' } : { missing: `BENCH_PGROLL=${process.env.BENCH_PGROLL} does not exist` };
  const dir = join(root, '.godwit', `pgroll-${PGROLL_TAG}`);
  const bin = join(dir, 'pgroll');
  if (existsSync(bin)) return { path: bin, how: `built earlier from ${PGROLL_TAG} (${dir})` };
  if (spawnSync('go', ['version']).status !== 0) return { missing: 'no Go toolchain on PATH to build it with' };

  const work = mkdtempSync(join(root, '.godwit', 'pgroll-build-'));
  try {
    let gitDir = process.env.PGROLL_SRC;
    if (!gitDir) {
      onNote(`cloning ${PGROLL_REPO} at ${PGROLL_TAG}`);
      const clone = spawnSync('git', ['clone', '--quiet', '--bare', '--depth', '1', '--branch', PGROLL_TAG, PGROLL_REPO, join(work, 'git')], { encoding: 'utf8' });
      if (clone.status !== 0) return { missing: `could not clone ${PGROLL_REPO} (${clone.stderr.trim().split('\n').pop() ?? 'no output'}); set PGROLL_SRC to a git repository that has the tag ${PGROLL_TAG}` };
      gitDir = join(work, 'git');
    }
    const commit = execFileSync('git', ['--git-dir', gitDir, 'rev-parse', `${PGROLL_TAG}^{commit}`], { encoding: 'utf8' }).trim();
    const src = join(work, 'src');
    mkdirSync(src);
    execFileSync('sh', ['-c', `git --git-dir "$1" archive "$2" | tar -x -C "$3"`, 'sh', gitDir, commit, src]);
    onNote(`building pgroll ${PGROLL_TAG} (${commit.slice(0, 12)}) with ${execFileSync('go', ['version'], { encoding: 'utf8' }).trim()}; the first build downloads its modules and takes minutes`);
    mkdirSync(dir, { recursive: true });
    const t0 = performance.now();
    const build = spawnSync('go', ['build', '-trimpath', '-ldflags', `-X github.com/xataio/pgroll/cmd.Version=${PGROLL_TAG.slice(1)}`, '-o', bin, '.'], { cwd: src, encoding: 'utf8', env: { ...process.env, CGO_ENABLED: '1' } });
    if (build.status !== 0) return { missing: `go build failed: ${build.stderr.trim().split('\n').slice(-3).join(' / ')}` };
    return { path: bin, how: `built from ${PGROLL_TAG} (${commit.slice(0, 12)}) in ${((performance.now() - t0) / 1000).toFixed(0)} s` };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
