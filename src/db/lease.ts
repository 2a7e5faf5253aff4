import type pg from 'pg';

/** Thrown when another migration holds the target's lease. */
export class LeaseHeldError extends Error {
  override readonly name = 'LeaseHeldError';
  constructor(
    readonly target: string,
    readonly holder: string,
    readonly since: Date,
  ) {
    super(
      `target '${target}' is busy: ${holder} holds its lease since ${since.toISOString()}. ` +
        `Only one migration runs per target at a time; wait for it to finish (\`godwit status --target ${target}\`) and apply again.`,
    );
  }
}

/** Thrown when an activity's fencing token is no longer the lease's token: a newer holder took over. */
export class StaleLeaseError extends Error {
  override readonly name = 'StaleLeaseError';
  constructor(readonly target: string, readonly token: string) {
    super(`lease on target '${target}' with fencing token ${token} is no longer held; this attempt must not write`);
  }
}

/** How long a lease lives without being renewed; every step renews it. */
export const LEASE_TTL = '15 minutes';

/**
 * Takes the target's lease for `holder` (the workflow id). Re-taking our own lease
 * (an activity retry) issues a new fencing token, which fences off the older attempt.
 * Returns the fencing token as a decimal string (bigint).
 */
export async function acquireLease(client: pg.ClientBase, target: string, holder: string): Promise<string> {
  // A running step keeps the lease row locked (its fence check renews it), so read
  // first without locking: a busy target is refused at once instead of waiting.
  const current = await client.query<{ holder: string; acquired_at: Date; live: boolean }>(
    'select holder, acquired_at, expires_at > now() as live from godwit.leases where target = $1',
    [target],
  );
  const held = current.rows[0];
  if (held && held.live && held.holder !== holder) throw new LeaseHeldError(target, held.holder, held.acquired_at);
  const { rows } = await client.query<{ token: string }>(
    `insert into godwit.leases as l (target, holder, token, expires_at)
     values ($1, $2, nextval('godwit.fencing_tokens'), now() + $3::interval)
     on conflict (target) do update
       set holder = excluded.holder, token = excluded.token, acquired_at = now(), expires_at = excluded.expires_at
       where l.expires_at < now() or l.holder = excluded.holder
     returning token::text`,
    [target, holder, LEASE_TTL],
  );
  if (rows[0]) return rows[0].token;
  const after = await client.query<{ holder: string; acquired_at: Date }>('select holder, acquired_at from godwit.leases where target = $1', [target]);
  const row = after.rows[0];
  throw new LeaseHeldError(target, row?.holder ?? 'another migration', row?.acquired_at ?? new Date());
}

/**
 * Checks the fencing token inside the caller's transaction and renews the lease.
 * The row lock makes a concurrent takeover wait until this transaction ends.
 */
export async function checkFence(client: pg.ClientBase, target: string, token: string): Promise<void> {
  const { rowCount } = await client.query(
    `update godwit.leases set expires_at = now() + $3::interval where target = $1 and token = $2::bigint`,
    [target, token, LEASE_TTL],
  );
  if (rowCount !== 1) throw new StaleLeaseError(target, token);
}

export async function releaseLease(client: pg.ClientBase, target: string, token: string): Promise<void> {
  await client.query('delete from godwit.leases where target = $1 and token = $2::bigint', [target, token]);
}
