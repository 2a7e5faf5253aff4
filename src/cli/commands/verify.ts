import { verify, type VerifyOptions } from '../../library/verify';
import { ExitCode } from '../exit-codes';
import { bold, green, red } from '../output';

/** `godwit verify`: exit 5 when an applied manifest changed or the schema drifted, 0 when neither. */
export async function verifyCommand(path: string, opts: VerifyOptions & { json?: boolean }, out: (line: string) => void = console.log): Promise<ExitCode> {
  const report = await verify(path, opts);
  const { drift } = report;
  if (opts.json) {
    out(JSON.stringify(report, null, 2));
    return drift ? ExitCode.drift : ExitCode.applied;
  }
  out(bold(`target ${opts.target}`));
  for (const c of report.changedFiles) {
    out(`  ${red('changed')} ${c.id} (${c.file}): applied as ${c.recorded}, the file is now ${c.current}`);
    out('    an applied migration must not change: revert the file and put the change in a new migration');
  }
  if (report.schemaDrift) {
    out(`  ${red('schema drift')} since ${report.schemaDrift.since}: ${report.schemaDrift.recorded} → ${report.schemaDrift.current}`);
    for (const d of report.schemaDrift.differences) out(`    ${d}`);
    out('    the schema was changed outside Godwit: capture the change in a migration, or undo it by hand');
  }
  if (report.pending.length) out(`  pending: ${report.pending.join(', ')}`);
  if (report.appliedWithoutFile.length) out(`  applied, but no file given: ${report.appliedWithoutFile.join(', ')}`);
  if (!drift) out(`  ${green('no drift')}: applied manifests unchanged, schema as the last migration left it`);
  return drift ? ExitCode.drift : ExitCode.applied;
}
