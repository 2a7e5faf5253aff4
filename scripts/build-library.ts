/**
 * The library, src/index.ts, as other packages import it (`import { plan } from 'godwit'`,
 * package.json `exports`): ES modules in dist/lib and type declarations in dist/types.
 * `npm run build` (scripts/build.ts) builds them after the CLI.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { packageRoot } from '../src/package-root';

export const DIST_LIB = join('dist', 'lib');
/** What `import ... from 'godwit'` loads (package.json `exports`). */
export const LIB_ENTRY = join(DIST_LIB, 'index.js');
export const DIST_TYPES = join('dist', 'types');

/**
 * Builds the library, src/index.ts, into dist/lib: ES modules that leave every package to
 * node_modules (the consumer's installation resolves them), split at each `import()` so an
 * offline plan loads no Temporal client. Returns the entry module's path.
 */
export async function buildLibrary(root: string = packageRoot()): Promise<string> {
  const outdir = join(root, DIST_LIB);
  rmSync(outdir, { recursive: true, force: true });
  await build({
    absWorkingDir: root,
    entryPoints: { index: 'src/index.ts' },
    outdir,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    packages: 'external',
    sourcemap: 'linked',
    logLevel: 'warning',
  });
  return join(root, LIB_ENTRY);
}

/**
 * The library's type declarations, dist/types, from tsconfig.lib.json. The sources import
 * without file extensions (bundler resolution); a consumer resolving as Node does (module
 * node16/nodenext) needs them, so each relative specifier is given the file it names.
 */
export async function buildTypes(root: string = packageRoot()): Promise<string> {
  const outdir = join(root, DIST_TYPES);
  rmSync(outdir, { recursive: true, force: true });
  await promisify(execFile)(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.lib.json')], { cwd: root });
  for (const file of declarationFiles(outdir)) {
    const text = readFileSync(file, 'utf8');
    const fixed = text.replace(/(from\s+|import\()(['"])(\.{1,2}\/[^'"]*)\2/g, (_m, lead: string, quote: string, spec: string) => {
      const target = resolve(dirname(file), spec);
      const withExt = existsSync(`${target}.d.ts`) ? `${spec}.js` : existsSync(join(target, 'index.d.ts')) ? `${spec}/index.js` : spec;
      return `${lead}${quote}${withExt}${quote}`;
    });
    if (fixed !== text) writeFileSync(file, fixed);
  }
  return join(outdir, 'src', 'index.d.ts');
}

function declarationFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? declarationFiles(path) : name.endsWith('.d.ts') ? [path] : [];
  });
}
