import { status } from '../../library/status';
import type { TemporalOptions } from '../../library/session';
import { bold, dim, stateColor } from '../output';
import { describeDataProgress } from '../../throttle/progress';
import { CliError } from '../exit-codes';
import { describeHealth } from '../../health/tracker';

/** `godwit status --target X`: the latest run of each migration on the target (`--fleet` is the release command's). */
export async function statusCommand(opts: TemporalOptions & { target?: string; json?: boolean }, out: (line: string) => void = console.log): Promise<void> {
  if (opts.target === undefined) throw new CliError('status needs --target <alias> or --fleet <name>');
  const { target, migrations: rows, links } = await status({ ...opts, target: opts.target });
  if (opts.json) {
    out(JSON.stringify({ target, migrations: rows, links }, null, 2));
    return;
  }
  if (rows.length === 0) {
    out(`no migrations have run on target '${target}' yet (apply one with \`godwit apply <manifest> --target ${target} --wait\`)`);
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
}
