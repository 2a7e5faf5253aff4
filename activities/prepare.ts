import type pg from 'pg';
import { schemaFingerprint } from '../src/db/fingerprint';
import { acquireLease } from '../src/db/lease';
import { isConnectionLoss } from '../src/db/pool';
import { ChecksumResumeError, tableChecksums } from '../src/db/checksum';
import type { SchemaModel } from '../src/db/schema-model';
import type { PlannedStep } from '../src/operations/types';
import { loadSqlParser } from '../src/operations';
import { ManifestError, manifestChecksum, type Manifest } from '../src/manifest';
import type { PrepareInput, PrepareResult } from '../src/contract/migration';
import { appendAudit } from '../src/db/audit';
import { recordPlan } from '../src/db/revert';
import { type ActivityDeps, heartbeatDetails, inTransaction, previousHeartbeat, temporalHolderCheck, withTarget } from './context';
import { ChecksumMismatchError, LintError, PreCheckFailedError, UnauthorizedError } from './errors';
import { decideRequest } from './authorize';
import { planOnCatalog, readCatalog, validManifest } from './plan';
import { combineHealth } from '../src/health/policy';

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
    const request = await decideRequest(deps.authorization, input);
    return withTarget(deps, input.target, `preparing ${input.migrationId} on '${input.target}'`, async (client) => {
      if (!request.ok) {
        await inTransaction(client, null, () =>
          appendAudit(client, input, [{ event: 'REFUSED_REQUEST', from: null, to: null, actor: input.requestedBy, detail: { reason: request.reason, signed: input.requestSignature !== undefined } }]),
        );
        throw new UnauthorizedError(`request refused: ${request.reason}`);
      }
      const existing = await readExisting(client, input.migrationId);
      if (existing?.state === 'applied') {
        if (existing.checksum === input.checksum) return { alreadyApplied: true, fingerprint: existing.fingerprint_after ?? '' };
        throw new ChecksumMismatchError(
          `migration ${input.migrationId} was applied to '${input.target}' with checksum ${existing.checksum}, but its file now has ${input.checksum}. ` +
            `An applied migration must not change: revert the file and put the change in a new migration (\`godwit verify <dir> --target ${input.target}\` lists drift).`,
        );
      }
      return inTransaction(client, null, async () => {
        const { token, takeover } = await acquireLease(client, input.target, input.workflowId, temporalHolderCheck());
        const schema = await readCatalog(client);
        const manifest = boundManifest(input);
        const { steps } = planOnCatalog(manifest, schema);
        refuseLintErrors(input.migrationId, steps, manifest.policy.allow_lint ?? []);
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
        // The plan this run executes, for a revert of it later (src/db/revert.ts).
        await recordPlan(client, input, steps, manifest.policy);
        if (takeover !== null) {
          // Its run no longer exists (Temporal says so): the stale lease is taken over, and that is on the record.
          await appendAudit(client, input, [
            { event: 'LEASE_TAKEN_OVER', from: null, to: null, detail: { target: input.target, holder: takeover.holder, acquiredAt: takeover.acquiredAt.toISOString(), expiredAt: takeover.expiredAt.toISOString() } },
          ]);
        }
        // Whole-table checksums only where the proof compares whole tables (a quiet database):
        // on a live one each restore is proven against its own snapshot instead.
        const tables = manifest.policy.data_proof === 'whole_table' ? touchedTables(steps, schema) : [];
        // The worker's godwit.yaml joins the manifest's health policy here, so the run's history records what was in force.
        const health = combineHealth(manifest.policy, deps.policies, input.target);
        return { alreadyApplied: false, token, steps, fingerprintBefore: fingerprint.hash, tables, ...(health ? { health } : {}) } as const;
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

/**
 * The manifest as the CLI would have read it: the workflow's input is checked with the same
 * schema, and must carry its own checksum. Whatever started the workflow, a malformed or
 * altered manifest gets no further than this.
 */
function boundManifest(input: PrepareInput): Manifest {
  const source = `the manifest of ${input.migrationId} in the workflow's input`;
  const manifest = validManifest(input.manifest, source);
  const checksum = manifestChecksum(manifest);
  if (checksum !== input.checksum || manifest.id !== input.migrationId) {
    throw new ManifestError(source, [
      { path: '', message: `it does not match the migration it came with (id ${manifest.id}, checksum ${checksum}; the workflow says ${input.migrationId}, ${input.checksum}); start it with godwit apply` },
    ]);
  }
  return manifest;
}

/** Lint findings of level error stop the apply before its first step, unless the manifest accepts their code by name. */
function refuseLintErrors(migrationId: string, steps: readonly PlannedStep[], allowed: readonly string[]): void {
  const errors = steps.flatMap((s) => s.lint.filter((l) => l.level === 'error' && !allowed.includes(l.code)).map((l) => ({ step: s, lint: l })));
  if (errors.length === 0) return;
  const list = errors.map(({ step, lint }) => `step ${step.index} (${step.summary}): ${lint.code}: ${lint.message}`).join('; ');
  const codes = [...new Set(errors.map((e) => e.lint.code))].join(', ');
  throw new LintError(`${migrationId} was not started: ${list}. Fix the manifest, or accept ${errors.length === 1 ? 'it' : 'them'} by name with policy.allow_lint: [${codes}]`);
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
