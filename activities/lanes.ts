import type pg from 'pg';
import { quoteIdent } from '../src/db/ident';

/** A lane gets at least this many rows; a smaller table is filled in one range. */
export const MIN_ROWS_PER_LANE = 50_000;

/**
 * Where `lanes` ranges of about equal size split the table's key space: the keys at 1/n, 2/n...
 * of the table's estimated rows, read from the key's index (no table scan). A composite key
 * splits on whole key values, compared as rows (`(a, b) > ($1, $2)`), like the batches' own
 * ranges. Fewer when the table is small. Each split key is the inclusive end of one range and
 * the exclusive start of the next.
 */
export async function splitKeys(client: pg.ClientBase, table: string, key: readonly string[], rows: number | null, lanes: number): Promise<string[][]> {
  if (key.length === 0 || rows === null) return [];
  const n = Math.min(lanes, Math.floor(rows / MIN_ROWS_PER_LANE));
  const cols = key.map(quoteIdent);
  const splits: string[][] = [];
  for (let i = 1; i < n; i++) {
    const { rows: found } = await client.query<string[]>({
      text: `select ${cols.map((c) => `${c}::text`).join(', ')} from ${table} order by ${cols.join(', ')} offset ${Math.floor((rows * i) / n)} limit 1`,
      rowMode: 'array',
    });
    const at = found[0];
    // A table smaller than its estimate: the ranges found so far are all there are.
    if (at === undefined) break;
    splits.push(at);
  }
  return splits;
}

/**
 * Turns for a step's lanes: as many may hold one at a time as `capacity()` says when they ask
 * (all lanes while the database is idle, one while the step must go slower).
 */
export class Turns {
  private active = 0;
  private waiting: (() => void)[] = [];

  constructor(private readonly capacity: () => number) {}

  async take(): Promise<void> {
    while (this.active >= Math.max(1, this.capacity())) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.active++;
  }

  give(): void {
    this.active--;
    const waiting = this.waiting;
    this.waiting = [];
    for (const wake of waiting) wake();
  }
}
