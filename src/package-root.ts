import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | undefined;

/**
 * Godwit's package root: the nearest folder above this module holding a package.json.
 * Files that ship beside the code (workflows/, examples/, .godwit/) are found from it,
 * never from a module's own URL: the CLI also runs as a compiled bundle under dist/,
 * where relative paths from import.meta.url no longer lead to them.
 */
export function packageRoot(): string {
  if (cached !== undefined) return cached;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return (cached = dir);
    const parent = dirname(dir);
    if (parent === dir) return (cached = process.cwd());
    dir = parent;
  }
}
