import { ApplicationFailure } from '@temporalio/common';
import type pg from 'pg';
import { appendAudit, type AuditHead } from '../src/db/audit';
import { canonicalRevertRequest } from '../src/auth/payload';
import { ruleFor } from '../src/auth/policy';
import { sshVerify } from '../src/auth/ssh';
import { acquireLease, checkFence, releaseLease } from '../src/db/lease';
import { schemaFingerprint, diffFingerprints, type SchemaFingerprint } from '../src/db/fingerprint';
import { listRestores } from '../src/db/restores';
import { chainOfRevert, expectedAfterRevert, refuseLaterMigrations, refuseUnrestorable, revertChain, RevertRefusedError } from '../src/db/revert';
import type { AuthorizationConfig } from '../src/config/targets';
import type { RestoreProof, StepResult } from '../src/contract/migration';
import type { FinishRevertInput, PrepareRevertInput, PrepareRevertResult, RevertedRun, RevertProof, RevertStepInput, VerifyRevertInput, VerifyRevertResult } from '../src/contract/revert';
import { type ActivityDeps, inTransaction, temporalHolderCheck, withTarget } from './context';
import { UnauthorizedError } from './errors';
import { compensate } from './steps';

type Decision = { ok: true; signedWith: string | null } | { ok: false; reason: string };

/**
 * A revert is a request like apply: where the target's entry in godwit.yaml lists who may
 * `request`, the requester must be listed and (unless `unsigned: true`) have signed it.
 */
export async function decideRevertRequest(config: AuthorizationConfig | undefined, input: PrepareRevertInput): Promise<Decision> {
  const listed = config === undefined ? undefined : ruleFor(config, input.target)?.rule.request;
  if (config === undefined || listed === undefined) return { ok: true, signedWith: null };
  const principal = input.requestedBy;
  let signedWith: string | null = null;
  if (input.requestSignature === undefined) {
    if (!config.unsigned) {
      return { ok: false, reason: `unsigned: the worker requires requests on '${input.target}' to be signed; run \`godwit revert ${input.migrationId} --target ${input.target} --requested-by ${principal} --key <your ssh key>\`` };
    }
  } else if (config.allowed_signers !== undefined) {
    const payload = canonicalRevertRequest({ principal, target: input.target, migrationId: input.migrationId, to: input.to ?? null });
    const v = await sshVerify(payload, input.requestSignature, principal, config.allowed_signers);
    if (!v.ok) return { ok: false, reason: `bad signature: ${principal} did not sign a revert of ${input.migrationId}${input.to ? ` --to ${input.to}` : ''} on '${input.target}' (${v.detail})` };
    signedWith = v.key;
  }
  if (!listed.includes(principal)) {
    return { ok: false, reason: `unlisted: ${principal} may not request reverts on '${input.target}' (the worker's godwit.yaml lists ${listed.join(', ') || 'no one'})` };
  }
  return { ok: true, signedWith };
}

function refused(err: unknown): never {
  if (err instanceof RevertRefusedError) throw ApplicationFailure.nonRetryable(err.message, 'RevertRefused');
  throw err;
}

async function readFingerprints(client: pg.ClientBase, runId: string): Promise<{ before: SchemaFingerprint; after: string[] | null }> {
  const { rows } = await client.query<{ fingerprint_before: string; fingerprint_before_entries: string[]; fingerprint_after_entries: string[] | null }>(
    'select fingerprint_before, fingerprint_before_entries, fingerprint_after_entries from godwit.migrations where run_id = $1',
    [runId],
  );
  const row = rows[0];
  if (!row) throw new Error(`no record of run ${runId} in godwit.migrations`);
  return { before: { hash: row.fingerprint_before, entries: row.fingerprint_before_entries }, after: row.fingerprint_after_entries };
}

export function makeRevert(deps: ActivityDeps) {
  return {
    /**
     * Step 1 of a revert: the request checked, the target's lease taken, and the chain read from
     * the control schema with the plans its runs executed; refused (nothing changed, the refusal
     * audited) when a later migration changed the same objects or what a step destroyed is gone.
     */
    async prepareRevert(input: PrepareRevertInput): Promise<PrepareRevertResult> {
      const request = await decideRevertRequest(deps.authorization, input);
      return withTarget(deps, input.target, `preparing the revert of ${input.migrationId} on '${input.target}'`, async (client) => {
        const refuse = async (event: string, reason: string) =>
          inTransaction(client, null, () => appendAudit(client, input, [{ event, from: null, to: null, actor: input.requestedBy, detail: { reason, ...(input.to ? { to: input.to } : {}) } }]));
        if (!request.ok) {
          await refuse('REFUSED_REQUEST', request.reason);
          throw new UnauthorizedError(`revert refused: ${request.reason}`);
        }
        try {
          return await inTransaction(client, null, async () => {
            const { token } = await acquireLease(client, input.target, input.workflowId, temporalHolderCheck());
            // A retry of this activity after its first attempt committed: the same chain, a new token.
            const taken = await chainOfRevert(client, input.runId);
            if (taken !== null) return { token, chain: taken.map((r) => ({ migrationId: r.migrationId, runId: r.runId, workflowId: r.workflowId, checksum: r.checksum, steps: r.steps!, policy: r.policy! })), auditHead: null };
            const chain = await revertChain(client, input.target, input.migrationId, input.to);
            await refuseLaterMigrations(client, input.target, chain);
            for (const run of chain) await refuseUnrestorable(client, input.target, run);
            const runs: RevertedRun[] = chain.map((r) => ({ migrationId: r.migrationId, runId: r.runId, workflowId: r.workflowId, checksum: r.checksum, steps: r.steps!, policy: r.policy! }));
            await client.query(
              `insert into godwit.reverts (run_id, workflow_id, migration_id, chain, state, requested_by) values ($1, $2, $3, $4, 'revert_planned', $5)
               on conflict (run_id) do update set chain = excluded.chain`,
              [input.runId, input.workflowId, input.migrationId, JSON.stringify(runs.map((r) => ({ migrationId: r.migrationId, runId: r.runId }))), input.requestedBy],
            );
            // While a revert holds them, their copies and retired objects are not pruned (pruneSnapshots, purgeRetired).
            await client.query(`update godwit.migrations set state = 'reverting' where run_id = any($1) and state = 'applied'`, [runs.map((r) => r.runId)]);
            const auditHead = await appendAudit(client, input, [
              {
                event: 'REVERT_REQUESTED',
                from: null,
                to: null,
                actor: input.requestedBy,
                detail: { chain: runs.map((r) => ({ migration: r.migrationId, run_id: r.runId, steps: r.steps.length })), ...(request.signedWith ? { signed_with: request.signedWith } : {}) },
              },
            ]);
            return { token, chain: runs, auditHead };
          });
        } catch (err) {
          if (err instanceof RevertRefusedError) await refuse('REVERT_REFUSED', err.message);
          return refused(err);
        }
      });
    },

    /**
     * Undoes one step of an applied run with that run's own inverse, copies and retired
     * objects (compensateStep's code, under the applied run's ledger, so a retry does not undo
     * twice); the revert's own transitions go into the audit log under the revert's run first.
     */
    async revertStep(input: RevertStepInput): Promise<StepResult> {
      return withTarget(deps, input.target, `revert of step ${input.step.index} (${input.step.summary}) of ${input.original.migrationId} failed`, async (client) => {
        const auditHead = await inTransaction(client, null, async () => {
          await checkFence(client, input.target, input.token);
          return appendAudit(client, input, input.audit);
        });
        const r = await compensate(client, {
          target: input.target,
          migrationId: input.original.migrationId,
          workflowId: input.original.workflowId,
          runId: input.original.runId,
          token: input.token,
          step: input.step,
          policy: input.policy,
          audit: [],
        });
        return { ...r, auditHead: auditHead ?? r.auditHead ?? null };
      });
    },

    /**
     * The proof of a revert of one run, as a rollback's: the schema must be the one recorded
     * before the run (every object the run changed as it was; objects of migrations applied since
     * and untouched by it stay), and every restore proven against its own copy.
     */
    async verifyRevert(input: VerifyRevertInput): Promise<VerifyRevertResult> {
      return withTarget(deps, input.target, `verifying the revert of ${input.original.migrationId}`, async (client) => {
        const { before, after } = await readFingerprints(client, input.original.runId);
        const now = await schemaFingerprint(client);
        const expected = after === null ? before : expectedAfterRevert(before.entries, after, now.entries);
        const restores: RestoreProof[] = (await listRestores(client, input.original.runId)).map(({ ordinal: _o, ...r }) => r);
        const schemaDiff = now.hash === expected.hash ? [] : diffFingerprints(expected, now);
        const restoreDiff = restores.filter((r) => !r.equal).map((r) => `restore of ${r.source} (step ${r.stepId}): ${r.detail ?? 'does not match its snapshot'}`);
        const proof: RevertProof = {
          migrationId: input.original.migrationId,
          equal: schemaDiff.length === 0 && restoreDiff.length === 0,
          fingerprintBefore: expected.hash,
          fingerprintAfter: now.hash,
          expected: expected.hash === before.hash ? 'fingerprint_before' : 'fingerprint_before_with_later_changes',
          dataProof: 'restores',
          restores,
          data: [],
          differences: [...schemaDiff, ...restoreDiff],
        };
        const auditHead = await inTransaction(client, null, async () => {
          await checkFence(client, input.target, input.token);
          return appendAudit(client, input, [...input.audit, { event: 'REVERT_PROOF', from: null, to: null, detail: { ...proof, original_run_id: input.original.runId } }]);
        });
        return { ...proof, auditHead };
      });
    },

    /** Records the revert's state, marks the runs it proved reverted, and releases the lease when asked. */
    async finishRevert(input: FinishRevertInput): Promise<{ auditHead: AuditHead | null }> {
      return withTarget(deps, input.target, `recording ${input.state} for the revert of ${input.migrationId}`, async (client) => {
        const auditHead = await inTransaction(client, null, async () => {
          await checkFence(client, input.target, input.token);
          const entries = [
            ...input.audit,
            ...input.reverted.map((r) => ({ event: 'MIGRATION_REVERTED', from: 'applied', to: 'reverted', detail: { migration: r.migrationId, run_id: r.runId, revert_run_id: input.runId } })),
          ];
          const head = await appendAudit(client, input, entries);
          for (const r of input.reverted) {
            await client.query(`update godwit.migrations set state = 'reverted', reason = $2, finished_at = now() where run_id = $1`, [r.runId, `reverted by ${input.workflowId} (run ${input.runId})`]);
          }
          if (input.restoreApplied) {
            const { rows } = await client.query<{ chain: { runId: string }[] }>('select chain from godwit.reverts where run_id = $1', [input.runId]);
            await client.query(`update godwit.migrations set state = 'applied' where run_id = any($1) and state = 'reverting'`, [(rows[0]?.chain ?? []).map((c) => c.runId)]);
          }
          const final = ['reverted', 'revert_rejected', 'revert_resolved_manually'].includes(input.state);
          // The schema a finished revert left: \`godwit verify\` measures drift from it when it is the latest change.
          if (input.state === 'reverted' || input.state === 'revert_resolved_manually') {
            const fp = await schemaFingerprint(client);
            await client.query('update godwit.reverts set fingerprint_after = $2, fingerprint_after_entries = $3 where run_id = $1', [input.runId, fp.hash, JSON.stringify(fp.entries)]);
          }
          await client.query(
            `update godwit.reverts set state = $2, reason = $3, approved_by = coalesce($4, approved_by), finished_at = case when $5 then now() else null end where run_id = $1`,
            [input.runId, input.state, input.reason, input.approvedBy ?? null, final],
          );
          if (input.releaseLease) await releaseLease(client, input.target, input.token);
          return head;
        });
        return { auditHead };
      });
    },
  };
}
