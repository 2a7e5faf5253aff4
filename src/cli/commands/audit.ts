import { connectClient, verifyAuditLog } from '../../client';
import { temporalSettings } from '../../config/temporal';
import type { AuditProblem, AuditProblemKind } from '../../db/audit-chain';
import { ExitCode } from '../exit-codes';
import { bold, dim, green, red, yellow } from '../output';

/** What each kind of problem means happened to the log. */
const WHAT_HAPPENED: Record<AuditProblemKind, string> = {
  updated: 'row updated',
  deleted: 'rows deleted',
  reordered: 'rows reordered or inserted',
  truncated: 'log truncated',
  rewritten: 'chain rewritten',
};

/** `row 7 (APPROVE, migration 2_add_email, 2025-05-01T09:12:03.120Z)` */
function describeRow(p: AuditProblem): string {
  const parts = [p.row.event, p.row.migrationId ? `migration ${p.row.migrationId}` : `workflow ${p.row.workflowId}`, p.row.at];
  return `row ${p.row.seq} (${parts.join(', ')})`;
}

/**
 * `godwit audit verify --target X`: exit 6 when the audit log's hash chain is broken or
 * shorter than Temporal recorded, 0 when it is intact.
 */
export async function auditVerifyCommand(
  opts: { target: string; json?: boolean; address?: string; namespace?: string; taskQueue?: string },
  out: (line: string) => void = console.log,
): Promise<ExitCode> {
  const settings = await temporalSettings(opts);
  const client = await connectClient(settings);
  try {
    const report = await verifyAuditLog(client, settings, opts.target);
    const code = report.intact ? ExitCode.applied : ExitCode.auditBroken;
    if (opts.json) {
      out(JSON.stringify(report, null, 2));
      return code;
    }
    const latest = report.latestRecorded;
    if (report.intact) {
      out(`${bold(`target ${opts.target}`)}: audit log ${green('intact')}, ${report.rows} row(s)${report.head ? `, chain ends at row ${report.head.seq} (${report.head.event}, ${report.head.at}) ${dim(report.head.hash)}` : ''}`);
      if (latest) {
        out(`  every row's hash and link checked; ${report.recordedHeads} head(s) recorded in Temporal found in it, the latest row ${latest.seq} (${latest.workflowId})`);
      } else if (report.rows > 0) {
        out(yellow('  no run recorded an audit head in Temporal for this target (runs from before Godwit kept them, or past the namespace\'s retention):'));
        out(yellow('  rows cut off the end of the log cannot be told from a shorter log'));
      }
      return code;
    }
    const [first, ...rest] = report.problems;
    out(`${bold(`target ${opts.target}`)}: audit log ${red('BROKEN')} at row ${first!.row.seq} (${report.rows} row(s) in the table)`);
    out(`  ${describeRow(first!)}`);
    out(`    ${red(WHAT_HAPPENED[first!.kind])}: ${first!.detail}`);
    if (rest.length > 0) {
      out(`  ${report.problemCount - 1} more row(s) do not match:`);
      for (const p of rest.slice(0, 20)) out(`    ${describeRow(p)}: ${WHAT_HAPPENED[p.kind]}`);
      if (report.problemCount > 21) out(dim(`    ... (--json lists the first ${report.problems.length})`));
    }
    out('  godwit.audit_log refuses UPDATE, DELETE and TRUNCATE: its owner or a superuser got past its triggers. Find out who; restore the table from a backup to keep a whole log');
    return code;
  } finally {
    await client.connection.close();
  }
}
