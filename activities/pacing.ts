import type pg from 'pg';
import { canFlushStats, countWaiters, loadBetween, readPacing, type LoadReading } from '../src/db/throttle';
import { etaSeconds, Pacer, RateMeter, type LoadSignals } from '../src/throttle/pacer';
import { describeThrottle, resolveThrottle, type ThrottleChange, type ThrottleSettings } from '../src/throttle/settings';
import type { DataProgress, MigrationPolicy } from '../src/contract/migration';
import { heartbeatDetails } from './context';
import { recordBatch } from '../src/metrics/registry';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** How often a held step (paused, standby behind, WAL too fast) looks again. */
const HOLD_POLL_MS = 1_000;

/**
 * Backends publish their transaction counts about once a second, so the application's commit
 * rate is measured against a reading at least this old (and the newest such one).
 */
const LOAD_WINDOW_MS = 1_500;

/**
 * Paces one batched data step (a backfill, an online fill, a restore from a change log): the
 * size of each batch, the waits between them, and the progress its heartbeats carry, which
 * `godwit status` and the Temporal UI show. The settings are the manifest's throttle policy
 * with what `godwit tune`/`pause`/`resume` changed since, read again in every batch's own
 * transaction, so a change takes effect at the next batch and survives a worker restart.
 *
 * The loop calls `start` once, then per batch, in the batch's own transaction: `beginBatch`
 * first (false: something holds the step, so the batch does nothing and the loop calls
 * `whileHeld`), `endBatch` just before the commit; and `afterBatch` once it committed. A
 * pause therefore stops the loop at the next batch. Each batch must be one transaction: the
 * loop's own commits are left out of the application's rate by count.
 */
export class BatchPacing {
  private readonly pacer: Pacer;
  private readonly meter = new RateMeter();
  private settings: ThrottleSettings;
  /** Readings of the last few seconds, oldest first, each with this loop's commits up to it. */
  private readonly readings: { reading: LoadReading; own: number }[] = [];
  private own = 0;
  private signals: LoadSignals | null = null;
  private waiters = 0;
  private why: string[] = [];
  private held: string | null = null;
  private lastBatchMs = 0;
  private flush = false;

  constructor(
    private readonly client: pg.ClientBase,
    private readonly runId: string,
    private readonly policy: Pick<MigrationPolicy, 'throttle'>,
    private readonly phase: DataProgress['phase'],
    fixedSize: number | null,
    private rows: number,
    private estimated: number | null,
  ) {
    this.pacer = new Pacer(fixedSize);
    this.settings = resolveThrottle(policy.throttle);
  }

  /** Rows (or keys) for the next batch. */
  get size(): number {
    return this.pacer.size;
  }

  /** The rows (or keys) the step is expected to go through, once known. */
  estimate(n: number | null): void {
    this.estimated = n;
  }

  /** Before the first batch: the operators' settings (a migration paused before this step waits here). */
  async start(): Promise<void> {
    this.flush = await canFlushStats(this.client);
    await this.poll();
    await this.waitWhileHeld();
  }

  /**
   * First in the batch's transaction: the latest settings and load; false when the batch must
   * not run. `client`: the connection of the lane the batch runs on, when not the step's own.
   */
  async beginBatch(client: pg.ClientBase = this.client): Promise<boolean> {
    const read = await readPacing(client, this.runId, this.flush);
    this.take(read.change, read.reading, 1);
    this.held = this.pacer.hold(this.settings, this.signals);
    return this.held === null;
  }

  /** Last in the batch's transaction, just before it commits: who is waiting on its locks. */
  async endBatch(client: pg.ClientBase = this.client): Promise<void> {
    this.waiters = await countWaiters(client);
  }

  /** See Pacer.lockCapMs. */
  lockCapMs(): number | null {
    return this.pacer.lockCapMs(this.settings);
  }

  /** A batch was cancelled at lockCapMs: fewer rows next time. */
  cut(): void {
    this.pacer.cut();
    this.why = ['cut at the lock cap'];
  }

  /** Whether a step's lanes may run their batches side by side now (see Pacer.sideBySide). */
  sideBySide(): boolean {
    return this.pacer.sideBySide(this.settings, this.signals, this.waiters);
  }

  /** The lanes the settings ask for. */
  get lanes(): number {
    return this.settings.lanes;
  }

  /** After a batch committed: learns from it and waits as the settings and the database say. */
  async afterBatch(rows: number, ms: number): Promise<void> {
    this.rows += rows;
    this.lastBatchMs = Math.round(ms);
    this.meter.add(Date.now(), rows);
    recordBatch(this.phase, rows, this.meter.perSecond());
    const { pauseMs, why } = this.pacer.afterBatch({ rows, ms, waiters: this.waiters }, this.settings, this.signals);
    this.why = why;
    this.report();
    if (pauseMs > 0) await sleep(pauseMs);
  }

  /** After beginBatch said no: waits until nothing holds the step. */
  whileHeld(): Promise<void> {
    return this.waitWhileHeld();
  }


  progress(): DataProgress {
    const perSecond = this.meter.perSecond();
    return {
      phase: this.phase,
      rows: this.rows,
      estimated: this.estimated,
      perSecond: perSecond === null ? null : Math.round(perSecond),
      etaSeconds: etaSeconds(this.rows, this.estimated, perSecond),
      batchSize: this.pacer.size,
      lastBatchMs: this.lastBatchMs,
      slowedBy: this.why,
      held: this.held,
      throttle: describeThrottle(this.settings),
    };
  }

  private async waitWhileHeld(): Promise<void> {
    for (;;) {
      this.held = this.pacer.hold(this.settings, this.signals);
      this.report();
      if (this.held === null) return;
      await sleep(HOLD_POLL_MS);
      await this.poll();
    }
  }

  /** A reading outside any batch (its own transaction, counted as the loop's). */
  private async poll(): Promise<void> {
    const read = await readPacing(this.client, this.runId, this.flush);
    this.take(read.change, read.reading, 1);
  }

  private take(change: ThrottleChange | null, reading: LoadReading, commits: number): void {
    this.settings = resolveThrottle(this.policy.throttle, change);
    this.readings.push({ reading, own: this.own });
    this.own += commits;
    // The newest reading at least LOAD_WINDOW_MS old is the base; older ones are dropped.
    while (this.readings.length > 1 && reading.at - this.readings[1]!.reading.at >= LOAD_WINDOW_MS) this.readings.shift();
    const base = this.readings[0]!;
    if (reading.at - base.reading.at >= LOAD_WINDOW_MS) {
      // The reading's own transaction is not counted by it: the own commits before it are.
      this.signals = loadBetween(base.reading, reading, this.own - commits - base.own);
    }
  }

  private report(): void {
    heartbeatDetails({ data: this.progress() });
  }
}
