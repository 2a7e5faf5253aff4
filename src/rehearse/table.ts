import type { RehearsalReport, RehearsalRow } from '../contract/rehearse';

// The rehearsal's table, for the terminal and for the Temporal UI (pure: workflow code uses it).

const OUTCOME_TEXT: Record<RehearsalRow['outcome'], string> = {
  proven: 'proven',
  not_proven: 'NOT PROVEN',
  applied: 'applied',
  not_applied: 'NOT APPLIED',
  failed: 'FAILED',
  fault_missed: 'FAULT MISSED',
};

export function outcomeText(outcome: RehearsalRow['outcome']): string {
  return OUTCOME_TEXT[outcome];
}

export function isFinding(row: RehearsalRow): boolean {
  return row.outcome !== 'proven' && row.outcome !== 'applied';
}

export function formatMs(ms: number | null): string {
  if (ms === null) return '-';
  return ms < 10_000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

function stepText(row: RehearsalRow): string {
  return row.afterStep === null ? 'apply' : `fail after ${row.afterStep}`;
}

/** Columns: migration, step, forward, rollback, proof, what differed. */
export function rehearsalTableRows(rows: readonly RehearsalRow[]): string[][] {
  return rows.map((r) => [r.migrationId, `${stepText(r)}: ${r.summary}`, formatMs(r.forwardMs), formatMs(r.rollbackMs), outcomeText(r.outcome), r.differences.slice(0, 3).join('; ') + (r.differences.length > 3 ? `; (${r.differences.length - 3} more)` : '')]);
}

export const TABLE_HEADER = ['migration', 'step', 'forward', 'rollback', 'proof', 'what differed'];

/** A plain-text table with padded columns (the last one is not padded). */
export function textTable(header: readonly string[], rows: readonly string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)];
}

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** The workflow's details in the Temporal UI: a markdown table. */
export function rehearsalDetails(report: RehearsalReport): string {
  const copy = report.data.kind === 'sample' ? `a sample of ${report.data.rows} rows per table` : `${report.data.rows} synthetic rows per table (seed ${report.data.seed})`;
  const lines = [
    `**${report.status}** — rehearsal \`${report.rehearsalId}\` of \`${report.target}\` on ${report.database ? `\`${report.database}\`` : 'a scratch database'}, ${copy}`,
  ];
  if (report.applied.length > 0) lines.push(`already applied to the target, not rehearsed: ${report.applied.join(', ')}`);
  for (const c of report.changed) lines.push(`changed since applied: ${c.id} (recorded ${c.recorded}, file ${c.current})`);
  for (const n of report.notes) lines.push(`note: ${n}`);
  if (report.rows.length > 0) {
    lines.push('', `| ${TABLE_HEADER.join(' | ')} |`, `|${TABLE_HEADER.map(() => '---').join('|')}|`);
    for (const r of rehearsalTableRows(report.rows)) lines.push(`| ${r.map(cell).join(' | ')} |`);
  }
  if (report.notRun.length > 0) lines.push('', `not rehearsed (an earlier migration left the copy in an unknown state): ${report.notRun.join(', ')}`);
  return lines.join('\n');
}
