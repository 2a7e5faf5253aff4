import { connectClient, unlockTarget } from '../../client';
import { temporalSettings } from '../../config/temporal';
import { CliError } from '../exit-codes';
import { defaultRequester } from '../../library/requester';

/**
 * `godwit unlock --target X`: frees a target whose lease holder's run no longer exists
 * (terminated from the UI, or its history lost). The worker asks Temporal first; a run that is
 * still open keeps its target, and the way out is to resolve it, or terminate it and unlock.
 */
export async function unlockCommand(
  opts: { target: string; by?: string; json?: boolean; address?: string; namespace?: string; taskQueue?: string },
  out: (line: string) => void = console.log,
): Promise<void> {
  const settings = await temporalSettings(opts);
  const client = await connectClient(settings);
  try {
    const report = await unlockTarget(client, settings, { target: opts.target, by: opts.by ?? defaultRequester() });
    if (opts.json) out(JSON.stringify(report, null, 2));
    const of = `${report.holder}${report.migrationId === null ? '' : ` (migration ${report.migrationId})`}`;
    if (report.holder === null) {
      if (!opts.json) out(`target '${opts.target}' is not locked: no migration holds it`);
      return;
    }
    if (report.released) {
      if (opts.json) return;
      out(`unlocked target '${opts.target}': its holder ${of} no longer runs; recorded in the audit log`);
      const revert = report.revert;
      if (revert) {
        const oldest = revert.chain.at(-1)!;
        const again = `godwit revert ${revert.chain[0]}${revert.chain.length > 1 ? ` --to ${oldest}` : ''} --target ${opts.target}`;
        out(`it was reverting ${revert.chain.join(', ')}, which stay marked reverting and may be partly undone; finish with \`${again}\` (steps already undone are skipped)`);
      }
      return;
    }
    if (report.holderState === 'closed') throw new CliError(`target '${opts.target}' changed hands while unlocking it; run \`godwit status --target ${opts.target}\` and try again`);
    throw new CliError(
      report.holderState === 'open'
        ? `target '${opts.target}' is held by ${of}, whose run is still open: resolve it (approve, reject, retry-rollback or resolve), or terminate it in the Temporal UI first, then unlock`
        : `target '${opts.target}' is held by ${of}, and Temporal could not say whether its run still exists; check the server and try again`,
    );
  } finally {
    await client.connection.close();
  }
}
