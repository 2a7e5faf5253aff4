import { plan, type MigrationPlan, type PlanOptions as LibraryPlanOptions } from '../../library/plan';
import type { PlannedStep, SnapshotSpec } from '../../operations/types';
import { ExitCode } from '../exit-codes';
import { bold, dim, red, yellow } from '../output';

export interface PlanOptions extends LibraryPlanOptions {
  json?: boolean;
}

/**
 * `godwit plan`: forward and inverse SQL, snapshots, risk and lint of each step. Offline (no
 * database, no server) by default; with `--target`, a worker plans against the target's live
 * catalog, as apply would now, and writes nothing to it. Exits 5 when an applied manifest's
 * file has changed (apply would refuse it), 1 on a plan error.
 */
export async function planCommand(path: string, opts: PlanOptions, out: (line: string) => void = console.log): Promise<ExitCode> {
  const { target, migrations: plans, drift } = await plan(path, opts);
  const code = drift ? ExitCode.drift : ExitCode.applied;
  if (opts.json) {
    out(JSON.stringify(target === undefined ? { migrations: plans } : { target, migrations: plans }, null, 2));
    return code;
  }
  if (target === undefined) {
    printPlans(plans, out);
    return code;
  }
  out(`${bold(`target ${target.name}`)}: planned against its live catalog ${dim(`(schema ${target.fingerprint})`)}`);
  for (const t of target.tables) out(`  ${t.table}: ~${Math.round(t.rows).toLocaleString('en-US')} rows, ${formatBytes(t.bytes)}`);
  out('');
  printPlans(plans, out, target.name);
  return code;
}

function printPlans(plans: readonly MigrationPlan[], out: (line: string) => void, target?: string): void {
  for (const plan of plans) {
    out(`${bold(plan.id)} ${dim(plan.checksum)}`);
    if (plan.description) out(`  ${plan.description}`);
    if (plan.status === 'applied') out(`  already applied to ${target}: apply does nothing`);
    if (plan.status === 'changed') {
      out(`  ${red('changed')}: applied to ${target} as ${plan.recorded}, the file is now ${plan.checksum}; apply refuses it (exit 5)`);
      out('    an applied migration must not change: revert the file and put the change in a new migration');
    }
    for (const step of plan.steps) out(formatStep(step));
    if (plan.status === undefined || plan.status === 'planned') for (const c of plan.checks) out(`  post check: ${c.name}`);
    out('');
  }
}

function formatStep(step: PlannedStep): string {
  const lines = [`  ${step.index}. ${bold(step.summary)}  ${dim(`risk ${step.risk}; touches ${step.touches.join(', ') || 'nothing'}`)}`];
  for (const a of step.forward) lines.push(`     forward: ${a.sql}${a.transactional ? '' : dim('  (outside a transaction)')}`);
  if (step.inverse) for (const a of step.inverse) lines.push(`     inverse: ${a.sql}`);
  else lines.push(`     inverse: ${yellow('none')} — ${step.inverseNote ?? 'cannot be rolled back'}`);
  for (const s of step.snapshots ?? []) lines.push(`     ${describeSnapshot(s)}`);
  for (const r of step.retire ?? []) lines.push(`     retires: ${r.kind} ${r.kind === 'column' ? `${r.schema}.${r.table}.${r.column}` : `${r.schema}.${r.table}`} (renamed out of the way; purged after the retention)`);
  for (const f of step.lint) lines.push(`     ${f.level === 'error' ? red(f.level) : yellow(f.level)} ${f.code}: ${f.message}`);
  return lines.join('\n');
}

/** `snapshot: copy of public.users (email) by key (id), taken in the step's transaction` */
function describeSnapshot(s: SnapshotSpec): string {
  const table = `${s.schema}.${s.table}`;
  if (s.kind === 'table') return `snapshot: copy of ${table}, taken in the step's transaction`;
  if (s.kind === 'columns') return `snapshot: copy of ${table} (${s.columns.join(', ')}) by key (${s.key.join(', ')})${s.where ? ` where ${s.where}` : ''}, taken in the step's transaction`;
  return `change log: ${table} (${s.columns?.join(', ') ?? 'all columns'}) by key (${s.key.join(', ')}): each row the step changes, as it was and as it left it`;
}

function formatBytes(bytes: number): string {
  if (bytes < 1024 * 1024) return `${Math.round(bytes / 1024).toLocaleString('en-US')} kB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)} MB`;
  return `${(bytes / 1024 ** 3).toFixed(1)} GB`;
}
