import type pg from 'pg';
import { introspectSchema } from '../src/db/introspect';
import { schemaFingerprint } from '../src/db/fingerprint';
import type { SchemaModel } from '../src/db/schema-model';
import { ManifestError, manifestSchema, type Manifest } from '../src/manifest';
import { formatPath, problemsFromIssues } from '../src/manifest/errors';
import { loadSqlParser, PlanError, planManifestWithModel, type PlannedStep } from '../src/operations';
import { fallbackError } from '../src/operations/fields';
import type { LivePlanInput, LivePlanOutcome, LivePlanReport } from '../src/contract/migration';
import { type ActivityDeps, readTarget } from './context';

/**
 * Plans a manifest against the target's catalog: the one planner behind both prepare (at
 * apply time, against the catalog it has just read under the lease) and `godwit plan
 * --target` (against the catalog as it is, or as a directory's earlier manifests leave it).
 * Returns the steps and the schema as they leave it. Throws PlanError.
 */
export function planOnCatalog(manifest: Manifest, catalog: SchemaModel): { steps: PlannedStep[]; after: SchemaModel } {
  return planManifestWithModel(manifest, catalog, { offline: false });
}

/** The catalog a plan starts from, read in the caller's transaction. */
export const readCatalog = (client: pg.ClientBase): Promise<SchemaModel> => introspectSchema(client);

export function makePlan(deps: ActivityDeps) {
  return {
    /**
     * `godwit plan --target`: each manifest planned as prepare would plan it now, in one
     * read-only snapshot of the target, writing nothing (no lease, no control schema).
     */
    async planOnTarget(input: LivePlanInput): Promise<LivePlanReport> {
      await loadSqlParser();
      return readTarget(deps, input.target, `planning on '${input.target}'`, async (client) => {
        const recorded = await appliedChecksums(client);
        const catalog = await readCatalog(client);
        const fingerprint = await schemaFingerprint(client);
        const migrations: LivePlanOutcome[] = [];
        let schema = catalog;
        for (const m of input.manifests) {
          const applied = recorded.get(m.id);
          if (applied !== undefined) {
            migrations.push(applied === m.checksum ? { id: m.id, status: 'applied' } : { id: m.id, status: 'changed', recorded: applied });
            continue;
          }
          try {
            const plan = planOnCatalog(validManifest(m.manifest, `manifest ${m.id} (as sent to the worker)`), schema);
            migrations.push({ id: m.id, status: 'planned', steps: plan.steps });
            schema = plan.after;
          } catch (err) {
            if (!(err instanceof PlanError)) throw err;
            migrations.push({ id: m.id, status: 'error', error: { path: err.path, message: err.message, ...(err.hint ? { hint: err.hint } : {}) } });
            break; // what follows was written for a schema this one would have left
          }
        }
        return { target: input.target, fingerprint: fingerprint.hash, tables: touchedSizes(migrations, catalog), migrations };
      });
    },
  };
}

/** The manifest as the CLI sent it, checked again with the CLI's schema: the worker trusts no input it has not validated. */
export function validManifest(raw: unknown, source: string): Manifest {
  const parsed = manifestSchema.safeParse(raw, { error: fallbackError });
  if (!parsed.success) throw new ManifestError(source, problemsFromIssues(parsed.error.issues).map((p) => ({ path: formatPath(p.path), message: p.message })));
  return parsed.data;
}

/** Checksums of the migrations applied to the target; none when Godwit has never run there. */
async function appliedChecksums(client: pg.ClientBase): Promise<Map<string, string>> {
  const { rows: exists } = await client.query<{ present: boolean }>(`select to_regclass('godwit.migrations') is not null as present`);
  if (!exists[0]?.present) return new Map();
  const { rows } = await client.query<{ migration_id: string; checksum: string }>(`select migration_id, checksum from godwit.migrations where state = 'applied'`);
  return new Map(rows.map((r) => [r.migration_id, r.checksum]));
}

/** The catalog's size estimates of the existing tables the planned steps touch. */
function touchedSizes(migrations: readonly LivePlanOutcome[], schema: SchemaModel): LivePlanReport['tables'] {
  const keys = new Set(migrations.flatMap((m) => (m.status === 'planned' ? m.steps.flatMap((s) => s.touches) : [])));
  return [...keys]
    .sort()
    .flatMap((key) => {
      const size = schema.sizes?.[key];
      return size === undefined ? [] : [{ table: key, rows: size.rows, bytes: size.bytes }];
    });
}
