/**
 * `npm run build` (and npm's `prepare`, so `npm ci` leaves a built CLI): compiles the
 * `godwit` command, src/cli/main.ts and what it imports, into ES modules under dist/cli,
 * which bin/godwit.js runs.
 *
 * One bundle, split at each `import()`: a command's modules are a chunk of their own,
 * loaded only when that command runs. Pure-JavaScript packages are bundled in: loaded from
 * node_modules, zod alone is a hundred-odd ES modules for Node to resolve and read on every
 * run. So is the SDK's client side (@temporalio/client, common, proto and workflow, with
 * grpc-js and protobufjs): `godwit apply` loads it on every run, and from node_modules
 * that cost ~0.1 s more CPU than from the chunk, most of it Node scanning the CommonJS
 * sources for their export names (cjs-module-lexer, over 1.4 MB of protobuf definitions)
 * to import them into an ES module, the rest resolving and reading 220-odd files.
 *
 * Left in node_modules, imported as Node would: the worker's packages, which hold state the
 * activities must share with the worker that runs them (@temporalio/activity's context) or
 * load a native library (@temporalio/core-bridge); libpg-query, which finds its WebAssembly
 * beside its own files; pg, which has an optional native part. A process that runs a worker
 * (`godwit worker`, `dev`, `demo`) so has two copies of @temporalio/common, the chunk's and
 * the worker's; the SDK's failures and errors are recognised across copies (their
 * `instanceof` is by a Symbol.for name, not by class identity), and nothing else of it
 * crosses from one to the other. Files that ship beside the code (workflows/ for the
 * worker's bundler, examples/) are found from the package root (src/package-root.ts), not
 * from dist/.
 */
import { readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build, type Plugin } from 'esbuild';
import { packageRoot } from '../src/package-root';

export const DIST_CLI = join('dist', 'cli');
/** What bin/godwit.js imports. */
export const CLI_ENTRY = join(DIST_CLI, 'main.js');
/** Left in node_modules (see above); every other package is bundled. */
const EXTERNAL = [
  '@temporalio/worker',
  '@temporalio/activity',
  '@temporalio/core-bridge',
  '@temporalio/interceptors-opentelemetry',
  '@temporalio/testing',
  // Loaded with import(), and only when TLS, an API key or a profile is configured (12 small
  // files, ~7 ms): esbuild hands a bundled CommonJS package to import() as a default export
  // only, without the named ones (`loadClientConnectConfig` would be undefined).
  '@temporalio/envconfig',
  'libpg-query',
  'pg',
  'pg-native',
  // grpc-js requires it only inside channelz and ORCA, which the CLI never starts: bundled,
  // its 0.5 MB (with the full protobufjs it needs) would be compiled on every run for nothing.
  '@grpc/proto-loader',
];

const PROTO_DEFINITIONS = /[\\/]@temporalio[\\/]proto[\\/]protos[\\/]json-module\.js$/;
const SDK_SOURCES = /[\\/]node_modules[\\/]@temporalio[\\/][^\\/]+[\\/]lib[\\/].*\.js$/;
const ADD_JSON = '.addJSON(';
/**
 * Temporal Cloud's operations API: a quarter of the SDK's protobuf definitions, for a service
 * that @temporalio/client does not have (Cloud's operations client is a package of its own),
 * and that no other definition refers to.
 */
const UNUSED_NAMESPACE = ['temporal', 'api', 'cloud'] as const;
const NAMES_UNUSED = /(^|\.)temporal\.api\.cloud(\.|$)|\bapi\.cloud\b/;

interface Definitions {
  nested?: Record<string, Definitions>;
  [key: string]: unknown;
}

/** The definitions without UNUSED_NAMESPACE, unless a definition outside it names a type in it. */
function withoutUnusedNamespace(root: Record<string, Definitions>): { definitions: Record<string, Definitions>; kept?: string } {
  const pruned = structuredClone(root);
  const [first, ...rest] = UNUSED_NAMESPACE;
  let namespace: Record<string, Definitions> | undefined = pruned;
  let name: string = first;
  for (const next of rest) {
    namespace = namespace?.[name]?.nested;
    name = next;
  }
  if (!namespace?.[name]) return { definitions: root };
  delete namespace[name];
  const reference = JSON.stringify(pruned).match(/"(?:type|keyType|requestType|responseType|extend)":"[^"]*\bcloud\b[^"]*"/);
  return reference ? { definitions: root, kept: `${UNUSED_NAMESPACE.join('.')} is kept: a definition names it (${reference[0]})` } : { definitions: pruned };
}

/**
 * The SDK's protobuf definitions (@temporalio/proto's json-module.js, 1.4 MB) are one object
 * literal handed to protobufjs' Root.addJSON, which builds a type for every definition when
 * the client loads and resolves them all at its first call. Two things make that cheaper:
 *
 * - The chunk carries the definitions as a JSON string for JSON.parse: V8 parses and
 *   evaluates a literal that size in ~30 ms here, JSON.parse the same data in ~6 ms. The
 *   literal is JSON (it is checked by parsing it); a file that no longer has that shape is
 *   bundled as it is, with a warning.
 * - Temporal Cloud's operations API (UNUSED_NAMESPACE) is left out. The build fails if the
 *   SDK's own JavaScript names it, so that an SDK upgrade that starts using it cannot lose it
 *   silently.
 */
const protobufDefinitions: Plugin = {
  name: 'protobuf-definitions',
  setup(b) {
    const namedBy: string[] = [];
    b.onLoad({ filter: SDK_SOURCES }, (args) => {
      if (PROTO_DEFINITIONS.test(args.path)) return undefined;
      if (NAMES_UNUSED.test(readFileSync(args.path, 'utf8'))) namedBy.push(args.path);
      return undefined; // bundled as it is
    });
    b.onLoad({ filter: PROTO_DEFINITIONS }, (args) => {
      const source = readFileSync(args.path, 'utf8');
      const start = source.indexOf(ADD_JSON);
      const end = source.lastIndexOf('});');
      const asIs = (why: string) => ({ contents: source, loader: 'js' as const, warnings: [{ text: `the protobuf definitions are bundled as they are: ${why}` }] });
      if (start < 0 || end < start || source.indexOf(ADD_JSON, start + 1) >= 0) return asIs('no single .addJSON({...}) call');
      let parsed: Record<string, Definitions>;
      try {
        parsed = JSON.parse(source.slice(start + ADD_JSON.length, end + 1)) as Record<string, Definitions>;
      } catch (err) {
        return asIs(`the literal is not JSON (${(err as Error).message})`);
      }
      const { definitions, kept } = withoutUnusedNamespace(parsed);
      const contents = `${source.slice(0, start)}${ADD_JSON}JSON.parse(${JSON.stringify(JSON.stringify(definitions))})${source.slice(end + 1)}`;
      return { contents, loader: 'js', warnings: kept ? [{ text: kept }] : [] };
    });
    b.onEnd(() =>
      namedBy.length > 0
        ? { errors: [{ text: `the SDK uses ${UNUSED_NAMESPACE.join('.')}, which scripts/build.ts leaves out of its protobuf definitions: take it off UNUSED_NAMESPACE (named in ${namedBy.join(', ')})` }] }
        : {},
    );
  },
};

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
    plugins: [protobufDefinitions],
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
