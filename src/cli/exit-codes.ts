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

/** An error whose message is meant for the user as it is, with the exit code to leave with. */
export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    message: string,
    readonly exitCode: ExitCode = ExitCode.error,
  ) {
    super(message);
  }
}
