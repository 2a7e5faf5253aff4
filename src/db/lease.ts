import type pg from 'pg';
import { GodwitError } from '../errors';

/** Thrown when another migration holds the target's lease. */
export class LeaseHeldError extends GodwitError {
  override readonly name = 'LeaseHeldError';
  constructor(
    readonly target: string,
    readonly holder: string,
    readonly since: Date,
    /** Set when the lease is stale: what Temporal said of the holder's run. */
    readonly holderState?: Exclude<HolderState, 'closed'>,
  ) {
    super(
      `target '${target}' is busy: ${holder} holds its lease since ${since.toISOString()}` +
        (holderState === undefined
          ? ''
          : holderState === 'open'
            ? ', and its run is still open (waiting for a person, or in a long statement): a run keeps its target until it ends'
            : ", and Temporal could not say whether its run still exists, so it keeps its target") +
        `. Only one migration runs per target at a time; wait for it to finish (\`godwit status --target ${target}\`) and apply again` +
        (holderState === undefined ? '.' : `, or end that run (resolve it, or terminate it in the Temporal UI and run \`godwit unlock --target ${target}\`).`),
    );
  }
}

/** Thrown when an activity's fencing token is no longer the lease's token: a newer holder took over. */
export class StaleLeaseError extends GodwitError {
  override readonly name = 'StaleLeaseError';
  constructor(readonly target: string, readonly token: string) {
    super(`lease on target '${target}' with fencing token ${token} is no longer held; this attempt must not write`);
  }
}

/**
 * How long a lease counts as renewed: every transaction of the run renews it. Past it, the lease
 * is only stale, not free: a run keeps its target for as long as it is open, parked in
 * awaiting_approval or rollback_failed, or inside a statement that runs for hours. A stale
 * lease goes to another migration only once Temporal says its holder's run no longer exists
 * (terminated, or its history lost). GODWIT_LEASE_TTL (a Postgres interval) sets it.
 */
export function leaseTtl(): string {
  return process.env.GODWIT_LEASE_TTL ?? '15 minutes';
}

/** What Temporal says of a lease holder's workflow: still open, closed (or gone), or it could not tell. */
export type HolderState = 'open' | 'closed' | 'unknown';

/** Asks Temporal about a holder (a workflow id). The default, for callers without Temporal, never frees a lease. */
export type HolderCheck = (holder: string) => Promise<HolderState>;

const neverFree: HolderCheck = async () => 'unknown';

/** A lease taken over from a holder whose run no longer exists: the caller audits it. */
export interface Takeover {
  holder: string;
  acquiredAt: Date;
  expiredAt: Date;
}

/**
 * Takes the target's lease for `holder` (the workflow id). Re-taking our own lease
 * (an activity retry) issues a new fencing token, which fences off the older attempt.
 * A lease of another holder is taken over only when it is stale and `check` says its run
 * is closed. Returns the fencing token as a decimal string (bigint), and the takeover if any.
 */
export async function acquireLease(client: pg.ClientBase, target: string, holder: string, check: HolderCheck = neverFree): Promise<{ token: string; takeover: Takeover | null }> {
  // A running step keeps the lease row locked (its fence check renews it), so read
  // first without locking: a busy target is refused at once instead of waiting.
  const current = await client.query<{ holder: string; acquired_at: Date; expires_at: Date; live: boolean }>(
    'select holder, acquired_at, expires_at, expires_at > now() as live from godwit.leases where target = $1',
    [target],
  );
  const held = current.rows[0];
  let takeover: Takeover | null = null;
  if (held && held.holder !== holder) {
    if (held.live) throw new LeaseHeldError(target, held.holder, held.acquired_at);
    const state = await check(held.holder);
    if (state !== 'closed') throw new LeaseHeldError(target, held.holder, held.acquired_at, state);
    takeover = { holder: held.holder, acquiredAt: held.acquired_at, expiredAt: held.expires_at };
  }
  const { rows } = await client.query<{ token: string }>(
    `insert into godwit.leases as l (target, holder, token, expires_at)
     values ($1, $2, nextval('godwit.fencing_tokens'), now() + $3::interval)
     on conflict (target) do update
       set holder = excluded.holder, token = excluded.token, acquired_at = now(), expires_at = excluded.expires_at
       where l.holder = excluded.holder or (l.holder = $4 and l.expires_at < now())
     returning token::text`,
    [target, holder, leaseTtl(), takeover?.holder ?? null],
  );
  if (rows[0]) return { token: rows[0].token, takeover };
  const after = await client.query<{ holder: string; acquired_at: Date }>('select holder, acquired_at from godwit.leases where target = $1', [target]);
  const row = after.rows[0];
  throw new LeaseHeldError(target, row?.holder ?? 'another migration', row?.acquired_at ?? new Date());
}

/** The lease of a target, if any. */
export async function readLease(client: pg.ClientBase, target: string): Promise<{ holder: string; token: string; acquiredAt: Date; expiresAt: Date } | null> {
  const { rows } = await client.query<{ holder: string; token: string; acquired_at: Date; expires_at: Date }>(
    'select holder, token::text as token, acquired_at, expires_at from godwit.leases where target = $1',
    [target],
  );
  const r = rows[0];
  return r === undefined ? null : { holder: r.holder, token: r.token, acquiredAt: r.acquired_at, expiresAt: r.expires_at };
}

/**
 * Checks the fencing token inside the caller's transaction and renews the lease.
 * The row lock makes a concurrent takeover wait until this transaction ends.
 */
export async function checkFence(client: pg.ClientBase, target: string, token: string): Promise<void> {
  const { rowCount } = await client.query(
    `update godwit.leases set expires_at = now() + $3::interval where target = $1 and token = $2::bigint`,
    [target, token, leaseTtl()],
  );
  if (rowCount !== 1) throw new StaleLeaseError(target, token);
}

export async function releaseLease(client: pg.ClientBase, target: string, token: string): Promise<void> {
  await client.query('delete from godwit.leases where target = $1 and token = $2::bigint', [target, token]);
}
