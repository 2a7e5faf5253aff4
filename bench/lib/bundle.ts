import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * An experiment, not a way Godwit ships: the same CLI (src/cli/main.ts and everything the
 * apply path imports) bundled by esbuild into one ES module, so it runs on plain `node`
 * without tsx's loader hooks, without resolving hundreds of files, and with the parts of
 * its dependencies it never uses left out. It shows what running compiled JavaScript
 * instead of TypeScript through tsx would save. esbuild is tsx's own dependency; when it
 * cannot be loaded the experiment is skipped.
 *
 * The bundle goes under `<root>/.godwit/cache` so that the few modules left out (the worker
 * runtime, which the apply path never loads) would resolve from the project's node_modules.
 */
export async function buildCliBundle(root: string): Promise<{ entry: string; dir: string } | null> {
  let esbuild: typeof import('esbuild');
  try {
    esbuild = await import('esbuild');
  } catch {
    return null;
  }
  const dir = join(root, '.godwit', 'cache', `bench-cli-bundle-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  try {
    await esbuild.build({
      entryPoints: [join(root, 'src', 'cli', 'main.ts')],
      outfile: join(dir, 'main.mjs'),
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      // `godwit worker` and `godwit demo` load the worker runtime (native core bridge, webpack); apply never does.
      external: ['@temporalio/worker', '@temporalio/core-bridge'],
      // CommonJS dependencies inside an ES module bundle still call require().
      banner: { js: "import { createRequire as __godwitBenchRequire } from 'node:module'; const require = __godwitBenchRequire(import.meta.url);" },
      logLevel: 'error',
    });
  } catch {
    rmSync(dir, { recursive: true, force: true });
    return null;
  }
  const entry = join(dir, 'godwit.mjs');
  writeFileSync(entry, "const { main } = await import('./main.mjs');\nawait main();\n");
  return { entry, dir };
}
