import { schemaFingerprint, diffFingerprints, type SchemaFingerprint } from '../src/db/fingerprint';
import { checkFence, releaseLease } from '../src/db/lease';
import { appendAudit } from '../src/db/audit';
import { isConnectionLoss } from '../src/db/pool';
import type pg from 'pg';
import { tableChecksum, type TableChecksum } from '../src/db/checksum';
import type { CheckResult, ChecksInput, DataChecksumComparison, FinishInput, FinishResult, RestoreProof, RollbackProof, VerifyInput, VerifyRollbackResult } from '../src/contract/migration';
import { listRestores } from '../src/db/restores';
import { removeSyncTriggers } from '../src/db/sync';
import { type ActivityDeps, inTransaction, withTarget } from './context';
import { recordTransitions } from './ledger';
import { FINAL_STATES } from '../src/lifecycle/states';

async function compareData(client: pg.ClientBase, before: readonly TableChecksum[]): Promise<DataChecksumComparison[]> {
  const out: DataChecksumComparison[] = [];
  for (const b of before) {
    const [schema, ...rest] = b.table.split('.');
    const table = rest.join('.');
    const exists = await client.query('select 1 from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = $1 and c.relname = $2', [schema, table]);
    const after = exists.rowCount ? await tableChecksum(client, schema!, table) : null;
    out.push({
      table: b.table,
      before: { rows: b.rows, checksum: b.checksum },
      after: after ? { rows: after.rows, checksum: after.checksum } : null,
      equal: after !== null && after.rows === b.rows && after.checksum === b.checksum,
    });
  }
  return out;
}

export function makeFinish(deps: ActivityDeps) {
  return {
    /** Post checks: each must return a single true. Runs in one read-only transaction. */
    async runChecks(input: ChecksInput): Promise<CheckResult[]> {
      return withTarget(deps, input.target, `post checks of ${input.migrationId}`, async (client) => {
        await inTransaction(client, input.policy, async () => {
          await checkFence(client, input.target, input.token);
          await recordTransitions(client, input, input.audit);
        });
        const results: CheckResult[] = [];
        for (const check of input.checks) {
          try {
            const { rows, fields } = await inTransaction(client, input.policy, async () => {
              await client.query('set transaction read only');
              return client.query(check.sql);
            });
            const value = fields[0] ? rows[0]?.[fields[0].name] : undefined;
            results.push({ name: check.name, passed: value === true, detail: value === true ? 'true' : `returned ${JSON.stringify(value ?? null)}, expected true` });
          } catch (err) {
            // A lost connection is no verdict on the check: retry the activity rather than roll back.
            if (isConnectionLoss(err)) throw err;
            results.push({ name: check.name, passed: false, detail: `error: ${(err as Error).message}` });
          }
        }
        return results;
      });
    },

    /** The proof of a rollback: today's fingerprint against the one taken before the first step. */
    async verifyRollback(input: VerifyInput): Promise<VerifyRollbackResult> {
      return withTarget(deps, input.target, `verifying rollback of ${input.migrationId}`, async (client) => {
        const { rows } = await client.query<{ fingerprint_before: string; fingerprint_before_entries: string[]; checksums_before: TableChecksum[] | null }>(
          'select fingerprint_before, fingerprint_before_entries, checksums_before from godwit.migrations where migration_id = $1 and run_id = $2',
          [input.migrationId, input.runId],
        );
        const row = rows[0];
        if (!row) throw new Error(`no record of run ${input.runId} of ${input.migrationId} in godwit.migrations`);
        const before: SchemaFingerprint = { hash: row.fingerprint_before, entries: row.fingerprint_before_entries };
        const after = await schemaFingerprint(client);
        const dataProof = input.dataProof ?? 'whole_table';
        const data = dataProof === 'whole_table' ? await compareData(client, row.checksums_before ?? []) : [];
        const restores: RestoreProof[] = (await listRestores(client, input.runId)).map(({ ordinal: _o, ...r }) => r);
        const schemaDiff = after.hash === before.hash ? [] : diffFingerprints(before, after);
        const restoreDiff = restores.filter((r) => !r.equal).map((r) => `restore of ${r.source} (step ${r.stepId}): ${r.detail ?? 'does not match its snapshot'}`);
        const dataDiff = data
          .filter((d) => !d.equal)
          .map((d) =>
            d.after
              ? `data of ${d.table}: ${d.after.rows} rows with checksum ${d.after.checksum}, was ${d.before.rows} rows with ${d.before.checksum}`
              : `data of ${d.table}: the table is gone, it had ${d.before.rows} rows`,
          );
        const proof: RollbackProof = {
          equal: schemaDiff.length === 0 && restoreDiff.length === 0 && dataDiff.length === 0,
          fingerprintBefore: before.hash,
          fingerprintAfter: after.hash,
          dataProof,
          restores,
          data,
          differences: [...schemaDiff, ...restoreDiff, ...dataDiff],
        };
        const auditHead = await inTransaction(client, null, async () => {
          await checkFence(client, input.target, input.token);
          await recordTransitions(client, input, input.audit);
          return appendAudit(client, input, [{ event: 'ROLLBACK_PROOF', from: null, to: null, detail: { ...proof } }]);
        });
        return { ...proof, auditHead };
      });
    },

    /** Records where the migration ended (or is waiting), and releases the lease when asked. */
    async finishMigration(input: FinishInput): Promise<FinishResult> {
      return withTarget(deps, input.target, `recording ${input.state} for ${input.migrationId}`, async (client) => {
        // The sync triggers of online type changes end with the migration, before its fingerprint is taken.
        if (input.state === 'applied') {
          await inTransaction(client, input.policy ?? null, async () => {
            await checkFence(client, input.target, input.token);
            await removeSyncTriggers(client);
          });
        }
        const fingerprint = input.recordFingerprint ? await schemaFingerprint(client) : null;
        const auditHead = await inTransaction(client, null, async () => {
          await checkFence(client, input.target, input.token);
          const head = await recordTransitions(client, input, input.audit);
          await client.query(
            `update godwit.migrations set state = $3, reason = $4,
                    finished_at = case when $5 then now() else null end,
                    fingerprint_after = coalesce($6, fingerprint_after),
                    fingerprint_after_entries = coalesce($7, fingerprint_after_entries)
              where migration_id = $1 and run_id = $2`,
            [input.migrationId, input.runId, input.state, input.reason, FINAL_STATES.includes(input.state), fingerprint?.hash ?? null, fingerprint ? JSON.stringify(fingerprint.entries) : null],
          );
          if (input.releaseLease) await releaseLease(client, input.target, input.token);
          return head;
        });
        return { fingerprintAfter: fingerprint?.hash ?? null, auditHead };
      });
    },
  };
}
