/**
 * `npm run build` (and npm's `prepare`, so `npm ci` leaves a built CLI): compiles the
 * `godwit` command, src/cli/main.ts and what it imports, into ES modules under dist/cli,
 * which bin/godwit.js runs.
 *
 * One bundle, split at each `import()`: a command's modules are a chunk of their own,
 * loaded only when that command runs. Small pure-JavaScript packages (commander, yaml, zod,
 * xstate) are bundled in: loaded from node_modules, zod alone is a hundred-odd ES modules
 * for Node to resolve and read on every run. The rest stays in node_modules, imported as
 * Node would: the SDK's packages share state between the CLI, the worker and the
 * activities, libpg-query finds its WebAssembly beside its own files, pg has an optional
 * native part. Files that ship beside the code (workflows/ for the worker's bundler,
 * examples/) are found from the package root (src/package-root.ts), not from dist/.
 */
import { renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { packageRoot } from '../src/package-root';

export const DIST_CLI = join('dist', 'cli');
/** What bin/godwit.js imports. */
export const CLI_ENTRY = join(DIST_CLI, 'main.js');
/** Left in node_modules (see above); every other package is bundled. */
const EXTERNAL = ['@temporalio/*', 'libpg-query', 'pg', 'pg-native'];

/** Builds dist/cli from the sources under `root`; returns the entry module's path. */
export async function buildCli(root: string = packageRoot()): Promise<string> {
  const final = join(root, DIST_CLI);
  // Built beside it, then swapped in with two renames: a `godwit` process running at the
  // time never reads half-written files, and chunks of older builds do not pile up.
  const outdir = `${final}.${process.pid}.new`;
  const old = `${final}.${process.pid}.old`;
  rmSync(outdir, { recursive: true, force: true });
  await build({
    absWorkingDir: root,
    entryPoints: { main: 'src/cli/main.ts' },
    outdir,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    external: EXTERNAL,
    // Bundled CommonJS packages (commander, yaml) require Node's built-in modules, which an
    // ES module has no `require` for: give the bundle one.
    banner: { js: "import { createRequire as __godwitRequire } from 'node:module';\nconst require = __godwitRequire(import.meta.url);" },
    sourcemap: 'linked',
    logLevel: 'warning',
  });
  try {
    renameSync(final, old);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  renameSync(outdir, final);
  rmSync(old, { recursive: true, force: true });
  return join(root, CLI_ENTRY);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const root = packageRoot();
  const entry = await buildCli(root);
  console.log(`godwit: built the CLI into ${entry.slice(root.length + 1)}`);
  const { buildLibrary, buildTypes } = await import('./build-library');
  const lib = await buildLibrary(root);
  const types = await buildTypes(root);
  console.log(`godwit: built the library into ${lib.slice(root.length + 1)}, its types into ${types.slice(root.length + 1)}`);
}
