import pg from 'pg';
import { redact, resolveTargetUrl } from '../config/targets';

/** Thrown when a target's database cannot be reached. The message never holds the connection string. */
export class DatabaseUnreachableError extends Error {
  override readonly name = 'DatabaseUnreachableError';
}

const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'ETIMEDOUT', 'ECONNRESET', 'EHOSTUNREACH', 'EAI_AGAIN', '57P03', '3D000', '28P01', '28000']);

export function isConnectionError(err: unknown): boolean {
  const code = (err as { code?: string } | null)?.code;
  return code !== undefined && CONNECTION_CODES.has(code);
}

/** One pool per target alias for the life of the worker process. */
export class TargetPools {
  private readonly pools = new Map<string, pg.Pool>();

  constructor(private readonly resolveUrl: (alias: string) => string = (alias) => resolveTargetUrl(alias)) {}

  pool(alias: string): pg.Pool {
    let pool = this.pools.get(alias);
    if (!pool) {
      pool = new pg.Pool({
        connectionString: this.resolveUrl(alias),
        max: 4,
        connectionTimeoutMillis: 5_000,
        idleTimeoutMillis: 30_000,
        application_name: 'godwit',
        // Lets Postgres notice a dead worker mid-statement and abort its transaction at once.
        options: '-c client_connection_check_interval=1000',
      });
      // An idle client losing its connection must not crash the worker.
      pool.on('error', () => undefined);
      this.pools.set(alias, pool);
    }
    return pool;
  }

  /** Checks out a client, translating connection failures into a clear error. */
  async connect(alias: string): Promise<pg.PoolClient> {
    try {
      return await this.pool(alias).connect();
    } catch (err) {
      if (isConnectionError(err)) {
        throw new DatabaseUnreachableError(
          `cannot reach Postgres for target '${alias}': ${redact((err as Error).message)}. ` +
            `Check that the database is up and that the worker's connection string for '${alias}' points at it.`,
        );
      }
      throw err;
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.pools.values()].map((p) => p.end()));
    this.pools.clear();
  }
}
