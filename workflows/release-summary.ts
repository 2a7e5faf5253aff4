/** The release's summary table for the Temporal UI (setCurrentDetails): pure, replayed as is. */
import { countByStatus, type ReleaseProgress, type ReleaseTarget, type ReleaseTargetStatus } from '../src/contract/release';

/** Rows beyond this are counted, not listed: a detail is for reading, and big fleets have thousands. */
const MAX_ROWS = 60;

const ORDER: ReleaseTargetStatus[] = ['needs_person', 'rolling_back', 'running', 'failed', 'rolled_back', 'applied', 'pending', 'not_started'];

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

function proofText(t: ReleaseTarget): string {
  return t.proofs.map((p) => `${p.kind} of ${p.migrationId}: ${p.equal ? 'proven' : 'NOT proven'}`).join('; ');
}

export function describeRelease(p: ReleaseProgress): string {
  const c = countByStatus(p.targets);
  const what = p.migrationIds.length === 1 ? p.migrationIds[0] : `${p.migrationIds[0]} … ${p.migrationIds.at(-1)} (${p.migrationIds.length} manifests)`;
  const lines = [
    `**${p.state}** — ${what} on ${p.fleet ? `fleet \`${p.fleet}\`` : `\`${p.targets[0]?.target}\``}: ${p.targets.length} target(s), max_parallel ${p.maxParallel}, halts at ${p.failureThreshold} failure(s)${p.run > 1 ? `, run ${p.run}` : ''}`,
  ];
  if (p.reason) lines.push(`reason: ${p.reason}`);
  lines.push(
    '',
    '| applied | running | rolling back | rolled back | failed | needs a person | pending | not started |',
    '|---|---|---|---|---|---|---|---|',
    `| ${c.applied} | ${c.running} | ${c.rolling_back} | ${c.rolled_back} | ${c.failed} | ${c.needs_person} | ${c.pending} | ${c.not_started} |`,
    '',
    '| target | state | applied by this release | note |',
    '|---|---|---|---|',
  );
  const rows = [...p.targets].sort((a, b) => ORDER.indexOf(a.status) - ORDER.indexOf(b.status));
  for (const t of rows.slice(0, MAX_ROWS)) {
    const note = [t.reason, proofText(t)].filter(Boolean).join(' — ');
    lines.push(`| ${cell(t.target)}${t.canary ? ' (canary)' : ''} | ${t.status} | ${t.applied.join(', ')} | ${cell(note)} |`);
  }
  if (rows.length > MAX_ROWS) lines.push(`| … ${rows.length - MAX_ROWS} more | | | |`);
  return lines.join('\n');
}
