import { loadManifests, type LoadedManifest } from '../../manifest';
import { loadSqlParser, planManifest } from '../../operations';
import { emptySchemaModel } from '../../db/schema-model';
import { PlanError, type PlannedStep, type SnapshotSpec } from '../../operations/types';
import { temporalSettings } from '../../config/temporal';
import type { LivePlanOutcome, LivePlanReport } from '../../contract/migration';
import { CliError, ExitCode } from '../exit-codes';
import { bold, dim, red, yellow } from '../output';

export interface PlanOptions {
  json?: boolean;
  /** Plan against this target's live catalog, through a worker; offline without it. */
  target?: string;
  address?: string;
  namespace?: string;
  taskQueue?: string;
}

/** What both plans print per manifest; a live plan adds `status` (and `recorded` for a changed file). */
interface MigrationPlan {
  id: string;
  file: string;
  checksum: string;
  description: string;
  status?: LivePlanOutcome['status'];
  recorded?: string;
  steps: PlannedStep[];
  checks: LoadedManifest['manifest']['checks']['post'];
  policy: LoadedManifest['manifest']['policy'];
}

function planErrorMessage(file: string, err: { path: string; message: string; hint?: string | undefined }, target?: string): string {
  const against = target === undefined ? '' : ` (planned against the live catalog of '${target}')`;
  return `${file}: ${err.path}: ${err.message}${against}${err.hint ? `\n  ${err.hint}` : ''}`;
}

/** Plans one manifest without a database; a plan error names the file, the operation and the fix. */
function planOffline(m: LoadedManifest): PlannedStep[] {
  try {
    return planManifest(m.manifest, emptySchemaModel(), { offline: true });
  } catch (err) {
    if (err instanceof PlanError) throw new CliError(planErrorMessage(m.file, err));
    throw err;
  }
}

function describe(m: LoadedManifest, steps: PlannedStep[]): MigrationPlan {
  return { id: m.manifest.id, file: m.file, checksum: m.checksum, description: m.manifest.description, steps, checks: m.manifest.checks.post, policy: m.manifest.policy };
}

/**
 * `godwit plan`: forward and inverse SQL, snapshots, risk and lint of each step. Offline (no
 * database, no server) by default; with `--target`, a worker plans against the target's live
 * catalog, as apply would now, and writes nothing to it. Exits 5 when an applied manifest's
 * file has changed (apply would refuse it), 1 on a plan error.
 */
export async function planCommand(path: string, opts: PlanOptions, out: (line: string) => void = console.log): Promise<ExitCode> {
  const manifests = await loadManifests(path);
  if (opts.target === undefined) {
    await loadSqlParser();
    const plans = manifests.map((m) => describe(m, planOffline(m)));
    if (opts.json) out(JSON.stringify({ migrations: plans }, null, 2));
    else printPlans(plans, out);
    return ExitCode.applied;
  }

  const target = opts.target;
  const settings = await temporalSettings(opts);
  // The Temporal client only here: an offline plan loads none of it.
  const { connectClient, planAgainstTarget } = await import('../../client');
  const client = await connectClient(settings);
  let report: LivePlanReport;
  try {
    report = await planAgainstTarget(client, settings, target, manifests);
  } finally {
    await client.connection.close();
  }
  const byId = new Map(manifests.map((m) => [m.manifest.id, m]));
  const plans: MigrationPlan[] = [];
  for (const outcome of report.migrations) {
    const m = byId.get(outcome.id)!;
    if (outcome.status === 'error') throw new CliError(planErrorMessage(m.file, outcome.error, target));
    plans.push({
      ...describe(m, outcome.status === 'planned' ? outcome.steps : []),
      status: outcome.status,
      ...(outcome.status === 'changed' ? { recorded: outcome.recorded } : {}),
    });
  }
  const code = plans.some((p) => p.status === 'changed') ? ExitCode.drift : ExitCode.applied;
  if (opts.json) {
    out(JSON.stringify({ target: { name: target, fingerprint: report.fingerprint, tables: report.tables }, migrations: plans }, null, 2));
    return code;
  }
  out(`${bold(`target ${target}`)}: planned against its live catalog ${dim(`(schema ${report.fingerprint})`)}`);
  for (const t of report.tables) out(`  ${t.table}: ~${Math.round(t.rows).toLocaleString('en-US')} rows, ${formatBytes(t.bytes)}`);
  out('');
  printPlans(plans, out, target);
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
