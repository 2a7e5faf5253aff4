import type { ProgressEvent } from '../client/watch';

const useColor = process.stdout.isTTY && !process.env.NO_COLOR;
const paint = (code: number) => (s: string) => (useColor ? `\u001b[${code}m${s}\u001b[0m` : s);
export const green = paint(32);
export const red = paint(31);
export const yellow = paint(33);
export const dim = paint(2);
export const bold = paint(1);

export function stateColor(state: string): string {
  if (state === 'applied' || state === 'rolled_back') return (state === 'applied' ? green : yellow)(state);
  if (state === 'rollback_failed' || state === 'rejected' || state === 'unhealthy') return red(state);
  return state;
}

export function formatProgress(e: ProgressEvent): string {
  if (e.kind === 'transition') {
    return `  ${dim(e.from)} → ${stateColor(e.to)} ${dim(`(${e.event})`)}${e.reason ? `: ${e.reason}` : ''}`;
  }
  const label = `step ${e.index}/${e.total} ${e.summary}`;
  const status = e.status === 'failed' ? red(e.status) : e.status === 'done' || e.status === 'compensated' ? green(e.status) : e.status;
  return `  ${label}: ${status}${e.error ? ` — ${e.error}` : ''}`;
}
