import type { WriteStream } from 'node:tty';
import { countByStatus, type ReleaseProgress, type ReleaseTarget, type ReleaseTargetStatus } from '../contract/release';
import { stateColor } from './output';

const BAR_WIDTH = 30;

/** Names in a summary line; the rest are counted. */
const MAX_NAMES = 20;

export function countsLine(p: ReleaseProgress): string {
  const c = countByStatus(p.targets);
  const parts = [`${c.applied} applied`, `${c.running} running`, `${c.rolling_back} rolling back`, `${c.rolled_back} rolled back`, `${c.pending} pending`];
  if (c.failed) parts.push(`${c.failed} failed`);
  if (c.needs_person) parts.push(`${c.needs_person} need a person`);
  if (c.not_started) parts.push(`${c.not_started} not started`);
  return `${p.targets.length} targets: ${parts.join(', ')}`;
}

/**
 * Shows a release's progress while `apply --wait` follows it: a line per target as it
 * changes state and per change of the release's own state; on a terminal also a bar (targets
 * done of all) redrawn in place below them, with Node's TTY cursor calls.
 */
export class ReleaseProgressView {
  private readonly seen = new Map<string, ReleaseTargetStatus>();
  private state: string | null = null;
  private shown = false;

  constructor(
    private readonly out: (line: string) => void,
    private readonly tty: WriteStream | null = process.stdout.isTTY ? (process.stdout as WriteStream) : null,
  ) {}

  update(p: ReleaseProgress): void {
    const lines: string[] = [];
    if (p.state !== this.state) {
      lines.push(`release ${this.state ? `${this.state} → ` : ''}${stateColor(p.state)}${p.reason && ['halted', 'rolling_back', 'rollback_failed', 'rolled_back'].includes(p.state) ? `: ${p.reason}` : ''}`);
      this.state = p.state;
    }
    for (const t of p.targets) {
      if (this.seen.get(t.target) === t.status) continue;
      const first = !this.seen.has(t.target);
      this.seen.set(t.target, t.status);
      if (first && t.status === 'pending') continue;
      lines.push(`  ${t.target}${t.canary ? ' (canary)' : ''}: ${stateColor(t.status)}${targetNote(t)}`);
    }
    if (lines.length > 0) {
      this.clear();
      for (const l of lines) this.out(l);
      if (!this.tty) this.out(`  ${countsLine(p)}`);
    }
    if (this.tty) this.drawBar(p);
  }

  private drawBar(p: ReleaseProgress): void {
    const c = countByStatus(p.targets);
    const done = p.targets.length - c.pending - c.running - c.rolling_back;
    const filled = p.targets.length === 0 ? 0 : Math.round((done / p.targets.length) * BAR_WIDTH);
    const line = `  [${'█'.repeat(filled)}${'░'.repeat(BAR_WIDTH - filled)}] ${countsLine(p)}`;
    this.tty!.cursorTo(0);
    this.tty!.clearLine(0);
    this.tty!.write(line.length > this.tty!.columns ? `${line.slice(0, Math.max(0, this.tty!.columns - 1))}…` : line);
    this.shown = true;
  }

  clear(): void {
    if (!this.tty || !this.shown) return;
    this.tty.cursorTo(0);
    this.tty.clearLine(0);
    this.shown = false;
  }
}

function targetNote(t: ReleaseTarget): string {
  if (t.status === 'applied') return t.applied.length ? ` (${t.applied.join(', ')})` : ' (already applied: nothing to do)';
  if (t.status === 'running' || t.status === 'pending' || t.status === 'not_started') return '';
  const proofs = t.proofs.map((p) => `${p.kind} of ${p.migrationId} ${p.equal ? 'proven' : 'NOT proven'}`).join(', ');
  return `${t.reason ? `: ${t.reason}` : ''}${proofs ? ` [${proofs}]` : ''}`;
}

const OUTCOME_LABEL: [ReleaseTargetStatus, string][] = [
  ['applied', 'applied'],
  ['rolled_back', 'rolled back'],
  ['failed', 'failed, nothing changed'],
  ['needs_person', 'need a person'],
  ['not_started', 'not started'],
  ['pending', 'pending'],
];

/** The end of a release: one line per outcome, naming its targets (a person's targets with what to do). */
export function finalLines(p: ReleaseProgress): string[] {
  const lines: string[] = [];
  for (const [status, label] of OUTCOME_LABEL) {
    const ts = p.targets.filter((t) => t.status === status);
    if (ts.length === 0) continue;
    const names = ts.slice(0, MAX_NAMES).map((t) => t.target).join(', ') + (ts.length > MAX_NAMES ? `, … ${ts.length - MAX_NAMES} more` : '');
    lines.push(`${label}: ${ts.length} (${names})`);
    if (status === 'needs_person') for (const t of ts) lines.push(`  ${t.target}: ${t.reason ?? 'see its run'}`);
  }
  return lines;
}
