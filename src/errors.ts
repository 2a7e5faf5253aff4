/**
 * The exit codes and the one base class of Godwit's errors. Pure (no imports): workflow code
 * throws some of these errors too.
 */

/** The exit codes pipelines read (DESIGN.md, CLI contract). */
export const ExitCode = {
  applied: 0,
  error: 1,
  rolledBack: 2,
  rollbackFailed: 3,
  rejected: 4,
  drift: 5,
  /** `godwit audit verify`: the audit log's hash chain is broken, or shorter than Temporal recorded. */
  auditBroken: 6,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/**
 * Base of every error Godwit throws on purpose. Its message is meant for the user as it is
 * (the CLI prints it without a stack trace), `exitCode` is what the CLI leaves with, and
 * `retryable` says whether the same call can succeed later: an activity that throws a
 * non-retryable one fails at once (activities/errors.ts), a retryable one is retried by Temporal.
 */
export class GodwitError extends Error {
  override readonly name: string = 'GodwitError';
  readonly exitCode: ExitCode = ExitCode.error;
  readonly retryable: boolean = false;
}

export function isGodwitError(err: unknown): err is GodwitError {
  return err instanceof GodwitError;
}
