/**
 * The zod schemas of health probes and of the policy fields around them, used by the
 * manifest's `policy` and by godwit.yaml's `policies`. Errors name the field and the fix.
 */
import { z } from 'zod';
import { choice, fallbackError, friendly, strict, text } from '../operations/fields';
import { didYouMean } from '../operations/suggest';
import { durationMs } from '../manifest/types';
import { ConditionError, parseCondition, parseFieldPath } from './condition';
import { DEFAULT_CONSECUTIVE, DEFAULT_INTERVAL, type Probe } from './types';

/** A duration like '5s', '500ms', '2min', '1h' (or a whole number of milliseconds), kept as text. */
export const healthDuration = (what: string, minMs = 0) =>
  z
    .union([z.number(), z.string()], { error: friendly("a duration like '5s' or a number of milliseconds", what) })
    .transform((v, ctx): string => {
      // '30m' reads as minutes, as people write it; Postgres's own spelling is '30min'.
      const value = typeof v === 'number' && Number.isInteger(v) && v >= 0 ? `${v}ms` : typeof v === 'string' ? v.replace(/\s+/g, '').replace(/^(\d+(?:\.\d+)?)m$/, '$1min') : '';
      const ms = durationMs(value);
      if (ms === null || value === '') {
        ctx.addIssue({ code: 'custom', message: `expected a duration like '5s', '500ms', '2min' or '1h' (${what}), got ${JSON.stringify(v)}`, input: v });
        return z.NEVER;
      }
      if (ms < minMs) {
        ctx.addIssue({ code: 'custom', message: `expected at least ${minMs} ms (${what}), got ${JSON.stringify(v)}`, input: v });
        return z.NEVER;
      }
      return value;
    });

const condition = (what: string) =>
  z.string({ error: friendly("a comparison like '> 0.02'", what) }).check((ctx) => {
    try {
      parseCondition(ctx.value);
    } catch (err) {
      if (!(err instanceof ConditionError)) throw err;
      ctx.issues.push({ code: 'custom', message: err.message, input: ctx.value });
    }
  });

const httpUrl = (what: string) =>
  z.string({ error: friendly('a URL', what) }).check((ctx) => {
    let url: URL | null = null;
    try {
      url = new URL(ctx.value);
    } catch {
      // reported below
    }
    if (url === null || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
      ctx.issues.push({ code: 'custom', message: `expected an http:// or https:// URL (${what}), got ${JSON.stringify(ctx.value)}`, input: ctx.value });
    }
  });

/** Header name → the name of the worker's environment variable holding its value (never the value: it would be in history). */
const headersEnv = z
  .record(
    z.string().regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, { error: 'expected an HTTP header name, e.g. Authorization' }),
    z.string({ error: friendly('an environment variable name', "the worker's variable holding the header's value") }).regex(/^[A-Za-z_][A-Za-z0-9_]*$/, {
      error: "expected the name of an environment variable on the worker (letters, digits, _), e.g. HEALTH_TOKEN, never the secret itself",
    }),
    { error: friendly('a mapping of header names to environment variable names', "e.g. { Authorization: HEALTH_TOKEN }; the worker reads the values") },
  )
  .optional();

const count = (what: string) =>
  z.number({ error: friendly('a whole number', what) }).int({ error: `expected a whole number (${what})` }).min(1, { error: `expected 1 or more (${what})` });

const common = {
  name: text('the probe\'s name, shown in status, the audit log and the rollback reason'),
  interval: healthDuration('time between two samples', 100).default(DEFAULT_INTERVAL),
  timeout: healthDuration('how long one sample may take; slower counts as a failed sample (default 5s, or the interval when shorter)', 100).optional(),
  consecutive: count('failed samples in a row before the probe fires').default(DEFAULT_CONSECUTIVE),
  min_samples: count('samples taken before the probe may fire at all (default: consecutive)').optional(),
};

const KINDS = ['sql', 'http', 'prometheus'] as const;

const kindSchemas = {
  sql: strict(
    { kind: z.literal('sql'), ...common, sql: text('a query on the target returning one value, e.g. select count(*) from orders where status = \'failed\''), fail_when: condition('when a sample fails, e.g. "> 10"') },
    'an sql probe: { name, kind: sql, sql, fail_when, interval, timeout, consecutive, min_samples }',
  ),
  http: strict(
    {
      kind: z.literal('http'),
      ...common,
      url: httpUrl('the URL to GET'),
      expect_status: z
        .union([z.number().int(), z.array(z.number().int()).min(1)], { error: friendly('a status code or a list of them', 'the statuses that pass; default any 2xx') })
        .transform((v) => (Array.isArray(v) ? v : [v]))
        .optional(),
      max_latency: healthDuration('a response slower than this fails the sample').optional(),
      headers_env: headersEnv,
      field: z
        .string({ error: friendly('a field path', 'a field of the JSON body, e.g. $.status or data.ratio') })
        .check((ctx) => {
          try {
            parseFieldPath(ctx.value);
          } catch (err) {
            if (!(err instanceof ConditionError)) throw err;
            ctx.issues.push({ code: 'custom', message: err.message, input: ctx.value });
          }
        })
        .optional(),
      fail_when: condition('with field: when a sample fails, e.g. "!= ok" or "> 0.02"').optional(),
    },
    'an http probe: { name, kind: http, url, expect_status, max_latency, headers_env, field, fail_when, interval, timeout, consecutive, min_samples }',
  ),
  prometheus: strict(
    {
      kind: z.literal('prometheus'),
      ...common,
      url: httpUrl("Prometheus's base URL, e.g. http://prometheus:9090"),
      query: text('a PromQL instant query returning one series or a scalar, e.g. sum(rate(http_requests_total{code=~"5.."}[1m])) / sum(rate(http_requests_total[1m]))'),
      fail_when: condition('when a sample fails, e.g. "> 0.02"'),
      headers_env: headersEnv,
      on_empty: choice(['fail', 'pass'] as const, 'what an empty result means: fail (cannot evaluate; default) or pass (no series, nothing wrong)').optional(),
    },
    'a prometheus probe: { name, kind: prometheus, url, query, fail_when, on_empty, headers_env, interval, timeout, consecutive, min_samples }',
  ),
};

function isMapping(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const PROBE_EXAMPLE = "e.g. { name: errors, kind: sql, sql: 'select count(*) from errors', fail_when: '> 0' }";

/**
 * One probe, dispatched by hand on `kind` (as the manifest does with operation kinds), so a
 * typo reads "unknown probe kind 'promethus' (did you mean prometheus?)" and the errors
 * inside keep their precise paths.
 */
export const probeSchema = z.unknown().transform((value, ctx): Probe => {
  if (!isMapping(value)) {
    ctx.addIssue({ code: 'custom', message: `expected a probe: a mapping with a name and a kind (${PROBE_EXAMPLE})`, input: value });
    return z.NEVER;
  }
  const kind = value.kind;
  if (typeof kind !== 'string' || !(KINDS as readonly string[]).includes(kind)) {
    const got = kind === undefined ? 'no kind' : `kind ${JSON.stringify(kind)}`;
    ctx.addIssue({ code: 'custom', path: ['kind'], message: `unknown probe ${got}${typeof kind === 'string' ? didYouMean(kind, KINDS) : ''}; a probe's kind is one of ${KINDS.join(', ')}`, input: kind });
    return z.NEVER;
  }
  const parsed = kindSchemas[kind as (typeof KINDS)[number]].safeParse(value, { error: fallbackError });
  if (!parsed.success) {
    for (const issue of parsed.error.issues) ctx.addIssue({ ...issue } as Parameters<typeof ctx.addIssue>[0]);
    return z.NEVER;
  }
  const probe = parsed.data as Probe;
  if (probe.kind === 'http' && (probe.field === undefined) !== (probe.fail_when === undefined)) {
    ctx.addIssue({
      code: 'custom',
      path: [probe.field === undefined ? 'field' : 'fail_when'],
      message: probe.field === undefined ? 'fail_when of an http probe compares a field of the JSON body: add field, e.g. field: $.status' : "field needs fail_when, the comparison that fails a sample, e.g. fail_when: '!= ok'",
      input: value,
    });
    return z.NEVER;
  }
  if (probe.timeout !== undefined && durationMs(probe.timeout)! > durationMs(probe.interval)!) {
    ctx.addIssue({ code: 'custom', path: ['timeout'], message: `timeout ${probe.timeout} is longer than interval ${probe.interval}: a sample must end before the next is due; shorten timeout or lengthen interval`, input: value });
    return z.NEVER;
  }
  return probe;
});

/** Seconds of bake a probe needs to take its min_samples samples. */
export function bakeNeeded(probe: Pick<Probe, 'interval' | 'consecutive' | 'min_samples'>): number {
  return Math.ceil(((probe.min_samples ?? probe.consecutive) * durationMs(probe.interval)!) / 1000);
}

/** The health fields of a policy (manifest `policy` or godwit.yaml `policies.<key>`); no defaults, so a manifest's checksum does not change. */
export const healthPolicyShape = {
  probes: z.array(probeSchema, { error: friendly('a list of probes', `the health probes run during the bake window (${PROBE_EXAMPLE})`) }).optional(),
  on_unhealthy: choice(['rollback', 'ask'] as const, 'what a firing probe does: rollback at once (default), or ask a person and wait').optional(),
  ask_timeout: healthDuration("with on_unhealthy: ask, how long the run waits for a person before it rolls back, e.g. '30m' (default 1h)", 1000).optional(),
  max_duration: healthDuration("from the first step: past it, the migration rolls back, e.g. '2h'", 1000).optional(),
};

type IssueSink = { addIssue(issue: { code: 'custom'; message: string; path: PropertyKey[]; input?: unknown }): void };

/** What both policy places check: unique probe names, and a bake long enough for each probe's min_samples. */
export function checkHealthPolicy(policy: { probes?: Probe[] | undefined; bake_seconds?: number | undefined }, ctx: IssueSink, bakeField: string): void {
  const probes = policy.probes ?? [];
  const seen = new Set<string>();
  probes.forEach((p, i) => {
    if (seen.has(p.name)) ctx.addIssue({ code: 'custom', path: ['probes', i, 'name'], message: `a second probe named '${p.name}': probe names must be unique (they name the probe in the audit log)` });
    seen.add(p.name);
  });
  if (probes.length === 0) return;
  const needed = Math.max(...probes.map(bakeNeeded));
  const bake = policy.bake_seconds ?? 0;
  if (bake < needed) {
    const which = probes.find((p) => bakeNeeded(p) === needed)!;
    ctx.addIssue({
      code: 'custom',
      path: ['bake_seconds'],
      message:
        `probes run during the bake window, and probe '${which.name}' needs ${needed}s for its ${which.min_samples ?? which.consecutive} samples every ${which.interval}; ` +
        `${bake === 0 ? 'there is none' : `${bakeField} is ${bake}`}: set ${bakeField} to at least ${needed}, or lower min_samples or interval`,
      input: bake,
    });
  }
}
