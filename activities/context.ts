import { Context } from '@temporalio/activity';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { HolderCheck } from '../src/db/lease';
import type pg from 'pg';
import type { MigrationPolicy } from '../src/contract/migration';
import { ConnectionLostError, connectionFailure, isConnectionLoss, type TargetPools } from '../src/db/pool';
import type { AuthorizationConfig } from '../src/config/targets';
import type { PoliciesConfig } from '../src/health/policy';
import { ensureControlSchema } from '../src/db/control-schema';
import { toFailure } from './errors';

export interface ActivityDeps {
  pools: TargetPools;
  /** godwit.yaml's authorization section, read by the worker at start; absent: development mode. */
  authorization?: AuthorizationConfig;
  /** godwit.yaml's policies section (health probes, on_unhealthy, max_duration per target), read at start. */
  policies?: PoliciesConfig;
}

// Per activity execution: several activities run at once in one worker.
const detailsByContext = new WeakMap<Context, unknown>();

/** Progress that the next heartbeat carries (a retried attempt reads it back as its resume point). */
export function heartbeatDetails(details: unknown): void {
  try {
    detailsByContext.set(Context.current(), details);
  } catch {
    // outside an activity: nothing to report to
  }
}

/** What the previous attempt of this activity last reported, if anything. */
export function previousHeartbeat<T>(): T | undefined {
  try {
    return Context.current().info.heartbeatDetails as T | undefined;
  } catch {
    return undefined;
  }
}

/** Heartbeats every second while `fn` runs, so a dead worker is noticed within the heartbeat timeout. */
export async function heartbeating<T>(fn: () => Promise<T>): Promise<T> {
  let ctx: Context | undefined;
  try {
    ctx = Context.current();
  } catch {
    return fn(); // called outside an activity (library use)
  }
  const timer = setInterval(() => ctx.heartbeat(detailsByContext.get(ctx)), 1_000);
  try {
    return await fn();
  } finally {
    clearInterval(timer);
  }
}

/**
 * Checks out a client for the target with the control schema in place; maps every error to a
 * Temporal failure. Whatever failed on a connection that broke meanwhile failed because of it:
 * that is a retryable ConnectionLostError, and the broken client is destroyed, not pooled.
 */
export async function withTarget<T>(deps: ActivityDeps, target: string, context: string, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  let client: pg.PoolClient | undefined;
  let broken = false;
  try {
    client = await deps.pools.connect(target);
    await ensureControlSchema(client, deps.pools.pool(target));
    return await heartbeating(() => fn(client!));
  } catch (err) {
    // The server's own word (57P01...) says more than pg's later "Connection terminated".
    const lost = isConnectionLoss(err) ? err : client && connectionFailure(client);
    if (lost) {
      broken = true;
      throw toFailure(new ConnectionLostError(target, lost), context);
    }
    throw toFailure(err, context);
  } finally {
    client?.release(broken);
  }
}

/**
 * Like withTarget for a look that must leave no trace (`godwit plan --target`): no control
 * schema is created, and `fn` runs in a read-only transaction, so Postgres itself refuses any
 * write, and in one snapshot, so every catalog read sees the same schema. Rolled back after.
 */
export async function readTarget<T>(deps: ActivityDeps, target: string, context: string, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  let client: pg.PoolClient | undefined;
  try {
    client = await deps.pools.connect(target);
    await client.query('begin isolation level repeatable read read only');
    try {
      return await heartbeating(() => fn(client!));
    } finally {
      await client.query('rollback').catch(() => undefined);
    }
  } catch (err) {
    throw toFailure(err, context);
  } finally {
    client?.release();
  }
}

/** Runs `fn` in a transaction with the policy's timeouts set for that transaction only. */
export async function inTransaction<T>(client: pg.ClientBase, policy: Pick<MigrationPolicy, 'lock_timeout' | 'statement_timeout'> | null, fn: () => Promise<T>): Promise<T> {
  await client.query('begin');
  try {
    if (policy) await setTimeouts(client, policy, true);
    const result = await fn();
    await client.query('commit');
    return result;
  } catch (err) {
    await client.query('rollback').catch(() => undefined);
    throw err;
  }
}

export async function setTimeouts(client: pg.ClientBase, policy: Pick<MigrationPolicy, 'lock_timeout' | 'statement_timeout'>, local: boolean): Promise<void> {
  await client.query(`select set_config('lock_timeout', $1, $3), set_config('statement_timeout', $2, $3)`, [
    String(policy.lock_timeout),
    String(policy.statement_timeout),
    local,
  ]);
}

export async function resetTimeouts(client: pg.ClientBase): Promise<void> {
  await client.query('reset lock_timeout; reset statement_timeout');
}

/**
 * Asks Temporal, through the worker's own client, whether a lease holder's workflow is still
 * open. Not found counts as closed (its history is gone); an error as unknown, which frees
 * nothing. Outside an activity (library use) nothing is known.
 */
export function temporalHolderCheck(): HolderCheck {
  return async (holder) => {
    let client;
    try {
      client = Context.current().client;
    } catch {
      return 'unknown';
    }
    try {
      const description = await client.workflow.getHandle(holder).describe();
      return description.status.name === 'RUNNING' ? 'open' : 'closed';
    } catch (err) {
      return err instanceof WorkflowNotFoundError ? 'closed' : 'unknown';
    }
  };
}
