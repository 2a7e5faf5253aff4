import type { AuthorizationConfig } from '../src/config/targets';
import { appendAudit } from '../src/db/audit';
import { canonicalPayload, canonicalRequest } from '../src/auth/payload';
import { refusalByPolicy, ruleFor } from '../src/auth/policy';
import { sshVerify, type Verification } from '../src/auth/ssh';
import type { AuthorizeInput, AuthorizeResult, PrepareInput } from '../src/contract/migration';
import { inTransaction, withTarget, type ActivityDeps } from './context';

type Decision = { ok: true; signedWith: string | null } | { ok: false; reason: string };

/** Why a signature that did not verify is refused: a key the worker does not list for the principal, or a listed key over something else (`signedOther`). */
function signatureRefusal(v: Extract<Verification, { ok: false }>, principal: string, signedOther: string): string {
  if (v.why === 'forged') return `forged: the signature was not made by any key in the worker's allowed_signers (${v.detail})`;
  if (v.why === 'wrong_principal') return `forged: the signature was not made by a key allowed_signers lists for ${principal} (${v.detail})`;
  return `bad signature: ${principal}'s key ${signedOther} (${v.detail})`;
}

/**
 * Decides an operator action with what the worker alone knows: its godwit.yaml and the
 * run's own facts. Without an `authorization` section only the four-eyes rule applies
 * (development); with one, the action must be signed unless `unsigned: true`.
 */
export async function decideAction(config: AuthorizationConfig | undefined, input: AuthorizeInput): Promise<Decision> {
  const { action, principal } = input;
  if (action === 'approve' && principal === input.requestedBy) {
    return { ok: false, reason: `self approval: ${principal} requested this migration; another person must approve it` };
  }
  if (!config) return { ok: true, signedWith: null };
  let signedWith: string | null = null;
  if (input.signature === undefined) {
    if (!config.unsigned) {
      return { ok: false, reason: `unsigned: the worker requires ${action} to be signed; run \`godwit ${action} ${input.migrationId} --target ${input.target} --by ${principal} --key <your ssh key>\`` };
    }
  } else if (config.allowed_signers !== undefined) {
    const payload = canonicalPayload({ action, principal, target: input.target, migrationId: input.migrationId, runId: input.runId, checksum: input.checksum, text: input.text });
    const v = await sshVerify(payload, input.signature, principal, config.allowed_signers);
    if (!v.ok) {
      return { ok: false, reason: signatureRefusal(v, principal, `did not sign this ${action} of run ${input.runId} with plan ${input.checksum}; a signature made for another run, plan or text, or an altered request, is refused`) };
    }
    signedWith = v.key;
  }
  const refusal = refusalByPolicy(config, input.target, action, principal);
  return refusal ? { ok: false, reason: refusal } : { ok: true, signedWith };
}

/**
 * Decides a request to start a migration, where the target's entry in godwit.yaml lists who
 * may `request`: then the requester must be listed, and (unless `unsigned: true`) have signed
 * the request, so the name the four-eyes rule compares approvers with is proven too. A
 * request is signed before its run exists: the signature covers the target, the migration id
 * and the plan's checksum, so it starts that plan on that target and nothing else.
 */
export async function decideRequest(config: AuthorizationConfig | undefined, input: PrepareInput): Promise<Decision> {
  const listed = config === undefined ? undefined : ruleFor(config, input.target)?.rule.request;
  if (config === undefined || listed === undefined) return { ok: true, signedWith: null };
  const principal = input.requestedBy;
  let signedWith: string | null = null;
  if (input.requestSignature === undefined) {
    if (!config.unsigned) {
      return { ok: false, reason: `unsigned: the worker requires requests on '${input.target}' to be signed; run \`godwit apply <file> --target ${input.target} --requested-by ${principal} --key <your ssh key>\`` };
    }
  } else if (config.allowed_signers !== undefined) {
    const payload = canonicalRequest({ principal, target: input.target, migrationId: input.migrationId, checksum: input.checksum });
    const v = await sshVerify(payload, input.requestSignature, principal, config.allowed_signers);
    if (!v.ok) return { ok: false, reason: signatureRefusal(v, principal, `did not sign a request for ${input.migrationId} with plan ${input.checksum} on '${input.target}'`) };
    signedWith = v.key;
  }
  if (!listed.includes(principal)) {
    return { ok: false, reason: `unlisted: ${principal} may not request migrations on '${input.target}' (the worker's godwit.yaml lists ${listed.join(', ') || 'no one'})` };
  }
  return { ok: true, signedWith };
}

export function makeAuthorize(deps: ActivityDeps) {
  return {
    /** Verifies an operator action; a refusal is written to the audit log (REFUSED_<ACTION>) and returned, not thrown. */
    async authorizeAction(input: AuthorizeInput): Promise<AuthorizeResult> {
      const decision = await decideAction(deps.authorization, input);
      if (decision.ok) return decision;
      const entry = { event: `REFUSED_${input.action.toUpperCase()}`, from: input.state, to: null, actor: input.principal, detail: { reason: decision.reason, signed: input.signature !== undefined } };
      const auditHead = await withTarget(deps, input.target, `audit the refused ${input.action}`, (client) => inTransaction(client, null, () => appendAudit(client, input, [entry])));
      return { ...decision, auditHead };
    },
  };
}
