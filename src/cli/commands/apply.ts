import { userInfo } from 'node:os';
import type { Client } from '@temporalio/client';
import { loadManifests, type LoadedManifest } from '../../manifest';
import { MigrationFailedError } from '../../client/errors';
import { runUrl, temporalSettings, type TemporalSettings } from '../../config/temporal';
import { TARGET_ALIAS } from '../../config/targets';
import { canonicalRequest } from '../../auth/payload';
import { SigningError, sshSign } from '../../auth/ssh';
import { describeRestore, type FaultInjection, type MigrationProgress } from '../../contract/migration';
import { CliError, ExitCode } from '../exit-codes';
import { bold, dim, formatProgress, stateColor } from '../output';
import { DataProgressView } from '../progress';
import { savedQueries } from '../../client/links';

export interface ApplyOptions {
  target: string;
  wait?: boolean;
  json?: boolean;
  requestedBy?: string;
  /** Signs the request with this SSH key (a private key, or a public key the ssh-agent holds; default $GODWIT_SIGNING_KEY). */
  key?: string;
  address?: string;
  namespace?: string;
  taskQueue?: string;
  uiUrl?: string;
  faults?: FaultInjection;
}

export interface ApplyReport {
  migrationId: string;
  workflowId: string;
  runId: string;
  url: string;
  state: string;
  alreadyApplied: boolean;
  fingerprintBefore: string | null;
  fingerprintAfter: string | null;
  reason: string | null;
  rollback: MigrationProgress['rollback'];
}

export function defaultRequester(env: NodeJS.ProcessEnv = process.env): string {
  return env.GODWIT_REQUESTED_BY ?? env.GITHUB_ACTOR ?? env.GITLAB_USER_LOGIN ?? env.USER ?? userInfo().username;
}

const EXIT_BY_STATE: Record<string, ExitCode> = {
  applied: ExitCode.applied,
  rolled_back: ExitCode.rolledBack,
  rollback_failed: ExitCode.rollbackFailed,
  rejected: ExitCode.rejected,
  resolved_manually: ExitCode.rollbackFailed,
};

/**
 * `godwit apply`: each manifest runs as its own workflow, in id order; with a
 * directory it stops at the first that does not end applied. Returns the exit code.
 */
export async function applyCommand(path: string, given: Omit<ApplyOptions, 'target'> & { target?: string; fleet?: string; atomic?: boolean; childrenPerRun?: number }, out: (line: string) => void = console.log): Promise<ExitCode> {
  if (given.fleet !== undefined || given.atomic) {
    const { releaseCommand } = await import('./release');
    return releaseCommand(path, given, out);
  }
  const target = given.target;
  if (target === undefined) throw new CliError('apply needs --target <alias> (one database) or --fleet <name> (a fleet of godwit.yaml)');
  const opts: ApplyOptions = { ...given, target };
  if (!TARGET_ALIAS.test(opts.target)) {
    throw new CliError(`invalid target alias '${opts.target}': use letters, digits, '-', '_' or '.' (e.g. --target app-prod)`);
  }
  const manifests = await loadManifests(path);
  if (manifests.length === 0) throw new CliError(`no manifests found in ${path}: expected .yaml, .yml, .json or .sql files`);
  const settings = await temporalSettings(opts);
  // The SDK's client loads only now, when there is something to send it: a manifest that
  // does not load or validate fails without paying for it.
  const { connectClient } = await import('../../client/connect');
  const client = await connectClient(settings);
  const reports: ApplyReport[] = [];
  const wait = opts.wait || manifests.length > 1;
  const links = savedQueries(settings, opts.target);
  // The last line: the UI's list filtered to what needs a look (see src/client/links.ts).
  const linkLine = (code: ExitCode) => {
    if (!wait) return;
    const q = code === ExitCode.applied ? links.all : code === ExitCode.rolledBack ? links.rolledBack : code === ExitCode.rollbackFailed ? links.waiting : links.notApplied;
    out(dim(`${q.title} in the Temporal UI: ${q.url}`));
  };
  try {
    for (const loaded of manifests) {
      const { report, code } = await applyOne(client, settings, loaded, opts, wait, opts.json ? () => undefined : out);
      reports.push(report);
      if (code !== ExitCode.applied) {
        if (opts.json) out(JSON.stringify({ migrations: reports, links }, null, 2));
        else {
          if (manifests.length > 1) out(`stopped: ${loaded.manifest.id} ended ${report.state}; later manifests were not applied`);
          linkLine(code);
        }
        return code;
      }
    }
  } finally {
    await client.connection.close();
  }
  if (opts.json) out(JSON.stringify({ migrations: reports, links }, null, 2));
  else linkLine(ExitCode.applied);
  return ExitCode.applied;
}

/** The requester's signature over the request: this plan, on this target, asked for by them. */
async function signRequest(loaded: LoadedManifest, target: string, principal: string, key: string): Promise<string> {
  try {
    return await sshSign(canonicalRequest({ principal, target, migrationId: loaded.manifest.id, checksum: loaded.checksum }), key);
  } catch (err) {
    if (err instanceof SigningError) throw new CliError(`${err.message}; pass --key with an SSH private key file (or a public key whose private half your ssh-agent holds)`);
    throw err;
  }
}

async function applyOne(
  client: Client,
  settings: TemporalSettings,
  loaded: LoadedManifest,
  opts: ApplyOptions,
  wait: boolean,
  out: (line: string) => void,
): Promise<{ report: ApplyReport; code: ExitCode }> {
  const id = loaded.manifest.id;
  const requestedBy = opts.requestedBy ?? defaultRequester();
  const key = opts.key ?? process.env.GODWIT_SIGNING_KEY;
  const { startMigration, watchMigration } = await import('../../client/migrations');
  const handle = await startMigration(client, settings, {
    target: opts.target,
    loaded,
    requestedBy,
    ...(key ? { requestSignature: await signRequest(loaded, opts.target, requestedBy, key) } : {}),
    ...(opts.faults ? { faults: opts.faults } : {}),
  });
  const { workflowId, firstExecutionRunId: runId } = handle;
  const url = runUrl(settings, workflowId, runId);
  const base = { migrationId: id, workflowId, runId, url };
  out(`${bold(id)} → ${opts.target}: started ${url}`);
  if (!wait) {
    return { report: { ...base, state: 'planned', alreadyApplied: false, fingerprintBefore: null, fingerprintAfter: null, reason: null, rollback: null }, code: ExitCode.applied };
  }
  let outcome;
  // A running data step's rows, rate and ETA: a bar on a terminal, a line every 10 s in a log; none with --json.
  const view = opts.json ? null : new DataProgressView(out);
  try {
    outcome = await watchMigration(
      handle,
      (e) => {
        view?.clear();
        out(formatProgress(e));
        if (e.kind === 'transition' && e.to === 'awaiting_approval') {
          out(`  waiting for approval: \`godwit approve ${id} --target ${opts.target}\` (or reject), or in the UI: ${url}`);
        }
        if (e.kind === 'transition' && e.to === 'unhealthy') {
          out(`  a health probe fired (on_unhealthy: ask): confirm with \`godwit rollback ${id} --target ${opts.target}\`, or dismiss with \`godwit approve ${id} --target ${opts.target} --note "..."\` (${url})`);
        }
      },
      { settings, ...(view ? { onData: (d, step) => view.update(step, d) } : {}) },
    );
    view?.clear();
  } catch (err) {
    if (err instanceof MigrationFailedError) {
      const drift = err.type === 'ChecksumMismatchError';
      throw new CliError(`${id} was not applied: ${err.message}\n  run: ${url}`, drift ? ExitCode.drift : ExitCode.error);
    }
    throw err;
  }
  const p = outcome.kind === 'finished' ? outcome.result : outcome.progress;
  const alreadyApplied = outcome.kind === 'finished' && outcome.result.alreadyApplied;
  const report: ApplyReport = {
    ...base,
    state: p.state,
    alreadyApplied,
    fingerprintBefore: p.fingerprintBefore,
    fingerprintAfter: p.fingerprintAfter,
    reason: p.reason,
    rollback: p.rollback,
  };
  if (alreadyApplied) out(`${bold(id)} already applied with checksum ${loaded.checksum}: nothing to do`);
  else out(`${bold(id)} ${stateColor(p.state)}${p.reason && p.state !== 'applied' ? `: ${p.reason}` : ''}`);
  if (p.rollback) {
    out(`  schema fingerprint before: ${p.rollback.fingerprintBefore}`);
    out(`  schema fingerprint after:  ${p.rollback.fingerprintAfter} (${p.rollback.fingerprintAfter === p.rollback.fingerprintBefore ? 'equal' : 'DIFFERENT'})`);
    for (const r of p.rollback.restores ?? []) out(`  restore of ${r.source}: ${describeRestore(r)}`);
    for (const d of p.rollback.data ?? []) {
      out(`  data of ${d.table}: ${d.before.rows} rows, checksum ${d.before.checksum} before; ${d.after ? `${d.after.rows} rows, ${d.after.checksum}` : 'table missing'} after (${d.equal ? 'equal' : 'DIFFERENT'})`);
    }
    for (const d of p.rollback.differences) out(`    ${d}`);
  }
  if (p.state === 'rollback_failed') {
    out(`  a human is needed: fix the database, then \`godwit retry-rollback ${id} --target ${opts.target}\` or \`godwit resolve ${id} --target ${opts.target} --note "..."\` (${url})`);
  }
  return { report, code: EXIT_BY_STATE[p.state] ?? ExitCode.error };
}
