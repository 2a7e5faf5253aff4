import { loadManifests } from '../../manifest';
import { runUrl, temporalSettings } from '../../config/temporal';
import { TARGET_ALIAS } from '../../config/targets';
import { newSeed } from '../../rehearse/prng';
import { isFinding, rehearsalTableRows, TABLE_HEADER, textTable } from '../../rehearse/table';
import type { RehearsalData, RehearsalReport } from '../../contract/rehearse';
import { CliError, ExitCode } from '../exit-codes';
import { bold, dim, green, red } from '../output';
import { defaultRequester } from '../../library/requester';

export interface RehearseOptions {
  target: string;
  sample?: string;
  synthetic?: boolean;
  seed?: string;
  json?: boolean;
  keep?: boolean;
  requestedBy?: string;
  address?: string;
  namespace?: string;
  taskQueue?: string;
}

export const DEFAULT_SAMPLE = 1000;

/** --sample and --seed as the rehearsal's data: a checked row count, and a seed made here when none is given. */
export function rehearsalData(opts: Pick<RehearseOptions, 'sample' | 'synthetic' | 'seed'>): RehearsalData {
  const rows = opts.sample === undefined ? DEFAULT_SAMPLE : Number(opts.sample);
  if (!Number.isInteger(rows) || rows < 1 || rows > 10_000_000) throw new CliError(`--sample expects a whole number of rows per table from 1 to 10000000, got '${opts.sample}' (e.g. --sample 1000)`);
  if (opts.seed !== undefined && !opts.synthetic) throw new CliError('--seed is for --synthetic data: add --synthetic, or leave --seed out');
  if (opts.seed !== undefined && !/^[A-Za-z0-9_-]{1,64}$/.test(opts.seed)) throw new CliError(`--seed expects up to 64 letters, digits, '-' or '_' (the seed a rehearsal printed), got '${opts.seed}'`);
  return opts.synthetic ? { kind: 'synthetic', rows, seed: opts.seed ?? newSeed() } : { kind: 'sample', rows };
}

/**
 * `godwit rehearse`: every rollback of the pending migrations, proven on a scratch copy of the
 * target. Exit codes: 0 every rollback proven and every migration applied to the copy; 2 a
 * rollback not proven, or a migration that does not apply to the copy (the table says which);
 * 5 a migration applied to the target has changed since; 1 the rehearsal could not run.
 */
export async function rehearseCommand(path: string, opts: RehearseOptions, out: (line: string) => void = console.log): Promise<ExitCode> {
  if (!TARGET_ALIAS.test(opts.target)) {
    throw new CliError(`invalid target alias '${opts.target}': use letters, digits, '-', '_' or '.' (e.g. --target app-prod)`);
  }
  const data = rehearsalData(opts);
  const manifests = await loadManifests(path);
  if (manifests.length === 0) throw new CliError(`no manifests found in ${path}: expected .yaml, .yml, .json or .sql files`);
  const settings = await temporalSettings(opts);
  const { connectClient } = await import('../../client/connect');
  const { rehearsalInput, startRehearsal, watchRehearsal, RehearsalFailedError } = await import('../../client/rehearse');
  const input = rehearsalInput({ target: opts.target, manifests, data, keep: opts.keep ?? false, requestedBy: opts.requestedBy ?? defaultRequester() });
  const client = await connectClient(settings);
  const say = opts.json ? () => undefined : out;
  let report: RehearsalReport;
  try {
    const handle = await startRehearsal(client, settings, input);
    const copy = data.kind === 'sample' ? `a sample of ${data.rows} rows per table` : `${data.rows} synthetic rows per table`;
    say(`${bold(`rehearsing ${manifests.length} migration(s) of ${opts.target}`)} on a scratch copy with ${copy}: ${runUrl(settings, handle.workflowId, handle.firstExecutionRunId)}`);
    if (data.kind === 'synthetic') say(`  seed ${data.seed} (the same rows again: --synthetic --seed ${data.seed})`);
    let shown = 0;
    let copied = false;
    const progress = (r: RehearsalReport) => {
      if (!copied && r.database !== null && r.copyMs !== null) {
        copied = true;
        say(`  copied ${r.tables.length} table(s), ${r.tables.reduce((n, t) => n + t.rows, 0)} rows, into ${r.database} in ${(r.copyMs / 1000).toFixed(1)} s`);
      }
      for (const row of r.rows.slice(shown)) say(`  ${row.migrationId} ${row.afterStep === null ? 'apply' : `fail after step ${row.afterStep}`}: ${isFinding(row) ? red(row.outcome) : green(row.outcome)}`);
      shown = Math.max(shown, r.rows.length);
    };
    try {
      report = await watchRehearsal(handle, progress);
    } catch (err) {
      if (err instanceof RehearsalFailedError) throw new CliError(`the rehearsal of ${opts.target} could not run: ${err.message}\n  run: ${runUrl(settings, handle.workflowId)}`);
      throw err;
    }
    progress(report);
  } finally {
    await client.connection.close();
  }
  const code = report.status === 'drift' ? ExitCode.drift : report.status === 'proven' ? ExitCode.applied : ExitCode.rolledBack;
  if (opts.json) {
    out(JSON.stringify({ ...report, exitCode: code }, null, 2));
    return code;
  }
  printReport(report, out);
  return code;
}

function printReport(report: RehearsalReport, out: (line: string) => void): void {
  out('');
  if (report.applied.length > 0) out(dim(`already applied to ${report.target}, not rehearsed: ${report.applied.join(', ')}`));
  for (const c of report.changed) {
    out(red(`${c.id} was applied to ${report.target} as ${c.recorded}, but its file is now ${c.current}: an applied migration must not change; revert the file and put the change in a new migration`));
  }
  for (const n of report.notes) out(dim(`note: ${n}`));
  if (report.rows.length > 0) for (const line of textTable(TABLE_HEADER, rehearsalTableRows(report.rows))) out(line);
  if (report.notRun.length > 0) out(red(`not rehearsed, the copy was left in an unknown state before them: ${report.notRun.join(', ')}`));
  const where = report.kept ? `scratch database ${report.database} kept (target alias ${report.scratchTarget}; drop it with: dropdb ${report.database})` : 'scratch database dropped';
  const runs = report.rows.length;
  if (report.status === 'proven') out(green(`proven: every rollback held (${runs} run(s) on the copy); ${where}`));
  else if (report.status === 'problems') out(red(`not proven: ${report.rows.filter(isFinding).length} finding(s) above; ${where}`));
  else if (report.status === 'drift') out(red(`drift: nothing was rehearsed (exit 5); ${where}`));
}
