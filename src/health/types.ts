/**
 * Health probes of the bake window and the guarded automation around them (on_unhealthy,
 * max_duration). Plain data: probes cross the workflow boundary in prepareMigration's result
 * and in sampleProbe's input, samples come back in its result.
 */

export const COMPARATORS = ['>=', '<=', '==', '!=', '>', '<'] as const;
export type Comparator = (typeof COMPARATORS)[number];

/** A parsed `fail_when`: the sample fails when `value <op> threshold` holds. */
export interface Condition {
  op: Comparator;
  threshold: number | string | boolean;
}

interface ProbeCommon {
  name: string;
  /** Time between two samples, e.g. '10s'. */
  interval: string;
  /** How long one sample may take before it counts as a failure ("cannot evaluate: timed out"); absent: 5s, or the interval when shorter. */
  timeout?: string;
  /** Failed samples in a row before the probe fires. */
  consecutive: number;
  /** Samples the probe must have taken before it may fire (absent: `consecutive`). */
  min_samples?: number;
}

/** A query on the target; its first column of its first row is the value. */
export interface SqlProbe extends ProbeCommon {
  kind: 'sql';
  sql: string;
  fail_when: string;
}

/** A GET of a URL: the status, the latency, and optionally a JSON field of the body. */
export interface HttpProbe extends ProbeCommon {
  kind: 'http';
  url: string;
  /** The statuses that pass (absent: any 2xx). */
  expect_status?: number[];
  /** A response slower than this fails the sample. */
  max_latency?: string;
  /** Request headers whose values the worker reads from its environment: `{ Authorization: HEALTH_TOKEN }` (secrets stay out of history). */
  headers_env?: Record<string, string>;
  /** A path into the JSON body, `$.status` or `data.ratio` or `items[0].ok`; compared with fail_when. */
  field?: string;
  fail_when?: string;
}

/** A PromQL instant query through Prometheus's HTTP API (`/api/v1/query`); its single value is compared. */
export interface PrometheusProbe extends ProbeCommon {
  kind: 'prometheus';
  /** Prometheus's base URL, e.g. http://prometheus:9090. */
  url: string;
  query: string;
  fail_when: string;
  /** Request headers whose values the worker reads from its environment, e.g. `{ Authorization: PROMETHEUS_AUTH }`. */
  headers_env?: Record<string, string>;
  /** An empty result: `fail` (default: cannot evaluate) or `pass` (no series means no errors). */
  on_empty?: 'fail' | 'pass';
}

export type Probe = SqlProbe | HttpProbe | PrometheusProbe;
export type ProbeKind = Probe['kind'];

export type OnUnhealthy = 'rollback' | 'ask';

/** The health settings a manifest's policy may carry (all optional: absent keeps a manifest's checksum). */
export interface HealthPolicyFields {
  probes?: Probe[];
  on_unhealthy?: OnUnhealthy;
  /** With on_unhealthy: ask, how long the run waits for a person before it rolls back (default 1h). */
  ask_timeout?: string;
  /** From the first forward step: past it, the migration rolls back. */
  max_duration?: string;
}

export const DEFAULT_ASK_TIMEOUT = '1h';
export const DEFAULT_INTERVAL = '10s';
export const DEFAULT_TIMEOUT = '5s';
export const DEFAULT_CONSECUTIVE = 3;

/** Where a probe came from: the manifest or the worker's godwit.yaml (`policies.<key>`). */
export type ProbeSource = 'manifest' | `godwit.yaml policies.${string}`;

/**
 * The health policy in force for one run, combined by the worker from the manifest and
 * godwit.yaml (src/health/policy.ts), recorded in history through prepareMigration's result.
 */
export interface HealthPolicy {
  bake_seconds: number;
  probes: (Probe & { source: ProbeSource })[];
  on_unhealthy: OnUnhealthy;
  ask_timeout: string;
  max_duration: string | null;
  /** How the manifest and godwit.yaml were combined, one line each, for the audit log and status. */
  notes: string[];
}

/** sampleProbe's result: one evaluation. A probe that cannot be evaluated is a failed sample. */
export interface SampleResult {
  /** Wall-clock time the sample was taken, ISO 8601. */
  at: string;
  ok: boolean;
  /** The value compared (a number, string or boolean), or null when there was none. */
  value: number | string | boolean | null;
  /** Why it failed (`value 0.07 > 0.02`, `cannot evaluate: connect ECONNREFUSED ...`), or what passed. */
  detail: string;
  ms: number;
}

export interface ProbeSample extends SampleResult {
  /** 1-based sample number of this probe in this run. */
  n: number;
  /**
   * False when the sample was never taken because the worker running it was lost (the
   * activity itself failed): that says nothing about the target's health, so it neither
   * passes nor fails the probe.
   */
  counted: boolean;
}

/** What `godwit status`, the state query and the Temporal UI show of one probe. */
export interface ProbeProgress {
  name: string;
  kind: ProbeKind;
  source: ProbeSource;
  /** `fails when > 0.02`, `fails unless status 2xx`... */
  condition: string;
  interval: string;
  consecutive: number;
  min_samples: number;
  /** The last samples, oldest first (bounded: SAMPLES_KEPT). */
  samples: ProbeSample[];
  /** Samples counted so far (passed or failed). */
  taken: number;
  failedInARow: number;
  /** When it last fired, or null. */
  firedAt: string | null;
  firings: number;
}

export interface HealthProgress {
  onUnhealthy: OnUnhealthy;
  /** When the bake window ends (workflow time, ISO 8601), or null before it starts. */
  bakeEndsAt: string | null;
  /** When max_duration runs out, or null. */
  deadline: string | null;
  probes: ProbeProgress[];
  /** on_unhealthy: ask — the run waits for a person: which probe, since when, until when. */
  asking: { probe: string; since: string; until: string } | null;
  dismissals: { by: string; note: string | null; at: string }[];
  notes: string[];
}

/** The audit entry's detail when a probe fires: what a person needs to judge it. */
export interface ProbeEvidence {
  probe: string;
  kind: ProbeKind;
  source: ProbeSource;
  condition: string;
  consecutive: number;
  min_samples: number;
  /** Workflow time the probe fired, ISO 8601. */
  firedAt: string;
  /** Which firing of this probe in this run (1-based): the key that keeps the audit entry single. */
  firing: number;
  onUnhealthy: OnUnhealthy;
  samples: ProbeSample[];
}

export const SAMPLES_KEPT = 20;
