import { readFileSync } from 'node:fs';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Idle and total jiffies over all CPUs, from the first line of /proc/stat; null off Linux. */
function cpuTimes(): { idle: number; total: number } | null {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = fields;
    return { idle: idle + iowait, total: user + nice + system + idle + iowait + irq + softirq + steal };
  } catch {
    return null;
  }
}

/** Fraction of all CPUs busy over `windowMs`, or null when it cannot be read. */
export async function cpuBusy(windowMs = 500): Promise<number | null> {
  const a = cpuTimes();
  await sleep(windowMs);
  const b = cpuTimes();
  if (!a || !b || b.total <= a.total) return null;
  return 1 - (b.idle - a.idle) / (b.total - a.total);
}

/**
 * Waits, up to `maxWaitMs`, until other work on the machine leaves the CPUs mostly idle
 * (at most `maxBusy` of them busy over half a second), so that a round of the benchmark
 * starts on a quiet machine. Between rounds the bench itself is idle, so what it sees
 * busy is someone else. Returns how long it waited and how busy the machine was last.
 */
export async function waitForQuiet(maxBusy: number, maxWaitMs: number): Promise<{ waitedMs: number; busy: number | null; quiet: boolean }> {
  const t0 = performance.now();
  for (;;) {
    const busy = await cpuBusy();
    if (busy === null || busy <= maxBusy) return { waitedMs: performance.now() - t0, busy, quiet: true };
    if (performance.now() - t0 >= maxWaitMs) return { waitedMs: performance.now() - t0, busy, quiet: false };
    await sleep(500);
  }
}
