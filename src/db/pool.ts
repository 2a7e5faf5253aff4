import pg from 'pg';
import { redact, resolveTargetUrl } from '../config/targets';
import { isConnectionLoss } from './connection-loss';
import { resolveWithScratch } from '../rehearse/scratch-target';
import { GodwitError } from '../errors';

export { isConnectionLoss };

/** Thrown when a target's database cannot be reached. The message never holds the connection string. */
export class DatabaseUnreachableError extends GodwitError {
  override readonly name = 'DatabaseUnreachableError';
  override readonly retryable = true;
}

const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'ETIMEDOUT', 'ECONNRESET', 'EHOSTUNREACH', 'EAI_AGAIN', '57P03', '3D000', '28P01', '28000']);

export function isConnectionError(err: unknown): boolean {
  const code = (err as { code?: string } | null)?.code;
  return code !== undefined && CONNECTION_CODES.has(code);
}

/**
 * Thrown when a target's connection breaks while an activity uses it: a terminated backend,
 * a restarted Postgres, a network cut. Retryable: a new connection can succeed.
 */
export class ConnectionLostError extends GodwitError {
  override readonly name = 'ConnectionLostError';
  override readonly retryable = true;
  constructor(
    readonly target: string | undefined,
    cause: unknown,
  ) {
    const e = cause as { message?: string; code?: string } | undefined;
    const text = redact(e?.message ?? String(cause));
    const code = !e?.code || text.includes(e.code) ? '' : /^[0-9A-Z]{5}$/.test(e.code) ? ` (SQLSTATE ${e.code})` : ` (${e.code})`;
    super(`${target === undefined ? 'the database connection' : `the connection to target '${target}'`} was lost: ${text}${code}`, { cause });
  }
}

// The error each broken client reported; see TargetPools.pool.
const brokenClients = new WeakMap<pg.ClientBase, Error>();

/** The error with which a pooled client's connection died, if it did. */
export function connectionFailure(client: pg.ClientBase): Error | undefined {
  return brokenClients.get(client);
}

/**
 * A client of its own (not pooled) for short setup work. Its queries fail when its connection
 * dies; the listener keeps the 'error' event pg also emits then from crashing the process.
 */
export function standaloneClient(connectionString: string): pg.Client {
  const client = new pg.Client({ connectionString, application_name: 'godwit' });
  client.on('error', () => undefined);
  return client;
}

/** One pool per target alias for the life of the worker process. */
export class TargetPools {
  private readonly pools = new Map<string, pg.Pool>();

  constructor(private readonly resolveUrl: (alias: string) => string = (alias) => resolveTargetUrl(alias)) {}

  /** The alias's connection string; a rehearsal's scratch alias (src/rehearse) from its target's. Never for workflow input or messages. */
  connectionString(alias: string): string {
    return resolveWithScratch(alias, this.resolveUrl);
  }

  pool(alias: string): pg.Pool {
    let pool = this.pools.get(alias);
    if (!pool) {
      pool = new pg.Pool({
        connectionString: this.connectionString(alias),
        max: 4,
        connectionTimeoutMillis: 5_000,
        idleTimeoutMillis: 30_000,
        application_name: 'godwit',
        // Lets Postgres notice a dead worker mid-statement and abort its transaction at once.
        options: '-c client_connection_check_interval=1000',
        // And the worker notice a silent network cut (no RST, no FIN) while it waits on a statement.
        keepAlive: true,
        keepAliveInitialDelayMillis: 10_000,
      });
      // An idle client losing its connection must not crash the worker: the pool drops it.
      pool.on('error', () => undefined);
      // Nor one checked out by an activity, which pg-pool leaves without a listener: its
      // queries fail (and the activity is retried), and pg also emits 'error', which with no
      // listener would be thrown out of the event loop and end the process.
      pool.on('connect', (client) => client.on('error', (err) => brokenClients.set(client, err)));
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

  /** Ends one alias's pool (a rehearsal's scratch database, before it is dropped). */
  async forget(alias: string): Promise<void> {
    const pool = this.pools.get(alias);
    this.pools.delete(alias);
    await pool?.end();
  }

  async close(): Promise<void> {
    await Promise.all([...this.pools.values()].map((p) => p.end()));
    this.pools.clear();
  }
}
