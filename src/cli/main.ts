import { Command, Option } from 'commander';
import { GodwitError } from '../errors';
import { CliError, ExitCode } from './exit-codes';
import { red } from './output';

const program = new Command()
  .name('godwit')
  .description('Postgres schema and data migrations as durable Temporal workflows, with proven rollback')
  .showHelpAfterError('(run `godwit --help` for usage)')
  .exitOverride();

const temporalOptions = (cmd: Command) =>
  cmd
    .addOption(new Option('--address <host:port>', 'Temporal frontend address').env('TEMPORAL_ADDRESS'))
    .addOption(new Option('--namespace <ns>', 'Temporal namespace').env('TEMPORAL_NAMESPACE'))
    .addOption(new Option('--task-queue <name>', 'task queue of the Godwit workers').env('GODWIT_TASK_QUEUE'));

temporalOptions(
  program
    .command('plan')
    .description('show the forward and inverse SQL, snapshots, risk and lint of each step: offline (no database or server needed), or against a target\'s live catalog through a worker')
    .argument('<path>', 'manifest file or directory')
    .option('-t, --target <alias>', 'plan against this target\'s live catalog, as apply would now (a worker reads it; nothing is written)')
    .option('--json', 'machine-readable output'),
).action(async (path: string, opts) => {
  const { planCommand } = await import('./commands/plan');
  process.exitCode = await planCommand(path, opts);
});

temporalOptions(
  program
    .command('apply')
    .description('apply a manifest, or a directory of manifests in id order, each as its own workflow; with --fleet, across a fleet of godwit.yaml as one release')
    .argument('<path>', 'manifest file or directory')
    .option('-t, --target <alias>', 'target database alias (the worker resolves it)')
    .option('--fleet <name>', "every target of this fleet (godwit.yaml fleets:), canaries first, halted and reverted together past the fleet's failure threshold")
    .option('--atomic', 'with --target and a directory: all or nothing; when one manifest fails, the ones it applied before are reverted, newest first')
    .option('-w, --wait', 'wait for the outcome, printing progress; the exit code tells it')
    .option('--json', 'machine-readable output')
    .option('--requested-by <name>', 'who asks for it (default: $GODWIT_REQUESTED_BY, $GITHUB_ACTOR or $USER)')
    .option('--key <path>', 'sign the request with this SSH key (default: $GODWIT_SIGNING_KEY); required where the worker lists who may request'),
).action(async (path: string, opts) => {
  if (opts.fleet !== undefined || opts.atomic) {
    const { releaseCommand } = await import('./commands/release');
    process.exitCode = await releaseCommand(path, opts);
    return;
  }
  const { applyCommand } = await import('./commands/apply');
  process.exitCode = await applyCommand(path, opts);
});

temporalOptions(
  program
    .command('revert')
    .description('revert an applied migration from the plan its run recorded, last step first, as its own workflow (exit 0 reverted and proven, 3 not proven, 4 rejected, 1 refused)')
    .argument('<migration-id>', 'the applied migration (the newest of the chain with --to)')
    .requiredOption('-t, --target <alias>', 'target database alias (the worker resolves it)')
    .option('--to <migration-id>', 'revert every applied migration from <migration-id> back to and including this one, newest first')
    .option('-w, --wait', 'wait for the outcome, printing progress; the exit code tells it')
    .option('--json', 'machine-readable output')
    .option('--requested-by <name>', 'who asks for it (default: $GODWIT_REQUESTED_BY, $GITHUB_ACTOR or $USER)')
    .option('--key <path>', 'sign the request with this SSH key (default: $GODWIT_SIGNING_KEY); required where the worker lists who may request'),
).action(async (migrationId: string, opts) => {
  const { revertCommand } = await import('./commands/revert');
  process.exitCode = await revertCommand(migrationId, opts);
});

temporalOptions(
  program
    .command('rehearse')
    .description('prove every rollback of the pending migrations on a scratch copy of the target: each migration failed after each of its steps, then applied (exit 0 proven, 2 not)')
    .argument('<path>', 'manifest file or directory')
    .requiredOption('-t, --target <alias>', 'the target to copy (only read; the scratch database goes beside it)')
    .option('--sample <rows>', 'rows per table to copy, plus the parents they reference (default 1000)')
    .option('--synthetic', 'generate rows from the schema instead of copying any (for data that may not leave production)')
    .option('--seed <seed>', 'with --synthetic: the seed a rehearsal printed, to make the same rows again')
    .option('--keep', 'keep the scratch database when done')
    .option('--json', 'machine-readable output')
    .option('--requested-by <name>', 'who asks for it (default: $GODWIT_REQUESTED_BY, $GITHUB_ACTOR or $USER)'),
).action(async (path: string, opts) => {
  const { rehearseCommand } = await import('./commands/rehearse');
  process.exitCode = await rehearseCommand(path, opts);
});

temporalOptions(
  program
    .command('status')
    .description('the latest run of each migration on a target, or with --fleet the latest release of a fleet')
    .option('-t, --target <alias>', 'target database alias')
    .option('--fleet <name>', 'the latest release of this fleet instead')
    .option('--json', 'machine-readable output'),
).action(async (opts) => {
  if (opts.fleet !== undefined) {
    if (opts.target !== undefined) throw new CliError('give --target or --fleet, not both');
    const { fleetStatusCommand } = await import('./commands/release');
    await fleetStatusCommand(opts);
    return;
  }
  const { statusCommand } = await import('./commands/status');
  await statusCommand(opts);
});

temporalOptions(
  program
    .command('verify')
    .description('report applied manifests whose file changed and schema drift since the last applied migration (exit 5 on either)')
    .argument('<path>', 'manifest file or directory')
    .requiredOption('-t, --target <alias>', 'target database alias')
    .option('--json', 'machine-readable output'),
).action(async (path: string, opts) => {
  const { verifyCommand } = await import('./commands/verify');
  process.exitCode = await verifyCommand(path, opts);
});

const audit = program.command('audit').description("the target's hash-chained audit log (godwit.audit_log)");
temporalOptions(
  audit
    .command('verify')
    .description('walk the hash chain and hold it against the heads Temporal recorded; name the first row that does not match (exit 6)')
    .requiredOption('-t, --target <alias>', 'target database alias')
    .option('--json', 'machine-readable output'),
).action(async (opts) => {
  const { auditVerifyCommand } = await import('./commands/audit');
  process.exitCode = await auditVerifyCommand(opts);
});

const snapshots = program.command('snapshots').description('snapshots of data that destructive steps destroyed, kept for rollback');
for (const [action, description] of [
  ['list', 'list the snapshots kept in godwit_snapshots'],
  ['prune', 'drop expired snapshots (never one a migration that can still roll back needs)'],
] as const) {
  temporalOptions(
    snapshots
      .command(action)
      .description(description)
      .requiredOption('-t, --target <alias>', 'target database alias')
      .option('--json', 'machine-readable output'),
  ).action(async (opts) => {
    const { snapshotsCommand } = await import('./commands/snapshots');
    await snapshotsCommand(action, opts);
  });
}

const operatorVerbs: [string, string][] = [
  ['approve', 'approve a migration waiting for approval, or dismiss a health probe that asks (on_unhealthy: ask); not by the requester'],
  ['reject', 'reject a migration waiting for approval'],
  ['rollback', 'ask a running migration to roll back (between steps, or during its bake window; confirms a health probe that asks)'],
  ['retry-rollback', 'retry the rollback of a migration waiting in rollback_failed'],
  ['resolve', 'close a migration waiting in rollback_failed after fixing the database by hand'],
];
for (const [verb, description] of operatorVerbs) {
  temporalOptions(
    program
      .command(verb)
      .description(description)
      .argument('<migration-id>', 'the manifest id')
      .requiredOption('-t, --target <alias>', 'target database alias')
      .option('--by <name>', 'who does it (default: $GODWIT_REQUESTED_BY, $GITHUB_ACTOR or $USER)')
      .option('--note <text>', 'a note for the audit log (required by resolve)')
      .option('--reason <text>', 'why (reject, rollback)')
      .option('--key <path>', 'sign with this SSH key: a private key file, or a public key held by your ssh-agent (default: $GODWIT_SIGNING_KEY)')
      .option('--revert', "act on the migration's revert run (found without it when the migration's own run is closed)"),
  ).action(async (migrationId: string, opts) => {
    const { operateCommand } = await import('./commands/operate');
    await operateCommand(verb as import('./commands/operate').OperatorAction, migrationId, opts);
  });
}

/** A number option, or `none` to lift the limit where that is allowed (commander keeps no null: tuneChange maps it). */
function numberOption(flag: string, allowNone: boolean) {
  return (value: string): number | 'none' => {
    if (allowNone && value === 'none') return 'none';
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n)) throw new CliError(`${flag} expects a number${allowNone ? " or 'none'" : ''}, got '${value}'`);
    return n;
  };
}

const pacingVerbs: [string, string][] = [
  ['tune', "change how fast a running migration's batched data steps go (backfill, online type change, restore); audited, in effect from the next batch"],
  ['pause', 'pause the batched data steps of a running migration after the current batch; durable across worker restarts; audited'],
  ['resume', 'resume a paused migration; audited'],
];
for (const [verb, description] of pacingVerbs) {
  const command = program
    .command(verb)
    .description(description)
    .argument('<migration-id>', 'the manifest id')
    .requiredOption('-t, --target <alias>', 'target database alias')
    .option('--by <name>', 'who does it (default: $GODWIT_REQUESTED_BY, $GITHUB_ACTOR or $USER)')
    .option('--key <path>', 'sign with this SSH key: a private key file, or a public key held by your ssh-agent (default: $GODWIT_SIGNING_KEY)');
  if (verb === 'tune') {
    command
      .option('--rate <rows>', "at most this many rows per second, or 'none'", numberOption('--rate', true))
      .option('--batch-ms <ms>', 'the batch duration the batch size is chosen for', numberOption('--batch-ms', false))
      .option('--pause-ms <ms>', 'a pause after every batch', numberOption('--pause-ms', false))
      .option('--yield <ratio>', 'while the application writes, pause this many times the batch duration after every batch (0: never)', numberOption('--yield', false))
      .option('--max-lag-ms <ms>', "wait while a standby replays more than this far behind, or 'none'", numberOption('--max-lag-ms', true))
      .option('--max-wal-mb-s <MB>', "wait while the server writes more WAL per second than this, or 'none'", numberOption('--max-wal-mb-s', true))
      .option('--lanes <n>', 'at most this many key ranges filled side by side (1: one at a time); the ranges are split at the first batch and stay', numberOption('--lanes', false));
  }
  temporalOptions(command).action(async (migrationId: string, opts) => {
    const { operateCommand } = await import('./commands/operate');
    const change = verb === 'tune' ? await tuneChange(opts) : undefined;
    await operateCommand(verb as import('./commands/operate').OperatorAction, migrationId, { ...opts, ...(change ? { change } : {}) });
  });
}

/** tune's options as a change to the pacing, checked like the manifest's policy.throttle. */
async function tuneChange(opts: Record<string, unknown>): Promise<import('../throttle/settings').ThrottleChange> {
  const { throttleSchema } = await import('../throttle/schema');
  const fields = { rate: opts.rate, batch_ms: opts.batchMs, pause_ms: opts.pauseMs, yield: opts.yield, max_lag_ms: opts.maxLagMs, max_wal_mb_s: opts.maxWalMbS, lanes: opts.lanes };
  const given = Object.fromEntries(Object.entries(fields).flatMap(([k, v]) => (v === undefined ? [] : [[k, v === 'none' ? null : v]])));
  if (Object.keys(given).length === 0) throw new CliError('tune needs at least one of --rate, --batch-ms, --pause-ms, --yield, --max-lag-ms, --max-wal-mb-s, --lanes');
  const parsed = throttleSchema.safeParse(given);
  if (!parsed.success) throw new CliError(`tune: ${parsed.error.issues.map((i) => `--${String(i.path[0]).replace(/_/g, '-')}: ${i.message}`).join('; ')}`);
  return parsed.data;
}

temporalOptions(
  program
    .command('unlock')
    .description("free a target whose lease holder's run no longer exists (terminated, or its history lost); audited")
    .requiredOption('-t, --target <alias>', 'target database alias')
    .option('--by <name>', 'who does it (default: $GODWIT_REQUESTED_BY, $GITHUB_ACTOR or $USER)')
    .option('--json', 'machine-readable output'),
).action(async (opts) => {
  const { unlockCommand } = await import('./commands/unlock');
  await unlockCommand(opts);
});

temporalOptions(
  program
    .command('alerts-receiver')
    .description("serve Alertmanager's webhook: each firing alert labelled godwit_target (and godwit_migration) rolls back the migration running there; bearer secret from $GODWIT_ALERTS_SECRET")
    .option('--listen <host:port>', 'where to listen (default 127.0.0.1:9095)')
    .option('--by <principal>', "who the rollbacks are by: listed under rollback in the worker's godwit.yaml (default alertmanager)")
    .option('--key <path>', "sign each rollback with this principal's SSH key (default: $GODWIT_SIGNING_KEY); required where the worker requires signed actions")
    .option('--secret-file <path>', 'read the shared secret from this file instead of $GODWIT_ALERTS_SECRET'),
).action(async (opts) => {
  const { alertsReceiverCommand } = await import('./commands/alerts');
  await alertsReceiverCommand(opts);
});

temporalOptions(
  program
    .command('worker')
    .description('run a worker: workflows and activities on the task queue')
    .addOption(new Option('--metrics <[host]:port>', "serve Prometheus metrics (Godwit's and the Temporal SDK's) at http://host:port/metrics, e.g. :9464").env('GODWIT_METRICS')),
).action(async (opts) => {
  const { runWorker } = await import('../../worker');
  await runWorker(opts);
});

program
  .command('dev')
  .description('run a local Temporal dev server on 127.0.0.1:7233 (Web UI on 8233), history kept under .godwit/')
  .action(async () => {
    const { runDevServer } = await import('../devserver');
    await runDevServer();
  });

program
  .command('demo')
  .description('the end-to-end demo: four migrations through Temporal, the last rolled back automatically')
  .option('--exit', 'stop everything when done instead of keeping the UI up')
  .action(async (opts: { exit?: boolean }) => {
    const { runDemo } = await import('../demo');
    await runDemo(opts);
  });

/** Prints an error as the user should see it and sets the exit code. */
function fail(err: unknown): void {
  const e = err as Error & { code?: unknown };
  const code = typeof e?.code === 'string' ? e.code : '';
  if (code === 'commander.helpDisplayed' || code === 'commander.version' || code === 'commander.help') {
    process.exitCode = 0;
    return;
  }
  if (code.startsWith('commander.')) {
    process.exitCode = ExitCode.error;
    return; // commander already printed it
  }
  // An error of ours is meant for the user as it is; anything else is a bug, shown with its stack.
  console.error(red('error: ') + (err instanceof GodwitError ? err.message : (e?.stack ?? String(err))));
  process.exitCode = err instanceof GodwitError ? err.exitCode : ExitCode.error;
}

export async function main(argv: string[] = process.argv): Promise<void> {
  try {
    await program.parseAsync(argv);
  } catch (err) {
    fail(err);
  }
}
