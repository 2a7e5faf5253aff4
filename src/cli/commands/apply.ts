import { apply, type ApplyOptions as LibraryApplyOptions } from '../../library/apply';
import { describeRestore } from '../../contract/migration';
import { CliError, ExitCode } from '../exit-codes';
import { bold, dim, formatProgress, stateColor } from '../output';
import { DataProgressView } from '../progress';

export interface ApplyOptions extends Omit<LibraryApplyOptions, 'onStarted' | 'onEvent' | 'onData' | 'onReport'> {
  json?: boolean;
}

/**
 * `godwit apply --target`: each manifest runs as its own workflow, in id order; with a
 * directory it stops at the first that does not end applied. Prints each run's story and
 * returns the exit code. (`--fleet` and `--atomic` are the release command's.)
 */
export async function applyCommand(path: string, given: Omit<ApplyOptions, 'target'> & { target?: string }, out: (line: string) => void = console.log): Promise<ExitCode> {
  const target = given.target;
  if (target === undefined) throw new CliError('apply needs --target <alias> (one database) or --fleet <name> (a fleet of godwit.yaml)');
  const opts: ApplyOptions = { ...given, target };
  // Each run's story as it happens; none with --json, which prints the reports at the end.
  const say = opts.json ? () => undefined : out;
  // A running data step's rows, rate and ETA: a bar on a terminal, a line every 10 s in a log.
  const view = opts.json ? null : new DataProgressView(out);
  const result = await apply(path, {
    ...opts,
    onStarted: (run) => say(`${bold(run.migrationId)} → ${target}: started ${run.url}`),
    onEvent: (e, run) => {
      view?.clear();
      say(formatProgress(e));
      const id = run.migrationId;
      if (e.kind === 'transition' && e.to === 'awaiting_approval') {
        say(`  waiting for approval: \`godwit approve ${id} --target ${target}\` (or reject), or in the UI: ${run.url}`);
      }
      if (e.kind === 'transition' && e.to === 'unhealthy') {
        say(`  a health probe fired (on_unhealthy: ask): confirm with \`godwit rollback ${id} --target ${target}\`, or dismiss with \`godwit approve ${id} --target ${target} --note "..."\` (${run.url})`);
      }
    },
    ...(view ? { onData: (d, step) => view.update(step, d) } : {}),
    onReport: (report, loaded) => {
      if (report.state === 'planned') return; // started, not waited for
      view?.clear();
      const id = report.migrationId;
      if (report.alreadyApplied) say(`${bold(id)} already applied with checksum ${loaded.checksum}: nothing to do`);
      else say(`${bold(id)} ${stateColor(report.state)}${report.reason && report.state !== 'applied' ? `: ${report.reason}` : ''}`);
      const proof = report.rollback;
      if (proof) {
        say(`  schema fingerprint before: ${proof.fingerprintBefore}`);
        say(`  schema fingerprint after:  ${proof.fingerprintAfter} (${proof.fingerprintAfter === proof.fingerprintBefore ? 'equal' : 'DIFFERENT'})`);
        for (const r of proof.restores ?? []) say(`  restore of ${r.source}: ${describeRestore(r)}`);
        for (const d of proof.data ?? []) {
          say(`  data of ${d.table}: ${d.before.rows} rows, checksum ${d.before.checksum} before; ${d.after ? `${d.after.rows} rows, ${d.after.checksum}` : 'table missing'} after (${d.equal ? 'equal' : 'DIFFERENT'})`);
        }
        for (const d of proof.differences) say(`    ${d}`);
      }
      if (report.state === 'rollback_failed') {
        say(`  a human is needed: fix the database, then \`godwit retry-rollback ${id} --target ${target}\` or \`godwit resolve ${id} --target ${target} --note "..."\` (${report.url})`);
      }
    },
  });
  const { migrations, links, exitCode } = result;
  if (opts.json) {
    out(JSON.stringify({ migrations, links }, null, 2));
    return exitCode;
  }
  const last = migrations[migrations.length - 1];
  if (exitCode !== ExitCode.applied && result.found > 1 && last !== undefined) out(`stopped: ${last.migrationId} ended ${last.state}; later manifests were not applied`);
  // The last line, when the runs were waited for: the UI's list filtered to what needs a look (see src/client/links.ts).
  if (result.waited) {
    const q = exitCode === ExitCode.applied ? links.all : exitCode === ExitCode.rolledBack ? links.rolledBack : exitCode === ExitCode.rollbackFailed ? links.waiting : links.notApplied;
    out(dim(`${q.title} in the Temporal UI: ${q.url}`));
  }
  return exitCode;
}
