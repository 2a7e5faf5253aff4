import type { Client } from '@temporalio/client';
import { loadManifests, type LoadedManifest } from '../manifest';
import { MigrationFailedError } from '../client/errors';
import { savedQueries, type SavedQueries } from '../client/links';
import type { ProgressEvent } from '../client/watch';
import { runUrl, type TemporalSettings } from '../config/temporal';
import { TARGET_ALIAS } from '../config/targets';
import { canonicalRequest } from '../auth/payload';
import { SigningError, sshSign } from '../auth/ssh';
import type { DataProgress, FaultInjection, MigrationProgress } from '../contract/migration';
import { ExitCode } from '../errors';
import { NotAppliedError, RequestError, signingFailed } from './errors';
import { defaultRequester } from './requester';
import { withTemporal, type TemporalOptions } from './session';

export interface ApplyOptions extends TemporalOptions {
  target: string;
  /** Wait for each run's outcome (always, for more than one manifest: each waits for the one before). */
  wait?: boolean;
  /** Who asks (default: defaultRequester()). */
  requestedBy?: string;
  /** Sign the request with this SSH key (a private key, or a public key the ssh-agent holds; default $GODWIT_SIGNING_KEY). */
  key?: string;
  /** Tests and chaos runs only. */
  faults?: FaultInjection;
  /** Called as each run starts. */
  onStarted?: (run: RunLink) => void;
  /** Called with each line of a run's story while waiting: its transitions and steps. */
  onEvent?: (event: ProgressEvent, run: RunLink) => void;
  /** Called with a running data step's rows, rate and ETA while waiting. */
  onData?: (data: DataProgress, step: string) => void;
  /** Called as each run's report is final (before the next manifest starts). */
  onReport?: (report: ApplyReport, manifest: LoadedManifest) => void;
}

export interface RunLink {
  migrationId: string;
  workflowId: string;
  runId: string;
  /** The run's page in the Temporal Web UI. */
  url: string;
}

export interface ApplyReport extends RunLink {
  /** The state the run ended in (`planned` when not waited for). */
  state: string;
  alreadyApplied: boolean;
  fingerprintBefore: string | null;
  fingerprintAfter: string | null;
  reason: string | null;
  rollback: MigrationProgress['rollback'];
}

export interface ApplyResult {
  target: string;
  /** One report per manifest started, in id order; a directory stops at the first that does not end applied. */
  migrations: ApplyReport[];
  /** How many manifests were found at the path; more than `migrations` when one stopped the rest. */
  found: number;
  /** Whether the runs were waited for (`wait`, or more than one manifest). */
  waited: boolean;
  /** What `godwit apply` exits with: 0 applied, 2 rolled back, 3 a person is needed, 4 rejected. */
  exitCode: ExitCode;
  /** The Temporal UI's lists of this target's runs. */
  links: SavedQueries;
}

const EXIT_BY_STATE: Record<string, ExitCode> = {
  applied: ExitCode.applied,
  rolled_back: ExitCode.rolledBack,
  rollback_failed: ExitCode.rollbackFailed,
  rejected: ExitCode.rejected,
  resolved_manually: ExitCode.rollbackFailed,
};

/** The exit code of a run that ended in `state`. */
export function exitCodeOfState(state: string): ExitCode {
  return EXIT_BY_STATE[state] ?? ExitCode.error;
}

/**
 * Applies the manifests at `path` (a file or a directory) to a target, each as its own
 * workflow, in id order. Without `wait` a single manifest's run is only started; a directory
 * is always waited for and stops at the first manifest that does not end applied. Throws
 * NotAppliedError when a run fails before it changes anything (plan error, busy target,
 * changed manifest: exit code 5).
 */
export async function apply(path: string, opts: ApplyOptions): Promise<ApplyResult> {
  if (!TARGET_ALIAS.test(opts.target)) {
    throw new RequestError(`invalid target alias '${opts.target}': use letters, digits, '-', '_' or '.' (e.g. --target app-prod)`);
  }
  const manifests = await loadManifests(path);
  if (manifests.length === 0) throw new RequestError(`no manifests found in ${path}: expected .yaml, .yml, .json or .sql files`);
  const wait = opts.wait || manifests.length > 1;
  // The SDK's client loads only now, when there is something to send it: a manifest that
  // does not load or validate fails without paying for it.
  return withTemporal(opts, async (client, settings) => {
    const migrations: ApplyReport[] = [];
    const links = savedQueries(settings, opts.target);
    for (const loaded of manifests) {
      const report = await applyOne(client, settings, loaded, opts, wait);
      migrations.push(report);
      opts.onReport?.(report, loaded);
      const exitCode = wait ? exitCodeOfState(report.state) : ExitCode.applied;
      if (exitCode !== ExitCode.applied) return { target: opts.target, migrations, found: manifests.length, waited: wait, exitCode, links };
    }
    return { target: opts.target, migrations, found: manifests.length, waited: wait, exitCode: ExitCode.applied, links };
  });
}

/** The requester's signature over the request: this plan, on this target, asked for by them. */
async function signRequest(loaded: LoadedManifest, target: string, principal: string, key: string): Promise<string> {
  try {
    return await sshSign(canonicalRequest({ principal, target, migrationId: loaded.manifest.id, checksum: loaded.checksum }), key);
  } catch (err) {
    if (err instanceof SigningError) throw signingFailed(err);
    throw err;
  }
}

async function applyOne(client: Client, settings: TemporalSettings, loaded: LoadedManifest, opts: ApplyOptions, wait: boolean): Promise<ApplyReport> {
  const id = loaded.manifest.id;
  const requestedBy = opts.requestedBy ?? defaultRequester();
  const key = opts.key ?? process.env.GODWIT_SIGNING_KEY;
  const { startMigration, watchMigration } = await import('../client/migrations');
  const handle = await startMigration(client, settings, {
    target: opts.target,
    loaded,
    requestedBy,
    ...(key ? { requestSignature: await signRequest(loaded, opts.target, requestedBy, key) } : {}),
    ...(opts.faults ? { faults: opts.faults } : {}),
  });
  const { workflowId, firstExecutionRunId: runId } = handle;
  const run: RunLink = { migrationId: id, workflowId, runId, url: runUrl(settings, workflowId, runId) };
  opts.onStarted?.(run);
  if (!wait) return { ...run, state: 'planned', alreadyApplied: false, fingerprintBefore: null, fingerprintAfter: null, reason: null, rollback: null };
  let outcome;
  try {
    outcome = await watchMigration(handle, (e) => opts.onEvent?.(e, run), { settings, ...(opts.onData ? { onData: opts.onData } : {}) });
  } catch (err) {
    if (err instanceof MigrationFailedError) throw new NotAppliedError(id, err.type, err.message, run.url);
    throw err;
  }
  const p = outcome.kind === 'finished' ? outcome.result : outcome.progress;
  return {
    ...run,
    state: p.state,
    alreadyApplied: outcome.kind === 'finished' && outcome.result.alreadyApplied,
    fingerprintBefore: p.fingerprintBefore,
    fingerprintAfter: p.fingerprintAfter,
    reason: p.reason,
    rollback: p.rollback,
  };
}
