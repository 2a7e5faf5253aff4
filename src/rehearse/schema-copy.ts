import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { redact } from '../config/targets';
import { GodwitError } from '../errors';

/** Thrown when pg_dump or pg_restore fails (missing, too old for the server, refused). The message holds no password. */
export class SchemaCopyError extends GodwitError {
  override readonly name = 'SchemaCopyError';
}

/**
 * A connection string for a libpq tool with its password moved to PGPASSWORD, so it shows in
 * neither the process list nor an error message.
 */
export function libpqArgs(connectionString: string): { dbname: string; env: NodeJS.ProcessEnv } {
  const env: NodeJS.ProcessEnv = { ...process.env };
  if (!/^postgres(ql)?:\/\//i.test(connectionString)) return { dbname: connectionString, env };
  const url = new URL(connectionString);
  if (url.password) {
    env.PGPASSWORD = decodeURIComponent(url.password);
    url.password = '';
  }
  return { dbname: url.toString(), env };
}

function run(tool: string, args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(tool, args, { env, maxBuffer: 64 * 1024 * 1024 }, (err, _stdout, stderr) => {
      if (!err) return resolve();
      const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
      reject(
        new SchemaCopyError(
          missing
            ? `${tool} was not found on the worker's PATH: install the PostgreSQL client tools of the server's major version (e.g. apt-get install postgresql-client-15) where the worker runs`
            : `${tool} failed: ${redact(String(stderr).trim() || err.message)}`,
        ),
      );
    });
  });
}

/**
 * The target's schema (no data, no Godwit schemas) in pg_dump's archive format, in a temporary
 * folder; pg_dump only reads. `use` restores its sections; the folder is removed after.
 */
export async function withSchemaDump<T>(sourceUrl: string, use: (restore: (section: 'pre-data' | 'post-data', destUrl: string) => Promise<void>) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'godwit-rehearse-'));
  const file = join(dir, 'schema.dump');
  try {
    const source = libpqArgs(sourceUrl);
    await run('pg_dump', ['--format=custom', '--schema-only', '--exclude-schema=godwit*', `--file=${file}`, `--dbname=${source.dbname}`], source.env);
    return await use(async (section, destUrl) => {
      const dest = libpqArgs(destUrl);
      await run('pg_restore', [`--section=${section}`, '--no-owner', '--no-acl', '--exit-on-error', '--single-transaction', `--dbname=${dest.dbname}`, file], dest.env);
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
