import { loadManifests, type LoadedManifest } from '../../manifest';
import { loadSqlParser, planManifest } from '../../operations';
import { emptySchemaModel } from '../../db/schema-model';
import { PlanError, type PlannedStep } from '../../operations/types';
import { CliError } from '../exit-codes';
import { bold, dim, red, yellow } from '../output';

/** Plans one manifest without a database; a plan error names the file, the operation and the fix. */
function planOffline(m: LoadedManifest): PlannedStep[] {
  try {
    return planManifest(m.manifest, emptySchemaModel(), { offline: true });
  } catch (err) {
    if (err instanceof PlanError) throw new CliError(`${m.file}: ${err.path}: ${err.message}${err.hint ? `\n  ${err.hint}` : ''}`);
    throw err;
  }
}

/** `godwit plan`: forward and inverse SQL of each step, offline (no database, no server). */
export async function planCommand(path: string, opts: { json?: boolean }, out: (line: string) => void = console.log): Promise<void> {
  const manifests = await loadManifests(path);
  await loadSqlParser();
  const plans = manifests.map((m) => ({
    id: m.manifest.id,
    file: m.file,
    checksum: m.checksum,
    description: m.manifest.description,
    steps: planOffline(m),
    checks: m.manifest.checks.post,
    policy: m.manifest.policy,
  }));
  if (opts.json) {
    out(JSON.stringify({ migrations: plans }, null, 2));
    return;
  }
  for (const plan of plans) {
    out(`${bold(plan.id)} ${dim(plan.checksum)}`);
    if (plan.description) out(`  ${plan.description}`);
    for (const step of plan.steps) out(formatStep(step));
    for (const c of plan.checks) out(`  post check: ${c.name}`);
    out('');
  }
}

function formatStep(step: PlannedStep): string {
  const lines = [`  ${step.index}. ${bold(step.summary)}  ${dim(`risk ${step.risk}; touches ${step.touches.join(', ') || 'nothing'}`)}`];
  for (const a of step.forward) lines.push(`     forward: ${a.sql}${a.transactional ? '' : dim('  (outside a transaction)')}`);
  if (step.inverse) for (const a of step.inverse) lines.push(`     inverse: ${a.sql}`);
  else lines.push(`     inverse: ${yellow('none')} — ${step.inverseNote ?? 'cannot be rolled back'}`);
  for (const f of step.lint) lines.push(`     ${f.level === 'error' ? red(f.level) : yellow(f.level)} ${f.code}: ${f.message}`);
  return lines.join('\n');
}
