import { ApplicationFailure } from '@temporalio/common';
import { redact } from '../src/config/targets';
import { ConnectionLostError, isConnectionLoss } from '../src/db/pool';
import { ExitCode, GodwitError } from '../src/errors';

// SQLSTATEs a retry can fix: lock timeout, serialization failure, deadlock, too many connections.
// A lost connection (08xxx, 57P01 and the like, a reset socket) is isConnectionLoss's to tell.
const RETRYABLE_SQLSTATE = /^(55P03|40001|40P01|53300)$/;
const RETRYABLE_NODE_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN']);

interface PgErrorLike {
  code?: string;
  message: string;
  detail?: string;
  hint?: string;
  position?: string;
}

/**
 * Maps any error to an ApplicationFailure that says whether Temporal should retry:
 * lock timeouts and lost connections are retried with backoff; SQL, constraint and
 * planning errors are not. Messages are redacted so no connection string leaks.
 */
export function toFailure(err: unknown, context?: string): ApplicationFailure {
  if (err instanceof ApplicationFailure) return err;
  const e = err as PgErrorLike & { name?: string };
  const prefix = context ? `${context}: ` : '';
  const base = redact(e?.message ?? String(err));
  // Errors of ours say themselves whether retrying can fix them; the failure's type is their name.
  if (err instanceof GodwitError && !err.retryable) {
    const { hint, path } = err as { hint?: string; path?: string };
    // A plan error's path says which operation of the manifest to fix.
    const where = err.name === 'PlanError' && path ? `${path}: ` : '';
    return ApplicationFailure.nonRetryable(prefix + where + base + (hint ? ` (${hint})` : ''), err.name);
  }
  if (err instanceof ConnectionLostError) return ApplicationFailure.retryable(prefix + base, 'ConnectionLost');
  if (err instanceof GodwitError) return ApplicationFailure.retryable(prefix + base, err.name);
  if (isConnectionLoss(err)) return toFailure(new ConnectionLostError(undefined, err), context);
  const code = e?.code;
  if (code && /^[0-9A-Z]{5}$/.test(code)) {
    const more = [e.detail, e.hint].filter(Boolean).join('; ');
    const message = `${prefix}${base} (SQLSTATE ${code})${more ? `: ${redact(more)}` : ''}`;
    if (code === '55P03') return ApplicationFailure.retryable(message, 'LockTimeout');
    if (RETRYABLE_SQLSTATE.test(code)) return ApplicationFailure.retryable(message, 'TransientDatabaseError');
    if (code === '57014') {
      return ApplicationFailure.nonRetryable(`${message}; the statement hit statement_timeout: raise policy.statement_timeout in the manifest if it needs longer`, 'StatementTimeout');
    }
    return ApplicationFailure.nonRetryable(message, 'SqlError');
  }
  if (code && RETRYABLE_NODE_CODES.has(code)) return ApplicationFailure.retryable(prefix + base, 'ConnectionError');
  return ApplicationFailure.retryable(prefix + base, e?.name ?? 'Error');
}

/** Thrown by the fault-injection hooks that tests and chaos runs use. */
export class InjectedFault extends GodwitError {
  override readonly name = 'InjectedFault';
}

/** Thrown when a step has no inverse and no snapshot to restore from. */
export class IrreversibleStepError extends GodwitError {
  override readonly name = 'IrreversibleStepError';
}

/** Thrown when a manifest that was applied has changed since. */
export class ChecksumMismatchError extends GodwitError {
  override readonly name = 'ChecksumMismatchError';
  override readonly exitCode = ExitCode.drift;
}

/** Thrown when a manifest's pre check is not true: the migration does not start. */
export class PreCheckFailedError extends GodwitError {
  override readonly name = 'PreCheckFailedError';
}

/** Thrown when a plan has lint findings of level error that the manifest does not accept by name. */
export class LintError extends GodwitError {
  override readonly name = 'LintError';
}

/** Thrown when the worker's authorization refuses a request. */
export class UnauthorizedError extends GodwitError {
  override readonly name = 'UnauthorizedError';
}
