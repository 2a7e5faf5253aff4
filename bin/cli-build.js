// @ts-check
/**
 * The compiled CLI: src/cli/main.ts and everything it imports, bundled by esbuild into
 * one CommonJS file under dist/cli/ (each module inside initialised only when first
 * used), and run with a V8 code cache beside it. A deploy pipeline pays for the CLI's
 * startup on every `godwit apply`: running TypeScript through tsx's loader hooks cost
 * about 0.7 s of it, and compiling the bundle's JavaScript afresh on every run (Node 20
 * keeps no compile cache for ES modules) another ~60 ms that the code cache saves.
 *
 * `npm ci` builds it (the `prepare` script), and bin/godwit.js rebuilds it by itself
 * when a source file is newer than the build, so an edit never runs stale code. When
 * it cannot be built (esbuild missing, a read-only install), bin/godwit.js runs the
 * TypeScript sources through tsx instead: slower, same behaviour.
 *
 * Plain JavaScript on purpose: bin/godwit.js checks the build before anything can
 * compile TypeScript.
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Script } from 'node:vm';

/** Where the builds and the pointer to the current one live, under the package root. */
export const DIST_DIR = 'dist/cli';
const CURRENT = 'current.json';
/** Builds older than the current one that are kept, for processes still running from them. */
const KEEP_OLD_BUILDS = 2;
/** Not bundled: resolved from node_modules at run time. */
const EXTERNAL = [
  // The SDK's packages share state and classes between the CLI, the worker and the
  // activities (the activity context, failure classes): one copy, from node_modules.
  '@temporalio/*',
  // WebAssembly and native code found relative to the package's own files.
  'libpg-query',
  'pg-native',
  // Build tools, loaded only to build.
  'esbuild',
  'tsx',
];

/**
 * @typedef {{ entry: string; inputs: Record<string, number> }} BuildRecord
 * `inputs`: each source file's mtime as the build saw it. A file whose mtime differs now
 * was edited (or checked out) since; comparing with the build's own time instead would
 * rebuild on every run after a file got an mtime in the future.
 */

/** @param {string} root */
function readCurrent(root) {
  try {
    return /** @type {BuildRecord} */ (JSON.parse(readFileSync(join(root, DIST_DIR, CURRENT), 'utf8')));
  } catch {
    return null;
  }
}

/**
 * The current build's entry module, or null when there is none or a source it was
 * built from changed since (or went away). About a hundred stat calls: 1–2 ms.
 * @param {string} root
 * @returns {string | null}
 */
export function freshEntry(root) {
  const current = readCurrent(root);
  if (!current) return null;
  try {
    for (const [input, mtime] of Object.entries(current.inputs)) {
      if (statSync(join(root, input)).mtimeMs !== mtime) return null;
    }
    const entry = join(root, DIST_DIR, current.entry);
    statSync(entry);
    return entry;
  } catch {
    return null;
  }
}

/**
 * Builds the CLI into a new folder under dist/cli and points current.json at it (a
 * rename, so a process reading it sees the old build or the new, never half of one).
 * Several processes may build at once; the last rename wins and every build is whole.
 * @param {string} root
 * @returns {Promise<string>} the entry module
 */
export async function buildCli(root) {
  const esbuild = await import('esbuild');
  const builtAt = Date.now();
  const dist = join(root, DIST_DIR);
  const id = `build-${builtAt.toString(36)}-${process.pid}`;
  const outdir = join(dist, id);
  mkdirSync(outdir, { recursive: true });
  let result;
  try {
    result = await esbuild.build({
      absWorkingDir: root,
      entryPoints: ['src/cli/main.ts'],
      outfile: join(outdir, 'main.cjs'),
      bundle: true,
      format: 'cjs',
      platform: 'node',
      target: 'node20',
      external: EXTERNAL,
      // The sources are ES modules that find files beside them from import.meta.url.
      define: { 'import.meta.url': '__godwitModuleUrl' },
      banner: { js: "const __godwitModuleUrl = require('node:url').pathToFileURL(__filename).href;" },
      sourcemap: 'external',
      metafile: true,
      logLevel: 'silent',
    });
  } catch (err) {
    rmSync(outdir, { recursive: true, force: true });
    throw err;
  }
  // A script run through vm.Script has no loader for import(): everything the bundle
  // leaves to node_modules must be reached with require().
  const dynamic = Object.entries(result.metafile.inputs).flatMap(([file, input]) =>
    input.imports.filter((i) => i.kind === 'dynamic-import' && i.external).map((i) => `${file} imports ${i.path} with import()`),
  );
  if (dynamic.length > 0) {
    rmSync(outdir, { recursive: true, force: true });
    throw new Error(`the compiled CLI cannot import() what it leaves external; use createRequire: ${dynamic.join('; ')}`);
  }
  // What makes this build stale: our own sources (not node_modules, which only change
  // through npm, and npm rewrites its lockfiles when it does).
  const files = Object.keys(result.metafile.inputs).filter((f) => !f.includes('node_modules/'));
  files.push('package.json', 'bin/cli-build.js', 'node_modules/.package-lock.json');
  /** @type {Record<string, number>} */
  const inputs = {};
  const done = Date.now();
  for (const f of files) {
    const mtime = mtimeOf(join(root, f));
    // Edited while esbuild ran: the build may hold the old text, so it must not count as fresh.
    if (mtime !== null) inputs[f] = mtime >= builtAt && mtime <= done ? -1 : mtime;
  }
  /** @type {BuildRecord} */
  const record = { entry: `${id}/main.cjs`, inputs };
  const tmp = join(dist, `${CURRENT}.${process.pid}.tmp`);
  writeFileSync(tmp, `${JSON.stringify(record, null, 1)}\n`);
  renameSync(tmp, join(dist, CURRENT));
  pruneOldBuilds(dist, id);
  return join(outdir, 'main.cjs');
}

/**
 * Runs a build's main.cjs as Node's CommonJS loader would, but through vm.Script with a
 * V8 code cache kept beside it: with the cache, V8 skips parsing and compiling what an
 * earlier run compiled. The cache is written when this process exits if there was none or
 * V8 rejected it (another Node version), so it holds every function that first run
 * compiled, not just the top level; one per command (`main.cjs.apply.v8cache`), since
 * each command runs different code.
 * @param {string} entry
 * @param {string} [command] the CLI command about to run (process.argv[2])
 * @returns {{ main: (argv?: string[]) => Promise<void> }}
 */
export function loadCompiled(entry, command = process.argv[2]) {
  const cacheFile = `${entry}.${command && /^[a-z][a-z-]{0,30}$/.test(command) ? command : 'other'}.v8cache`;
  /** @type {Buffer | undefined} */
  let cachedData;
  try {
    cachedData = readFileSync(cacheFile);
  } catch {
    cachedData = undefined;
  }
  const script = new Script(Module.wrap(readFileSync(entry, 'utf8')), {
    filename: entry,
    ...(cachedData ? { cachedData } : {}),
  });
  if (cachedData === undefined || script.cachedDataRejected) {
    process.once('exit', () => {
      try {
        const tmp = `${cacheFile}.${process.pid}.tmp`;
        writeFileSync(tmp, script.createCachedData());
        renameSync(tmp, cacheFile);
      } catch {
        // a read-only install: every run compiles, as Node does anyway
      }
    });
  }
  const module = { exports: {} };
  script.runInThisContext()(module.exports, createRequire(entry), module, entry, dirname(entry));
  return /** @type {{ main: (argv?: string[]) => Promise<void> }} */ (module.exports);
}

/** @param {string} file */
function mtimeOf(file) {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return null;
  }
}

/**
 * @param {string} dist
 * @param {string} keep
 */
function pruneOldBuilds(dist, keep) {
  const builds = readdirSync(dist)
    .filter((d) => d.startsWith('build-') && d !== keep)
    .map((d) => ({ d, t: statSync(join(dist, d)).mtimeMs }))
    .sort((a, b) => b.t - a.t);
  for (const { d } of builds.slice(KEEP_OLD_BUILDS)) rmSync(join(dist, d), { recursive: true, force: true });
}

// `node bin/cli-build.js` (npm run build; `--if-possible` for npm's prepare, where a
// failure must not fail the install: bin/godwit.js falls back to the sources).
const { pathToFileURL } = await import('node:url');
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const root = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..');
  try {
    const entry = await buildCli(root);
    console.log(`godwit: built the CLI into ${entry.slice(root.length + 1).replace(/\/main\.cjs$/, '/')}`);
  } catch (err) {
    console.error(`godwit: could not build the CLI: ${err instanceof Error ? err.message : String(err)}`);
    if (!process.argv.includes('--if-possible')) process.exitCode = 1;
  }
}
