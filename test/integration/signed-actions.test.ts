import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { manifestFrom, setupTemporal, type TestTemporal } from '../helpers/temporal';
import { finalState, waitForState } from '../helpers/migrate';
import { makeSigners, type Signers } from '../helpers/signers';
import { startMigration, watchMigration } from '../../src/client';
import { canonicalPayload, canonicalRequest, type SignedAction } from '../../src/auth/payload';
import type { LoadedManifest } from '../../src/manifest';
import { sshSign } from '../../src/auth/ssh';
import { actionSubjectQuery, approveUpdate, rejectUpdate, rollbackUpdate, stateQuery } from '../../src/contract/messages';
import type { OperatorRequest } from '../../src/contract/migration';

// Identity is proven: the worker checks each operator action's SSH signature over this run
// and this plan against its own godwit.yaml, refuses forged, replayed, unlisted, unsigned and
// self approvals with the reason, and writes each refusal to the target's audit log.

let db: TestDatabase;
let t: TestTemporal;
let s: Signers;
const TARGET = 'app';

beforeAll(async () => {
  db = await createTestDatabase('godwit_signed');
  await db.query('create table users (id bigint primary key)');
  // mallory's key is in no allowed_signers; carol's is, but she may not approve.
  s = makeSigners(['alice', 'bob', 'carol', 'mallory']);
  // On 'req' (the same database) only alice may request, and her requests must be signed.
  const configFile = s.config(['alice', 'bob', 'carol'], {
    'ap*': { approve: ['alice', 'bob'], reject: ['bob'], rollback: ['bob'] },
    req: { request: ['alice'], approve: ['bob'], reject: ['bob'], rollback: ['bob'] },
  });
  t = await setupTemporal({ [TARGET]: db.url, req: db.url });
  await t.startWorker({ configFile });
});

afterAll(async () => {
  await t?.close();
  await db?.drop();
});


async function gated(id: string, extra = 'policy: { approval: required }'): Promise<WorkflowHandle> {
  const loaded = await manifestFrom(`
id: ${id}
operations:
  - add_column: { table: users, column: { name: ${id}_col, type: int } }
${extra}
`);
  return startMigration(t.client, t.settings, { target: TARGET, loaded, requestedBy: 'alice' });
}

/** What `godwit <action> --by <by> --key <key of signer>` sends, signed over what the run states. */
async function signed(handle: WorkflowHandle, action: SignedAction, by: string, signer: string, text: string | null = null): Promise<OperatorRequest> {
  const subject = await handle.query(actionSubjectQuery);
  const payload = canonicalPayload({ action, principal: by, target: subject.target, migrationId: subject.migrationId, runId: subject.runId, checksum: subject.checksum, text });
  return { by, signature: await sshSign(payload, s.key[signer]!), ...(text !== null ? { note: text } : {}) };
}

/** The message the update failed with. */
async function refusal(p: Promise<unknown>): Promise<string> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
  return (err as WorkflowUpdateFailedError).cause?.message ?? '';
}

async function refusals(migrationId: string): Promise<{ event: string; actor: string; reason: string }[]> {
  const { rows } = await db.query<{ event: string; actor: string; detail: { reason: string } }>(
    `select event, actor, detail from godwit.audit_log where migration_id = $1 and event like 'REFUSED_%' order by seq`,
    [migrationId],
  );
  return rows.map((r) => ({ event: r.event, actor: r.actor, reason: r.detail.reason }));
}

describe('signed approvals', () => {
  it('refuses self, unlisted, forged, tampered and unsigned approvals, audits each, and proceeds on a good one', async () => {
    const handle = await gated('sig_gate');
    await waitForState(handle, 'awaiting_approval');
    const approve = (req: OperatorRequest) => handle.executeUpdate(approveUpdate, { args: [req] });

    expect(await refusal(approve(await signed(handle, 'approve', 'alice', 'alice')))).toMatch(/^cannot approve: self approval: alice requested this migration/);
    expect(await refusal(approve(await signed(handle, 'approve', 'carol', 'carol')))).toMatch(/^cannot approve: unlisted: carol may not approve on 'app' \(authorization\.targets\.ap\*\.approve .* lists alice, bob\)/);
    expect(await refusal(approve(await signed(handle, 'approve', 'bob', 'mallory')))).toMatch(/^cannot approve: forged: the signature was not made by any key in the worker's allowed_signers/);
    expect(await refusal(approve(await signed(handle, 'approve', 'bob', 'carol')))).toMatch(/^cannot approve: forged: the signature was not made by a key allowed_signers lists for bob/);
    const tampered = { ...(await signed(handle, 'approve', 'bob', 'bob', 'looks fine')), note: 'looks fine, ship it at peak' };
    expect(await refusal(approve(tampered))).toMatch(/^cannot approve: bad signature: bob's key did not sign this approve of run /);
    expect(await refusal(approve({ by: 'bob' }))).toMatch(/^cannot approve: unsigned: the worker requires approve to be signed; run `godwit approve sig_gate --target app --by bob --key/);
    expect((await handle.query(stateQuery)).state).toBe('awaiting_approval');

    expect(await approve(await signed(handle, 'approve', 'bob', 'bob'))).toBe('awaiting_approval');
    expect(finalState(await watchMigration(handle, () => undefined, { pollMs: 200 }))).toBe('applied');

    const audited = await refusals('sig_gate');
    expect(audited.map((r) => [r.event, r.actor])).toEqual([
      ['REFUSED_APPROVE', 'alice'],
      ['REFUSED_APPROVE', 'carol'],
      ['REFUSED_APPROVE', 'bob'],
      ['REFUSED_APPROVE', 'bob'],
      ['REFUSED_APPROVE', 'bob'],
      ['REFUSED_APPROVE', 'bob'],
    ]);
    expect(audited.map((r) => r.reason.split(':')[0])).toEqual(['self approval', 'unlisted', 'forged', 'forged', 'bad signature', 'unsigned']);
    const approved = await db.query<{ actor: string; detail: { signed_with: string } }>(`select actor, detail from godwit.audit_log where migration_id = 'sig_gate' and event = 'APPROVE'`);
    expect(approved.rows).toHaveLength(1);
    expect(approved.rows[0]!.actor).toBe('bob');
    expect(approved.rows[0]!.detail.signed_with).toMatch(/^ED25519 key SHA256:/);
  });

  it('refuses a signature replayed from another run of the same migration id', async () => {
    const first = await gated('sig_replay');
    await waitForState(first, 'awaiting_approval');
    const fromFirstRun = await signed(first, 'approve', 'bob', 'bob');
    await first.executeUpdate(rejectUpdate, { args: [{ ...(await signed(first, 'reject', 'bob', 'bob')) }] });
    expect(finalState(await watchMigration(first, () => undefined, { pollMs: 200 }))).toBe('rejected');

    const second = await gated('sig_replay');
    await waitForState(second, 'awaiting_approval');
    const runId = (await second.query(actionSubjectQuery)).runId;
    expect(await refusal(second.executeUpdate(approveUpdate, { args: [fromFirstRun] }))).toContain(`bad signature: bob's key did not sign this approve of run ${runId}`);
    expect((await second.query(stateQuery)).state).toBe('awaiting_approval');
    await second.executeUpdate(rejectUpdate, { args: [await signed(second, 'reject', 'bob', 'bob')] });
    expect(finalState(await watchMigration(second, () => undefined, { pollMs: 200 }))).toBe('rejected');

    const audited = await refusals('sig_replay');
    expect(audited.map((r) => [r.event, r.actor])).toEqual([['REFUSED_APPROVE', 'bob']]);
    const runs = await db.query<{ run_id: string }>(`select run_id from godwit.audit_log where migration_id = 'sig_replay' and event = 'REFUSED_APPROVE'`);
    expect(runs.rows[0]!.run_id).toBe(runId);
  });

  it('takes a rollback only from a principal the config lists for it, signed', async () => {
    const handle = await gated('sig_rollback', 'policy: { approval: never, bake_seconds: 120 }');
    await waitForState(handle, 'validated');
    const rollback = (req: OperatorRequest) => handle.executeUpdate(rollbackUpdate, { args: [req] });
    expect(await refusal(rollback({ by: 'bob', reason: 'canary' }))).toMatch(/^cannot rollback: unsigned/);
    const byAlice = await signed(handle, 'rollback', 'alice', 'alice', 'canary');
    expect(await refusal(rollback({ by: 'alice', reason: 'canary', signature: byAlice.signature! }))).toMatch(/^cannot rollback: unlisted: alice may not rollback/);
    const byBob = await signed(handle, 'rollback', 'bob', 'bob', 'canary');
    await rollback({ by: 'bob', reason: 'canary', signature: byBob.signature! });
    expect(finalState(await watchMigration(handle, () => undefined, { pollMs: 200 }))).toBe('rolled_back');
    expect((await refusals('sig_rollback')).map((r) => [r.event, r.actor])).toEqual([
      ['REFUSED_ROLLBACK', 'bob'],
      ['REFUSED_ROLLBACK', 'alice'],
    ]);
  });
});

describe('signed requests, where the worker lists who may request', () => {
  const manifest = (id: string) => manifestFrom(`id: ${id}\noperations:\n  - add_column: { table: users, column: { name: ${id}_col, type: int } }\n`);
  /** What `godwit apply --target req --requested-by <principal> --key <key of signer>` sends. */
  const sign = (loaded: LoadedManifest, principal: string, signer: string) =>
    sshSign(canonicalRequest({ principal, target: 'req', migrationId: loaded.manifest.id, checksum: loaded.checksum }), s.key[signer]!);
  const request = async (loaded: LoadedManifest, principal: string, signature?: string) => {
    const handle = await startMigration(t.client, t.settings, { target: 'req', loaded, requestedBy: principal, ...(signature === undefined ? {} : { requestSignature: signature }) });
    return watchMigration(handle, () => undefined, { pollMs: 200 });
  };

  it('refuses unsigned, forged, replayed and unlisted requests before anything runs, audited, and applies a signed one', async () => {
    const loaded = await manifest('r1_signed');
    await expect(request(loaded, 'alice')).rejects.toThrow(/request refused: unsigned: the worker requires requests on 'req' to be signed/);
    await expect(request(loaded, 'alice', await sign(loaded, 'alice', 'bob'))).rejects.toThrow(/request refused: forged: the signature was not made by a key allowed_signers lists for alice/);
    // alice's signature over another plan does not start this one.
    await expect(request(loaded, 'alice', await sign(await manifest('r2_other'), 'alice', 'alice'))).rejects.toThrow(/request refused: bad signature/);
    await expect(request(loaded, 'carol', await sign(loaded, 'carol', 'carol'))).rejects.toThrow(/request refused: unlisted: carol may not request migrations on 'req'/);
    expect((await refusals('r1_signed')).map((r) => [r.event, r.actor])).toEqual([
      ['REFUSED_REQUEST', 'alice'],
      ['REFUSED_REQUEST', 'alice'],
      ['REFUSED_REQUEST', 'alice'],
      ['REFUSED_REQUEST', 'carol'],
    ]);
    const column = await db.query(`select 1 from information_schema.columns where table_name = 'users' and column_name = 'r1_signed_col'`);
    expect(column.rowCount).toBe(0);
    expect(finalState(await request(loaded, 'alice', await sign(loaded, 'alice', 'alice')))).toBe('applied');
  });
});
