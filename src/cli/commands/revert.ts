import { runUrl, temporalSettings } from '../../config/temporal';
import { TARGET_ALIAS } from '../../config/targets';
import { canonicalRevertRequest } from '../../auth/payload';
import { SigningError, sshSign } from '../../auth/ssh';
import { MigrationFailedError } from '../../client/errors';
import { describeRestore } from '../../contract/migration';
import type { RevertProgress } from '../../contract/revert';
import { CliError, ExitCode } from '../exit-codes';
import { bold, stateColor } from '../output';
import { defaultRequester } from '../../library/requester';

export interface RevertOptions {
  target: string;
  to?: string;
  wait?: boolean;
  json?: boolean;
  requestedBy?: string;
  key?: string;
  address?: string;
  namespace?: string;
  taskQueue?: string;
}

/** Exit codes as for apply: 0 reverted (proven), 3 not proven (a human is needed), 4 rejected, 1 anything else (refused, failed to start). */
const EXIT_BY_STATE: Record<string, ExitCode> = {
  reverted: ExitCode.applied,
  revert_failed: ExitCode.rollbackFailed,
  revert_resolved_manually: ExitCode.rollbackFailed,
  revert_rejected: ExitCode.rejected,
};

/** Prints what changed since the last look: transitions, and steps as they are undone. */
function progressPrinter(out: (line: string) => void, id: string, target: string, url: string) {
  let transitions = 0;
  const steps = new Map<string, string>();
  return (p: RevertProgress) => {
    for (const t of p.transitions.slice(transitions)) {
      out(`${t.from} → ${stateColor(t.to)}${t.reason ? `: ${t.reason}` : ''}`);
      if (t.to === 'revert_awaiting_approval') {
        if (p.approvalReason) out(`  ${p.approvalReason}`);
        out(`  waiting for approval: \`godwit approve ${id} --target ${target}\` (or reject), or in the UI: ${url}`);
      }
    }
    transitions = p.transitions.length;
    for (const m of p.migrations) {
      for (const s of m.steps) {
        const key = `${m.migrationId}/${s.id}`;
        if (steps.get(key) === s.status || s.status === 'pending') continue;
        steps.set(key, s.status);
        out(`  ${m.migrationId}: undo ${s.index}. ${s.summary} ${s.status}${s.error ? `: ${s.error}` : ''}`);
      }
    }
  };
}

/**
 * `godwit revert <id>`: reverts an applied migration (with --to, the chain back to and including
 * that one, newest first) as its own workflow, from the plans the runs recorded. Returns the exit code.
 */
export async function revertCommand(migrationId: string, opts: RevertOptions, out: (line: string) => void = console.log): Promise<ExitCode> {
  if (!TARGET_ALIAS.test(opts.target)) throw new CliError(`invalid target alias '${opts.target}': use letters, digits, '-', '_' or '.' (e.g. --target app-prod)`);
  const settings = await temporalSettings(opts);
  const requestedBy = opts.requestedBy ?? defaultRequester();
  const key = opts.key ?? process.env.GODWIT_SIGNING_KEY;
  let requestSignature: string | undefined;
  if (key) {
    try {
      requestSignature = await sshSign(canonicalRevertRequest({ principal: requestedBy, target: opts.target, migrationId, to: opts.to ?? null }), key);
    } catch (err) {
      if (err instanceof SigningError) throw new CliError(`${err.message}; pass --key with an SSH private key file (or a public key whose private half your ssh-agent holds)`);
      throw err;
    }
  }
  const { connectClient } = await import('../../client/connect');
  const { startRevert, watchRevert } = await import('../../client/revert');
  const client = await connectClient(settings);
  try {
    const handle = await startRevert(client, settings, {
      target: opts.target,
      migrationId,
      ...(opts.to !== undefined ? { to: opts.to } : {}),
      requestedBy,
      ...(requestSignature !== undefined ? { requestSignature } : {}),
    });
    const url = runUrl(settings, handle.workflowId, handle.firstExecutionRunId);
    const say = opts.json ? () => undefined : out;
    say(`${bold(`revert ${migrationId}`)}${opts.to ? ` back to ${opts.to}` : ''} → ${opts.target}: started ${url}`);
    if (!opts.wait) {
      if (opts.json) out(JSON.stringify({ migrationId, workflowId: handle.workflowId, runId: handle.firstExecutionRunId, url, state: 'revert_planned' }, null, 2));
      return ExitCode.applied;
    }
    let outcome;
    try {
      outcome = await watchRevert(handle, progressPrinter(say, migrationId, opts.target, url));
    } catch (err) {
      if (err instanceof MigrationFailedError) throw new CliError(`revert of ${migrationId} was not started: ${err.message}\n  run: ${url}`, ExitCode.error);
      throw err;
    }
    const p = outcome.kind === 'finished' ? outcome.result : outcome.progress;
    if (opts.json) {
      out(JSON.stringify({ migrationId, to: p.to, workflowId: handle.workflowId, runId: handle.firstExecutionRunId, url, state: p.state, reason: p.reason, migrations: p.migrations, proofs: p.proofs }, null, 2));
    } else {
      out(`${bold(`revert ${migrationId}`)} ${stateColor(p.state)}${p.reason && p.state !== 'reverted' ? `: ${p.reason}` : ''}`);
      for (const proof of p.proofs) {
        out(`  ${proof.migrationId}: schema fingerprint ${proof.fingerprintAfter}, expected ${proof.fingerprintBefore} (${proof.equal ? 'equal' : 'DIFFERENT'}${proof.expected === 'fingerprint_before' ? ', as recorded before it ran' : ', as before it ran with later migrations kept'})`);
        for (const r of proof.restores ?? []) out(`    restore of ${r.source}: ${describeRestore(r)}`);
        for (const d of proof.differences) out(`    ${d}`);
      }
      if (p.state === 'revert_failed') {
        out(`  a human is needed: fix the database, then \`godwit retry-rollback ${migrationId} --target ${opts.target} --revert\` or \`godwit resolve ${migrationId} --target ${opts.target} --revert --note "..."\` (${url})`);
      }
    }
    return EXIT_BY_STATE[p.state] ?? ExitCode.error;
  } finally {
    await client.connection.close();
  }
}
