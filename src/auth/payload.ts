/**
 * What an operator signs: one action on one run of one plan. The run id and the plan's
 * checksum make a signature useless anywhere else (another run of the same migration id,
 * or the same run with another manifest), and the principal is inside so a signature
 * cannot be passed off under another name.
 */
import { canonicalJson } from '../manifest/canonical';

/** The ssh-keygen -Y namespace: a signature made for git or anything else does not verify here. */
export const SIGNATURE_NAMESPACE = 'godwit';

/** `tune` covers `godwit tune`, `pause` and `resume`: the signed text is the change. */
export const SIGNED_ACTIONS = ['approve', 'reject', 'rollback', 'resolve', 'tune'] as const;
export type SignedAction = (typeof SIGNED_ACTIONS)[number];

export interface ActionPayload {
  action: SignedAction;
  principal: string;
  target: string;
  migrationId: string;
  /** The Temporal run id of the migration workflow. */
  runId: string;
  /** The manifest checksum the run carries (`sha256:<hex>`). */
  checksum: string;
  /** The note or reason that goes into the audit log with the action; null when none. */
  text: string | null;
}

/** The exact bytes that are signed and verified: canonical JSON, keys sorted, one line. */
export function canonicalPayload(p: ActionPayload): string {
  return canonicalJson({ godwit: 'operator-action/v1', ...p }) + '\n';
}

/** What a requester signs to start a migration: before its run exists, so without a run id. */
export interface RequestPayload {
  principal: string;
  target: string;
  migrationId: string;
  /** The manifest checksum (`sha256:<hex>`): the signature is good for this plan only. */
  checksum: string;
}

/** The exact bytes of a signed request. */
export function canonicalRequest(p: RequestPayload): string {
  return canonicalJson({ godwit: 'migration-request/v1', action: 'request', ...p }) + '\n';
}

/** What a requester signs to revert an applied migration (`godwit revert --key`): its own kind, so no apply request passes for one. */
export interface RevertRequestPayload {
  principal: string;
  target: string;
  migrationId: string;
  /** `--to`: the oldest migration of the chain, or null for one migration. */
  to: string | null;
}

/** The exact bytes of a signed revert request. */
export function canonicalRevertRequest(p: RevertRequestPayload): string {
  return canonicalJson({ godwit: 'migration-request/v1', action: 'revert', ...p }) + '\n';
}
