import pg from 'pg';

/** The admin connection URL with another database name. */
export function urlOf(adminUrl: string, db: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${db}`;
  return url.toString();
}

/** Runs `fn` on a fresh connection to `url`, closed afterwards whatever happens. */
export async function connected<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/**
 * Recreates `db` as a file copy of `template`, then checkpoints, so that nothing of the copy
 * (or of the previous run) is left dirty for the checkpointer to write during the next
 * measurement. Returns how long it took, ms.
 */
export async function copyDatabase(adminUrl: string, template: string, db: string): Promise<number> {
  const t0 = performance.now();
  await connected(adminUrl, async (c) => {
    await c.query(`drop database if exists ${db} with (force)`);
    await c.query(`create database ${db} template ${template} strategy file_copy`);
    await c.query('checkpoint');
  });
  return performance.now() - t0;
}

export async function dropDatabases(adminUrl: string, dbs: readonly string[]): Promise<void> {
  await connected(adminUrl, async (c) => {
    for (const db of dbs) await c.query(`drop database if exists ${db} with (force)`);
  });
}
