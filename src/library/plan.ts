import { loadManifests, type LoadedManifest } from '../manifest';
import { loadSqlParser, planManifest } from '../operations';
import { emptySchemaModel } from '../db/schema-model';
import { PlanError, type PlannedStep } from '../operations/types';
import type { LivePlanOutcome, LivePlanReport } from '../contract/migration';
import { ManifestPlanError } from './errors';
import { withTemporal, type TemporalOptions } from './session';

export interface PlanOptions extends TemporalOptions {
  /** Plan against this target's live catalog, through a worker (nothing is written); offline without it. */
  target?: string;
}

/** One manifest's plan; a live plan adds `status` (and `recorded` for a changed file). */
export interface MigrationPlan {
  id: string;
  file: string;
  checksum: string;
  description: string;
  status?: LivePlanOutcome['status'];
  recorded?: string;
  steps: PlannedStep[];
  checks: LoadedManifest['manifest']['checks']['post'];
  policy: LoadedManifest['manifest']['policy'];
}

export interface PlanResult {
  /** With a target: the schema fingerprint the plans were made against, and the tables they touch. */
  target?: { name: string; fingerprint: string; tables: LivePlanReport['tables'] };
  migrations: MigrationPlan[];
  /** An applied manifest's file has changed: apply would refuse it (exit 5). */
  drift: boolean;
}

/** Plans one manifest without a database. */
function planOffline(m: LoadedManifest): PlannedStep[] {
  try {
    return planManifest(m.manifest, emptySchemaModel(), { offline: true });
  } catch (err) {
    if (err instanceof PlanError) throw new ManifestPlanError(m.file, err.path, err.message, err.hint, undefined);
    throw err;
  }
}

function describe(m: LoadedManifest, steps: PlannedStep[]): MigrationPlan {
  return { id: m.manifest.id, file: m.file, checksum: m.checksum, description: m.manifest.description, steps, checks: m.manifest.checks.post, policy: m.manifest.policy };
}

/**
 * The forward and inverse SQL, snapshots, risk and lint of each step of the manifests at
 * `path` (a file or a directory). Offline (no database, no server) by default; with a
 * target, a worker plans against its live catalog, as apply would now.
 * Throws ManifestError for a manifest that does not load, ManifestPlanError for one that does not plan.
 */
export async function plan(path: string, opts: PlanOptions = {}): Promise<PlanResult> {
  const manifests = await loadManifests(path);
  if (opts.target === undefined) {
    await loadSqlParser();
    return { migrations: manifests.map((m) => describe(m, planOffline(m))), drift: false };
  }
  const target = opts.target;
  const report = await withTemporal(opts, async (client, settings) => {
    const { planAgainstTarget } = await import('../client/inspect');
    return planAgainstTarget(client, settings, target, manifests);
  });
  const byId = new Map(manifests.map((m) => [m.manifest.id, m]));
  const migrations: MigrationPlan[] = [];
  for (const outcome of report.migrations) {
    const m = byId.get(outcome.id)!;
    if (outcome.status === 'error') throw new ManifestPlanError(m.file, outcome.error.path, outcome.error.message, outcome.error.hint, target);
    migrations.push({
      ...describe(m, outcome.status === 'planned' ? outcome.steps : []),
      status: outcome.status,
      ...(outcome.status === 'changed' ? { recorded: outcome.recorded } : {}),
    });
  }
  return {
    target: { name: target, fingerprint: report.fingerprint, tables: report.tables },
    migrations,
    drift: migrations.some((p) => p.status === 'changed'),
  };
}
