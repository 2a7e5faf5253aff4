import { loadManifests } from '../../manifest';
import { MigrationFailedError } from '../../client/errors';
import { runUrl, temporalSettings } from '../../config/temporal';
import { loadFleet, type ResolvedFleet } from '../../config/fleets';
import { TARGET_ALIAS } from '../../config/targets';
import { atomicReleaseId, fleetReleaseId, type ReleaseInput, type ReleaseProgress } from '../../contract/release';
import { CliError, ExitCode } from '../exit-codes';
import { bold, stateColor } from '../output';
import { finalLines, ReleaseProgressView } from '../release-progress';
import { defaultRequester } from '../../library/requester';
import type { ApplyOptions } from '../../library/apply';

export interface ReleaseOptions extends Omit<ApplyOptions, 'target' | 'onStarted' | 'onEvent' | 'onData' | 'onReport'> {
  json?: boolean;
  target?: string;
  fleet?: string;
  atomic?: boolean;
  /** Tests: continue as new after this many children. */
  childrenPerRun?: number;
}

/** Exit codes as for apply: 0 every target applied, 2 rolled back (or some targets failed and rolled back under the threshold), 3 a person is needed. */
const EXIT_BY_OUTCOME: Record<string, ExitCode> = {
  applied: ExitCode.applied,
  partially_applied: ExitCode.rolledBack,
  rolled_back: ExitCode.rolledBack,
  rollback_failed: ExitCode.rollbackFailed,
};

/**
 * `godwit apply <path> --fleet F` and `apply <dir> --target T --atomic`: one release workflow
 * whose children are the targets' migration runs (and, rolling back, their reverts).
 */
export async function releaseCommand(path: string, opts: ReleaseOptions, out: (line: string) => void = console.log): Promise<ExitCode> {
  if (opts.fleet !== undefined && opts.target !== undefined) throw new CliError('give --fleet or --target, not both');
  let fleet: ResolvedFleet;
  if (opts.fleet !== undefined) {
    fleet = loadFleet(opts.fleet);
  } else {
    if (opts.target === undefined) throw new CliError('--atomic needs --target <alias> (or use --fleet <name>)');
    if (!TARGET_ALIAS.test(opts.target)) throw new CliError(`invalid target alias '${opts.target}': use letters, digits, '-', '_' or '.' (e.g. --target app-prod)`);
    fleet = { name: '', targets: [opts.target], canaries: [], maxParallel: 1, failureThreshold: 1, thresholdText: '1' };
  }
  const manifests = await loadManifests(path);
  if (manifests.length === 0) throw new CliError(`no manifests found in ${path}: expected .yaml, .yml, .json or .sql files`);
  if (opts.key ?? process.env.GODWIT_SIGNING_KEY) {
    throw new CliError('signed requests (--key, $GODWIT_SIGNING_KEY) are not supported for releases yet: apply each target with `godwit apply --target <alias> --key ...`, or unset GODWIT_SIGNING_KEY');
  }
  const requestedBy = opts.requestedBy ?? defaultRequester();
  const settings = await temporalSettings(opts);
  const { connectClient } = await import('../../client/connect');
  const { releaseManifests, startRelease, watchRelease } = await import('../../client/release');
  const input: ReleaseInput = {
    fleet: opts.fleet ?? null,
    targets: fleet.targets,
    canaries: fleet.canaries,
    maxParallel: fleet.maxParallel,
    failureThreshold: fleet.failureThreshold,
    manifests: await releaseManifests(manifests, requestedBy),
    requestedBy,
    ...(opts.childrenPerRun !== undefined ? { childrenPerRun: opts.childrenPerRun } : {}),
  };
  const lastId = manifests.at(-1)!.manifest.id;
  const workflowId = opts.fleet !== undefined ? fleetReleaseId(opts.fleet, lastId) : atomicReleaseId(opts.target!, lastId);
  const client = await connectClient(settings);
  const say = opts.json ? () => undefined : out;
  try {
    const handle = await startRelease(client, settings, workflowId, input);
    const url = runUrl(settings, workflowId);
    const where = opts.fleet !== undefined ? `fleet ${opts.fleet} (${fleet.targets.length} targets${fleet.canaries.length ? `, canaries ${fleet.canaries.join(', ')}` : ''}, max_parallel ${fleet.maxParallel}, halts at ${fleet.failureThreshold} failure(s))` : `${opts.target} (all or nothing)`;
    say(`${bold(`release ${manifests.map((m) => m.manifest.id).join(', ')}`)} → ${where}: started ${url}`);
    if (!opts.wait) {
      if (opts.json) out(JSON.stringify({ workflowId, url, state: 'checking' }, null, 2));
      return ExitCode.applied;
    }
    const view = opts.json ? null : new ReleaseProgressView(out);
    let result: ReleaseProgress;
    try {
      result = await watchRelease(handle, (p) => view?.update(p));
    } catch (err) {
      view?.clear();
      if (err instanceof MigrationFailedError) throw new CliError(`release of ${lastId} was not started: ${err.message}\n  run: ${url}`, ExitCode.error);
      throw err;
    }
    view?.clear();
    if (opts.json) {
      out(JSON.stringify({ workflowId, url, ...result }, null, 2));
    } else {
      for (const l of finalLines(result)) out(l);
      out(`${bold('release')} ${stateColor(result.state)}${result.reason && result.state !== 'applied' ? `: ${result.reason}` : ''} (${url})`);
    }
    return EXIT_BY_OUTCOME[result.state] ?? ExitCode.error;
  } finally {
    await client.connection.close();
  }
}

/** `godwit status --fleet F`: the fleet's latest release. */
export async function fleetStatusCommand(opts: { fleet: string; json?: boolean; address?: string; namespace?: string; taskQueue?: string }, out: (line: string) => void = console.log): Promise<void> {
  const settings = await temporalSettings(opts);
  const { connectClient } = await import('../../client/connect');
  const { latestRelease } = await import('../../client/release');
  const client = await connectClient(settings);
  try {
    const r = await latestRelease(client, settings, opts.fleet);
    if (opts.json) {
      out(JSON.stringify({ fleet: opts.fleet, release: r }, null, 2));
      return;
    }
    if (r === null) {
      out(`fleet '${opts.fleet}' has had no release yet (start one with \`godwit apply <manifest> --fleet ${opts.fleet} --wait\`)`);
      return;
    }
    const { countsLine } = await import('../release-progress');
    out(bold(`fleet ${opts.fleet}`));
    out(`  release ${r.workflowId} (${r.status.toLowerCase()}, started ${r.startTime})`);
    if (r.failure) out(`  failed before it touched a target: ${r.failure}`);
    if (r.progress) {
      out(`  ${stateColor(r.progress.state)}${r.progress.reason ? `: ${r.progress.reason}` : ''}`);
      out(`  ${countsLine(r.progress)}`);
      for (const l of finalLines(r.progress)) out(`  ${l}`);
    }
    out(`  ${r.url}`);
  } finally {
    await client.connection.close();
  }
}
