import { ExitCode, GodwitError } from '../errors';

export { ExitCode };

/** An error whose message is meant for the user as it is, with the exit code to leave with. */
export class CliError extends GodwitError {
  override readonly name = 'CliError';
  constructor(
    message: string,
    override readonly exitCode: ExitCode = ExitCode.error,
  ) {
    super(message);
  }
}
