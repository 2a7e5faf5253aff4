/**
 * `fail_when` conditions and JSON field paths: pure, shared by the schema (which reports a
 * bad one with the fix) and the sampleProbe activity (which applies them).
 */
import { COMPARATORS, type Comparator, type Condition } from './types';
import { GodwitError } from '../errors';

const ORDERING: readonly Comparator[] = ['>', '<', '>=', '<='];

/** Thrown when a `fail_when` or a field path cannot be read. */
export class ConditionError extends GodwitError {
  override readonly name = 'ConditionError';
}

/**
 * `> 0.02`, `!= "ok"`, `== false`: an operator, then a number, true/false, or a string
 * (quoted, or a bare word). Ordering operators need a number.
 */
export function parseCondition(text: string): Condition {
  const m = /^\s*(>=|<=|==|!=|>|<)\s*(.+?)\s*$/.exec(text);
  if (!m) {
    throw new ConditionError(`expected a comparison like '> 0.02', '>= 500' or '!= "ok"' (an operator ${COMPARATORS.join(' ')} and a value), got ${JSON.stringify(text)}`);
  }
  const op = m[1] as Comparator;
  const raw = m[2]!;
  let threshold: number | string | boolean;
  if (/^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/.test(raw)) threshold = Number(raw);
  else if (raw === 'true' || raw === 'false') threshold = raw === 'true';
  else if (/^"(.*)"$|^'(.*)'$/.test(raw)) threshold = raw.slice(1, -1);
  else threshold = raw;
  if (ORDERING.includes(op) && typeof threshold !== 'number') {
    throw new ConditionError(`${op} compares numbers, but ${JSON.stringify(raw)} is not a number; use == or != for text and true/false`);
  }
  return { op, threshold };
}

function show(v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(v) : String(v);
}

export function describeCondition(c: Condition): string {
  return `${c.op} ${show(c.threshold)}`;
}

/**
 * Whether `value` meets the failing condition. Numbers compare as numbers (Postgres returns
 * numeric and bigint as text: they are read as numbers); a value of the wrong kind cannot be
 * evaluated, which is a failure too.
 */
export function meets(value: unknown, c: Condition): { fails: boolean; value: number | string | boolean } {
  if (typeof c.threshold === 'number') {
    const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
    if (!Number.isFinite(n)) throw new ConditionError(`the value ${show(value)} is not a number, and fail_when ${describeCondition(c)} compares numbers`);
    const t = c.threshold;
    const fails = c.op === '>' ? n > t : c.op === '<' ? n < t : c.op === '>=' ? n >= t : c.op === '<=' ? n <= t : c.op === '==' ? n === t : n !== t;
    return { fails, value: n };
  }
  if (typeof c.threshold === 'boolean') {
    const b = typeof value === 'boolean' ? value : value === 'true' || value === 't' ? true : value === 'false' || value === 'f' ? false : null;
    if (b === null) throw new ConditionError(`the value ${show(value)} is not true or false, and fail_when ${describeCondition(c)} compares booleans`);
    return { fails: c.op === '==' ? b === c.threshold : b !== c.threshold, value: b };
  }
  if (value === null || value === undefined || typeof value === 'object') throw new ConditionError(`the value ${show(value === undefined ? null : JSON.stringify(value))} is not text, and fail_when ${describeCondition(c)} compares text`);
  const s = String(value);
  return { fails: c.op === '==' ? s === c.threshold : s !== c.threshold, value: s };
}

/** `$.data.ratio`, `data.ratio`, `items[0].ok`, `$["a b"]` → path segments. */
export function parseFieldPath(path: string): (string | number)[] {
  let rest = path.trim().replace(/^\$/, '');
  const out: (string | number)[] = [];
  while (rest.length > 0) {
    let m: RegExpExecArray | null;
    if ((m = /^\.?([A-Za-z_][A-Za-z0-9_-]*)/.exec(rest))) out.push(m[1]!);
    else if ((m = /^\[(\d+)\]/.exec(rest))) out.push(Number(m[1]));
    else if ((m = /^\[(?:"([^"]*)"|'([^']*)')\]/.exec(rest))) out.push(m[1] ?? m[2]!);
    else throw new ConditionError(`cannot read the field path ${JSON.stringify(path)} at ${JSON.stringify(rest)}; write it like $.status, data.ratio or items[0].ok`);
    rest = rest.slice(m[0].length);
  }
  if (out.length === 0) throw new ConditionError(`the field path ${JSON.stringify(path)} names no field; write it like $.status or data.ratio`);
  return out;
}

/** The value at `path` in a parsed JSON body, or undefined. */
export function readField(body: unknown, path: (string | number)[]): unknown {
  let v: unknown = body;
  for (const key of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string | number, unknown>)[key];
  }
  return v;
}
