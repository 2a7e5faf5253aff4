import { ExitCode, GodwitError } from '../errors';

/** Thrown when a request cannot be carried out as given: a missing or bad option, a run that is not running, a verb the run refused. */
export class RequestError extends GodwitError {
  override readonly name = 'RequestError';
  constructor(
    message: string,
    override readonly exitCode: ExitCode = ExitCode.error,
  ) {
    super(message);
  }
}

/** Thrown when a manifest cannot be planned; the message names the file, the operation and the fix. */
export class ManifestPlanError extends GodwitError {
  override readonly name = 'ManifestPlanError';
  constructor(
    readonly file: string,
    /** Where in the manifest, e.g. `operations[2].add_column`. */
    readonly path: string,
    readonly problem: string,
    readonly hint: string | undefined,
    /** The target whose live catalog the plan was made against; absent for an offline plan. */
    readonly target: string | undefined,
  ) {
    const against = target === undefined ? '' : ` (planned against the live catalog of '${target}')`;
    super(`${file}: ${path}: ${problem}${against}${hint ? `\n  ${hint}` : ''}`);
  }
}

/** Thrown when a migration run failed before it changed anything (a plan error, a busy target, a changed manifest...). */
export class NotAppliedError extends GodwitError {
  override readonly name = 'NotAppliedError';
  override readonly exitCode: ExitCode;
  constructor(
    readonly migrationId: string,
    /** The failure's type: the activity's error name (PlanError, LeaseHeldError, ChecksumMismatchError...). */
    readonly type: string | undefined,
    reason: string,
    readonly url: string,
  ) {
    super(`${migrationId} was not applied: ${reason}\n  run: ${url}`);
    // A manifest changed since it was applied is drift, as `godwit verify` reports it.
    this.exitCode = type === 'ChecksumMismatchError' ? ExitCode.drift : ExitCode.error;
  }
}

/** What `--key` signing failed with, and how to fix it. */
export function signingFailed(err: Error): RequestError {
  return new RequestError(`${err.message}; pass --key with an SSH private key file (or a public key whose private half your ssh-agent holds)`);
}
