/**
 * Revert of applied migrations, the database's side: the plan each run executed (recorded by
 * prepare in godwit.plans), which applied migrations a revert takes back, what refuses it (a
 * later migration over the same objects, copies or retired objects purged since), and the
 * schema a proven revert must leave.
 */
import type pg from 'pg';
import type { PlannedStep } from '../operations/types';
import type { MigrationPolicy } from '../contract/migration';
import { hashEntries, type SchemaFingerprint } from './fingerprint';
import { GodwitError } from '../errors';

/** Thrown when a revert cannot start: the message says why and what the user can do. */
export class RevertRefusedError extends GodwitError {
  override readonly name = 'RevertRefusedError';
}

/** Records the plan a run is about to execute, in prepare's transaction. */
export async function recordPlan(client: pg.ClientBase, scope: { migrationId: string; runId: string }, steps: readonly PlannedStep[], policy: MigrationPolicy): Promise<void> {
  await client.query(
    `insert into godwit.plans (run_id, migration_id, steps, policy) values ($1, $2, $3, $4)
     on conflict (run_id) do update set steps = excluded.steps, policy = excluded.policy, recorded_at = now()`,
    [scope.runId, scope.migrationId, JSON.stringify(steps), JSON.stringify(policy)],
  );
}

/** One applied migration a revert takes back, with what its run recorded. */
export interface AppliedRun {
  migrationId: string;
  runId: string;
  workflowId: string;
  checksum: string;
  startedAt: string;
  /** The plan it executed; null when it was applied before Godwit recorded plans. */
  steps: PlannedStep[] | null;
  policy: MigrationPolicy | null;
}

interface AppliedRow {
  migration_id: string;
  run_id: string;
  workflow_id: string;
  checksum: string;
  started_at: Date;
  state: string;
  steps: PlannedStep[] | null;
  policy: MigrationPolicy | null;
}

const SELECT_RUNS = `
select m.migration_id, m.run_id, m.workflow_id, m.checksum, m.started_at, m.state, p.steps, p.policy
  from godwit.migrations m left join godwit.plans p on p.run_id = m.run_id`;

function toRun(r: AppliedRow): AppliedRun {
  return { migrationId: r.migration_id, runId: r.run_id, workflowId: r.workflow_id, checksum: r.checksum, startedAt: r.started_at.toISOString(), steps: r.steps, policy: r.policy };
}

async function readRun(client: pg.ClientBase, target: string, migrationId: string): Promise<AppliedRow> {
  const { rows } = await client.query<AppliedRow>(`${SELECT_RUNS} where m.migration_id = $1`, [migrationId]);
  const row = rows[0];
  if (!row) throw new RevertRefusedError(`migration ${migrationId} was never applied to '${target}'; list what was with \`godwit status --target ${target}\``);
  // `reverting` with the target's lease in hand (prepareRevert takes it first): the revert that
  // marked it was closed and unlocked before it finished. This one takes it back from there.
  if (row.state !== 'applied' && row.state !== 'reverting') {
    throw new RevertRefusedError(`migration ${migrationId} on '${target}' is ${row.state}, not applied: only an applied migration can be reverted${row.state === 'reverted' ? ' (it already was)' : ''}`);
  }
  return row;
}

/**
 * The applied migrations a revert of `migrationId` takes back, newest first: that one alone,
 * or with `to`, every applied migration from it back to and including `to`, in the order they
 * were applied. Refused when one is not applied, or `to` was applied after `migrationId`.
 */
export async function revertChain(client: pg.ClientBase, target: string, migrationId: string, to?: string): Promise<AppliedRun[]> {
  const newest = await readRun(client, target, migrationId);
  if (to === undefined || to === migrationId) return [toRun(newest)];
  const oldest = await readRun(client, target, to);
  // Compared in SQL: a JS Date keeps milliseconds, Postgres microseconds.
  const { rows } = await client.query<AppliedRow>(
    `${SELECT_RUNS}
       cross join (select started_at from godwit.migrations where run_id = $2) n
       cross join (select started_at from godwit.migrations where run_id = $1) o
      where m.state in ('applied', 'reverting') and m.started_at between o.started_at and n.started_at
      order by m.started_at desc, m.migration_id desc`,
    [oldest.run_id, newest.run_id],
  );
  if (rows.length === 0) {
    throw new RevertRefusedError(`--to ${to} was applied after ${migrationId}: name the newer one first (\`godwit revert ${to} --to ${migrationId} --target ${target}\`)`);
  }
  return rows.map(toRun);
}

/**
 * The chain a revert run already took (its row in godwit.reverts), in its order, or null when
 * it has none yet: a retried prepare finds its runs marked `reverting` by its first attempt.
 */
export async function chainOfRevert(client: pg.ClientBase, revertRunId: string): Promise<AppliedRun[] | null> {
  const { rows } = await client.query<{ chain: { migrationId: string; runId: string }[] }>('select chain from godwit.reverts where run_id = $1', [revertRunId]);
  if (!rows[0]) return null;
  const runIds = rows[0].chain.map((c) => c.runId);
  const { rows: runs } = await client.query<AppliedRow>(`${SELECT_RUNS} where m.run_id = any($1)`, [runIds]);
  return runIds.map((id) => toRun(runs.find((r) => r.run_id === id)!));
}

/** Tables (and other objects) a plan's steps touch, as `schema.name`. */
export function touchedObjects(steps: readonly PlannedStep[]): Set<string> {
  return new Set(steps.flatMap((s) => s.touches));
}

/**
 * Refuses a revert when a migration applied after the chain's newest one, and not reverted with
 * it, changed an object the chain's steps touched: undoing the chain under it would undo on top
 * of its changes. Names each such migration, and the `--to` that would take it back too.
 */
export async function refuseLaterMigrations(client: pg.ClientBase, target: string, chain: readonly AppliedRun[]): Promise<void> {
  const newest = chain[0]!;
  const oldest = chain.at(-1)!;
  const inChain = new Set(chain.map((r) => r.runId));
  const touched = new Set(chain.flatMap((r) => [...touchedObjects(r.steps ?? [])]));
  const { rows } = await client.query<AppliedRow>(
    `${SELECT_RUNS} where m.state = 'applied' and m.started_at > (select started_at from godwit.migrations where run_id = $1) order by m.started_at`,
    [newest.runId],
  );
  const blockers: string[] = [];
  let latest: string | null = null;
  for (const row of rows) {
    if (inChain.has(row.run_id)) continue;
    if (row.steps === null) {
      blockers.push(`${row.migration_id} (applied after it, before Godwit recorded plans, so what it changed is not known)`);
    } else {
      const shared = [...touchedObjects(row.steps)].filter((o) => touched.has(o)).sort();
      if (shared.length === 0) continue;
      blockers.push(`${row.migration_id} (changed ${shared.join(', ')} since)`);
    }
    latest = row.migration_id;
  }
  if (blockers.length === 0) return;
  throw new RevertRefusedError(
    `cannot revert ${chain.map((r) => r.migrationId).join(', ')} on '${target}': a later applied migration changed the same objects: ${blockers.join('; ')}. ` +
      `Revert the chain newest first with \`godwit revert ${latest} --to ${oldest.migrationId} --target ${target}\``,
  );
}

/**
 * Refuses a revert that could not restore what the run destroyed: a run applied before plans
 * were recorded, a step with no inverse, a copy or change log that was pruned, or a retired
 * column or table that was purged, each named with what the user can do instead.
 */
export async function refuseUnrestorable(client: pg.ClientBase, target: string, run: AppliedRun): Promise<void> {
  if (run.steps === null) {
    throw new RevertRefusedError(
      `cannot revert ${run.migrationId} on '${target}': it was applied before Godwit recorded the plans runs execute, so there is no plan to undo. Write a new migration that undoes it and apply that`,
    );
  }
  const problems: string[] = [];
  for (const step of run.steps) {
    if (step.inverse === null) problems.push(`step ${step.index} (${step.summary}) has no inverse: ${step.inverseNote ?? 'it is irreversible'}`);
  }
  const { rows: snaps } = await client.query<{ step_id: string; ordinal: number; kind: string; source: string; present: boolean; retain_until: Date }>(
    `select step_id, ordinal, kind, source_schema || '.' || source_table as source, retain_until,
            to_regclass(quote_ident('godwit_snapshots') || '.' || quote_ident(snapshot_table)) is not null as present
       from godwit.snapshots where run_id = $1`,
    [run.runId],
  );
  const { rows: retired } = await client.query<{ step_id: string; ordinal: number; source: string; purged_at: Date | null }>(
    `select step_id, ordinal, source_schema || '.' || source_table || coalesce('.' || source_column, '') as source, purged_at from godwit.retired where run_id = $1`,
    [run.runId],
  );
  for (const step of run.steps) {
    for (const [ordinal, spec] of (step.snapshots ?? []).entries()) {
      const snap = snaps.find((s) => s.step_id === step.id && s.ordinal === ordinal);
      if (snap?.present) continue;
      problems.push(`the ${spec.kind === 'changes' ? 'change log' : 'copy'} of ${spec.schema}.${spec.table} that step ${step.index} (${step.summary}) kept ${snap ? 'is missing from godwit_snapshots' : 'was pruned: its retention ended'}`);
    }
    for (const [ordinal, spec] of (step.retire ?? []).entries()) {
      const r = retired.find((x) => x.step_id === step.id && x.ordinal === ordinal);
      if (r && r.purged_at === null) continue;
      const what = spec.kind === 'column' ? `column ${spec.schema}.${spec.table}.${spec.column}` : `table ${spec.schema}.${spec.table}`;
      problems.push(`the retired ${what} that step ${step.index} (${step.summary}) kept was purged${r?.purged_at ? ` at ${r.purged_at.toISOString()}` : ''}: its retention ended`);
    }
  }
  if (problems.length === 0) return;
  throw new RevertRefusedError(
    `cannot revert ${run.migrationId} on '${target}': ${problems.join('; ')}. The data it destroyed is gone from Godwit's keeping; ` +
      `restore it from a backup, or write a new migration that undoes it. Keep copies longer with policy.retention (default 14 days)`,
  );
}

/** Fingerprint entries by object key (`column public.users.email`). */
function byKey(entries: readonly string[]): Map<string, string> {
  const map = new Map<string, string>();
  for (const entry of entries) map.set(entryKey(entry), entry);
  return map;
}

function entryKey(entry: string): string {
  let quoted = false;
  for (let i = 0; i < entry.length - 1; i++) {
    const ch = entry[i];
    if (ch === '"') quoted = !quoted;
    else if (!quoted && ch === ':' && entry[i + 1] === ' ') return entry.slice(0, i);
  }
  return entry;
}

/**
 * The schema a proven revert of one run leaves: today's schema with every object the run
 * changed (between its fingerprint before and after) as it was before. With nothing applied
 * since and no drift, that is exactly the fingerprint recorded before the run.
 */
export function expectedAfterRevert(before: readonly string[], after: readonly string[], now: readonly string[]): SchemaFingerprint {
  const was = byKey(before);
  const left = byKey(after);
  const expected = byKey(now);
  for (const key of new Set([...was.keys(), ...left.keys()])) {
    const b = was.get(key);
    if (b === left.get(key)) continue;
    if (b === undefined) expected.delete(key);
    else expected.set(key, b);
  }
  const entries = [...expected.values()].sort();
  return { hash: hashEntries(entries), entries };
}
