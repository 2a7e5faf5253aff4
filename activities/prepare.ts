import type pg from 'pg';
import { introspectSchema } from '../src/db/introspect';
import { schemaFingerprint } from '../src/db/fingerprint';
import { acquireLease } from '../src/db/lease';
import { isConnectionLoss } from '../src/db/pool';
import { ChecksumResumeError, tableChecksums } from '../src/db/checksum';
import type { SchemaModel } from '../src/db/schema-model';
import type { PlannedStep } from '../src/operations/types';
import { loadSqlParser, planManifest } from '../src/operations';
import type { Manifest } from '../src/manifest';
import type { PrepareInput, PrepareResult } from '../workflows/definitions';
import { type ActivityDeps, heartbeatDetails, inTransaction, previousHeartbeat, withTarget } from './context';
import { ChecksumMismatchError, PreCheckFailedError } from './errors';

interface ExistingRow {
  state: string;
  checksum: string;
  workflow_id: string;
  fingerprint_after: string | null;
}

/**
 * Step 1 of every migration: take the target's lease, plan against the live
 * catalog and fingerprint the schema, all in one transaction, so a plan error
 * leaves no lease and no row behind.
 */
export function makePrepare(deps: ActivityDeps) {
  return async function prepareMigration(input: PrepareInput): Promise<PrepareResult> {
    await loadSqlParser();
    return withTarget(deps, input.target, `preparing ${input.migrationId} on '${input.target}'`, async (client) => {
      const existing = await readExisting(client, input.migrationId);
      if (existing?.state === 'applied') {
        if (existing.checksum === input.checksum) return { alreadyApplied: true, fingerprint: existing.fingerprint_after ?? '' };
        throw new ChecksumMismatchError(
          `migration ${input.migrationId} was applied to '${input.target}' with checksum ${existing.checksum}, but its file now has ${input.checksum}. ` +
            `An applied migration must not change: revert the file and put the change in a new migration (\`godwit verify <dir> --target ${input.target}\` lists drift).`,
        );
      }
      return inTransaction(client, null, async () => {
        const token = await acquireLease(client, input.target, input.workflowId);
        const schema = await introspectSchema(client);
        const manifest = input.manifest as Manifest;
        const steps = planManifest(manifest, schema);
        await runPreChecks(client, manifest);
        const fingerprint = await schemaFingerprint(client);
        await client.query(
          `insert into godwit.migrations as m (migration_id, description, checksum, state, workflow_id, run_id, requested_by,
                                                fingerprint_before, fingerprint_before_entries)
           values ($1, $2, $3, 'planned', $4, $5, $6, $7, $8)
           on conflict (migration_id) do update set
             description = excluded.description, checksum = excluded.checksum, state = 'planned',
             workflow_id = excluded.workflow_id, run_id = excluded.run_id, requested_by = excluded.requested_by,
             approved_by = null, reason = null, started_at = now(), finished_at = null,
             fingerprint_before = excluded.fingerprint_before,
             fingerprint_before_entries = excluded.fingerprint_before_entries, fingerprint_after = null`,
          [input.migrationId, input.description, input.checksum, input.workflowId, input.runId, input.requestedBy, fingerprint.hash, JSON.stringify(fingerprint.entries)],
        );
        // Whole-table checksums only where the proof compares whole tables (a quiet database):
        // on a live one each restore is proven against its own snapshot instead.
        const tables = manifest.policy.data_proof === 'whole_table' ? touchedTables(steps, schema) : [];
        return { alreadyApplied: false, token, steps, fingerprintBefore: fingerprint.hash, tables } as const;
      }).then(async ({ tables, ...prepared }) => {
        if (tables.length === 0) return prepared;
        // Outside the lease transaction, so a concurrent apply is refused at once rather than waiting on it.
        // Big tables take a while: progress rides on the heartbeat, and a retried attempt resumes from it.
        const onProgress = (p: { resumeFrom: unknown }) => heartbeatDetails({ checksums: p.resumeFrom });
        const resume = previousHeartbeat<{ checksums?: unknown }>()?.checksums;
        const sums = await tableChecksums(client, tables, { onProgress, resume }).catch((err: unknown) => {
          // A resume point the tables no longer match (rewritten since) means starting over.
          if (resume !== undefined && err instanceof ChecksumResumeError) return tableChecksums(client, tables, { onProgress });
          throw err;
        });
        await client.query('update godwit.migrations set checksums_before = $2 where migration_id = $1 and run_id = $3', [
          input.migrationId,
          JSON.stringify(sums),
          input.runId,
        ]);
        return prepared;
      });
    });
  };
}

/** The existing tables a plan touches: their data is checksummed before the first step. */
function touchedTables(steps: readonly PlannedStep[], schema: SchemaModel): { schema: string; table: string }[] {
  const keys = new Set(steps.flatMap((s) => s.touches).filter((key) => schema.tables[key] !== undefined));
  return [...keys].sort().map((key) => ({ schema: schema.tables[key]!.schema, table: schema.tables[key]!.name }));
}

/** Pre checks guard the start: one that is not true stops the migration before anything changes. */
async function runPreChecks(client: pg.ClientBase, manifest: Manifest): Promise<void> {
  for (const check of manifest.checks.pre) {
    await client.query('savepoint godwit_pre_check');
    let value: unknown;
    try {
      const { rows, fields } = await client.query(check.sql);
      value = fields[0] ? rows[0]?.[fields[0].name] : undefined;
    } catch (err) {
      // The check did not fail: the connection did. The attempt is retried on a new one.
      if (isConnectionLoss(err)) throw err;
      await client.query('rollback to savepoint godwit_pre_check');
      throw new PreCheckFailedError(`pre check '${check.name}' failed with an error: ${(err as Error).message}; fix the check's sql in the manifest`);
    }
    await client.query('rollback to savepoint godwit_pre_check');
    if (value !== true) {
      throw new PreCheckFailedError(`pre check '${check.name}' returned ${JSON.stringify(value ?? null)}, not true; nothing was applied. Make the database meet it, or fix the check, and apply again`);
    }
  }
}

async function readExisting(client: pg.ClientBase, migrationId: string): Promise<ExistingRow | undefined> {
  const { rows } = await client.query<ExistingRow>(
    'select state, checksum, workflow_id, fingerprint_after from godwit.migrations where migration_id = $1',
    [migrationId],
  );
  return rows[0];
}
