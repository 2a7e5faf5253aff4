import { connectClient, migrationStatus } from '../../client';
import { temporalSettings } from '../../config/temporal';
import { bold, dim, stateColor } from '../output';
import { describeDataProgress } from '../../throttle/progress';
import { CliError } from '../exit-codes';
import { describeHealth } from '../../health/tracker';
import { savedQueries } from '../../client/links';

/** `godwit status --target X`: the latest run of each migration on the target. */
export async function statusCommand(
  opts: { target?: string; fleet?: string; json?: boolean; address?: string; namespace?: string; uiUrl?: string },
  out: (line: string) => void = console.log,
): Promise<void> {
  if (opts.fleet !== undefined) {
    if (opts.target !== undefined) throw new CliError('give --target or --fleet, not both');
    const { fleetStatusCommand } = await import('./release');
    return fleetStatusCommand({ ...opts, fleet: opts.fleet }, out);
  }
  if (opts.target === undefined) throw new CliError('status needs --target <alias> or --fleet <name>');
  const target = opts.target;
  const settings = await temporalSettings(opts);
  const client = await connectClient(settings);
  try {
    const rows = await migrationStatus(client, settings, target);
    const links = savedQueries(settings, target);
    if (opts.json) {
      out(JSON.stringify({ target, migrations: rows, links }, null, 2));
      return;
    }
    if (rows.length === 0) {
      out(`no migrations have run on target '${opts.target}' yet (apply one with \`godwit apply <manifest> --target ${opts.target} --wait\`)`);
      return;
    }
    out(bold(`target ${target}`));
    for (const r of rows) {
      out(`  ${r.migrationId.padEnd(32)} ${stateColor(r.state.padEnd(18))} ${dim(r.startTime)}${r.currentStep ? `  step ${r.currentStep}` : ''}`);
      if (r.data) out(`    ${describeDataProgress(r.data)}`);
      if (r.data) out(`    ${dim(`pacing: ${r.data.throttle}`)}`);
      for (const line of r.health ? describeHealth(r.health) : []) out(`    ${line}`);
      out(`    ${dim(r.url)}`);
    }
    out(`${bold('in the Temporal UI')}`);
    for (const q of Object.values(links)) out(`  ${q.title}: ${dim(q.url)}`);
  } finally {
    await client.connection.close();
  }
}
