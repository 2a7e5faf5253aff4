import { checkFence } from '../src/db/lease';
import { appendAudit } from '../src/db/audit';
import { redact } from '../src/config/targets';
import { durationMs } from '../src/manifest/types';
import { ConditionError, meets, parseCondition, parseFieldPath, readField } from '../src/health/condition';
import { sampleTimeoutMs } from '../src/health/tracker';
import type { HttpProbe, Probe, PrometheusProbe, SampleResult, SqlProbe } from '../src/health/types';
import type { ProbeFiringInput, SampleProbeInput } from '../src/contract/migration';
import type { AuditHeadResult } from '../src/contract/migration';
import { type ActivityDeps, inTransaction, withTarget } from './context';
import { recordTransitions } from './ledger';

/** A sample that could not be taken or read: a failed sample, said as such, never a pass. */
class CannotEvaluate extends Error {}

function errorText(err: unknown): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return 'timed out';
  // fetch says "fetch failed" and keeps the reason (ECONNREFUSED...) in its cause
  const cause = e?.cause?.code ?? e?.cause?.message;
  return redact(`${e?.message ?? String(err)}${cause && !String(e?.message).includes(cause) ? ` (${cause})` : ''}`);
}

function compare(value: unknown, failWhen: string): { ok: boolean; value: number | string | boolean; detail: string } {
  const c = parseCondition(failWhen);
  try {
    const r = meets(value, c);
    const shown = typeof r.value === 'string' ? JSON.stringify(r.value) : String(r.value);
    return { ok: !r.fails, value: r.value, detail: `${shown} ${r.fails ? '' : 'not '}${failWhen.trim()}` };
  } catch (err) {
    if (err instanceof ConditionError) throw new CannotEvaluate(err.message);
    throw err;
  }
}

async function sampleSql(deps: ActivityDeps, target: string, probe: SqlProbe, timeoutMs: number): Promise<Omit<SampleResult, 'at' | 'ms'>> {
  let client;
  try {
    client = await deps.pools.connect(target);
  } catch (err) {
    throw new CannotEvaluate(errorText(err));
  }
  let broken = false;
  try {
    await client.query('begin read only');
    await client.query(`select set_config('statement_timeout', $1, true)`, [`${Math.ceil(timeoutMs)}ms`]);
    const { rows, fields } = await client.query(probe.sql);
    const first = fields[0];
    if (!first || rows.length === 0) throw new CannotEvaluate('the query returned no rows; it must return one value');
    return compare(rows[0][first.name], probe.fail_when);
  } catch (err) {
    if (err instanceof CannotEvaluate) throw err;
    broken = (err as { code?: string }).code === undefined;
    const code = (err as { code?: string }).code === '57014' ? 'timed out (statement_timeout)' : errorText(err);
    throw new CannotEvaluate(code);
  } finally {
    await client.query('rollback').catch(() => (broken = true));
    client.release(broken);
  }
}

/** The probe's headers, their values from the worker's environment: a missing one is a sample that cannot be evaluated. */
function headersOf(probe: HttpProbe | PrometheusProbe): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, variable] of Object.entries(probe.headers_env ?? {})) {
    const value = process.env[variable];
    if (value === undefined) throw new CannotEvaluate(`header ${name} reads ${variable}, which is not set in the worker's environment; set it and restart the worker`);
    headers[name] = value;
  }
  return headers;
}

async function sampleHttp(probe: HttpProbe, timeoutMs: number): Promise<Omit<SampleResult, 'at' | 'ms'>> {
  const headers = headersOf(probe);
  const started = performance.now();
  let res: Response;
  let body: string;
  try {
    res = await fetch(probe.url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'follow', headers });
    body = await res.text();
  } catch (err) {
    throw new CannotEvaluate(`GET ${probe.url}: ${errorText(err)}`);
  }
  const ms = performance.now() - started;
  const statusOk = probe.expect_status ? probe.expect_status.includes(res.status) : res.status >= 200 && res.status < 300;
  if (!statusOk) return { ok: false, value: res.status, detail: `status ${res.status}, expected ${probe.expect_status?.join(' or ') ?? '2xx'}` };
  const maxLatency = probe.max_latency === undefined ? null : durationMs(probe.max_latency)!;
  if (maxLatency !== null && ms > maxLatency) return { ok: false, value: Math.round(ms), detail: `took ${Math.round(ms)} ms, more than max_latency ${probe.max_latency}` };
  if (probe.field === undefined || probe.fail_when === undefined) return { ok: true, value: res.status, detail: `status ${res.status} in ${Math.round(ms)} ms` };
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    throw new CannotEvaluate(`the body of ${probe.url} is not JSON, so field ${probe.field} cannot be read`);
  }
  const value = readField(json, parseFieldPath(probe.field));
  if (value === undefined) throw new CannotEvaluate(`the body of ${probe.url} has no field ${probe.field}`);
  const r = compare(value, probe.fail_when);
  return { ...r, detail: `${probe.field} = ${r.detail}` };
}

interface PromResponse {
  status?: string;
  error?: string;
  data?: { resultType?: string; result?: unknown };
}

async function samplePrometheus(probe: PrometheusProbe, timeoutMs: number): Promise<Omit<SampleResult, 'at' | 'ms'>> {
  const url = new URL('api/v1/query', probe.url.endsWith('/') ? probe.url : `${probe.url}/`);
  url.searchParams.set('query', probe.query);
  url.searchParams.set('timeout', `${Math.max(1, Math.floor(timeoutMs / 1000))}s`);
  const headers = headersOf(probe);
  let res: Response;
  let parsed: PromResponse;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), headers });
    parsed = (await res.json()) as PromResponse;
  } catch (err) {
    throw new CannotEvaluate(`Prometheus at ${probe.url}: ${errorText(err)}`);
  }
  if (parsed.status !== 'success') throw new CannotEvaluate(`Prometheus refused the query (HTTP ${res.status}): ${parsed.error ?? 'no error given'}`);
  const { resultType, result } = parsed.data ?? {};
  let raw: unknown;
  if (resultType === 'scalar' || resultType === 'string') raw = (result as [number, string])[1];
  else if (resultType === 'vector') {
    const series = result as { metric: Record<string, string>; value: [number, string] }[];
    if (series.length === 0) {
      if (probe.on_empty === 'pass') return { ok: true, value: null, detail: 'empty result (on_empty: pass)' };
      throw new CannotEvaluate('the query returned no series (empty result); check the query, or set on_empty: pass if no series means healthy');
    }
    if (series.length > 1) throw new CannotEvaluate(`the query returned ${series.length} series, not one; aggregate it (sum, max...) to a single value`);
    raw = series[0]!.value[1];
  } else {
    throw new CannotEvaluate(`the query returned a ${resultType ?? 'missing'} result; an instant query must return one series or a scalar`);
  }
  // Prometheus writes NaN for 0/0 (a ratio with no traffic): that is no value to compare.
  if (raw === 'NaN') throw new CannotEvaluate('the query returned NaN (a ratio over no samples?)');
  return compare(raw, probe.fail_when);
}

/** One evaluation of one probe. Everything that goes wrong is a failed sample, with the reason. */
export async function evaluateProbe(deps: ActivityDeps, target: string, probe: Probe): Promise<SampleResult> {
  const at = new Date().toISOString();
  const started = performance.now();
  const timeoutMs = sampleTimeoutMs(probe);
  try {
    const r =
      probe.kind === 'sql' ? await sampleSql(deps, target, probe, timeoutMs) : probe.kind === 'http' ? await sampleHttp(probe, timeoutMs) : await samplePrometheus(probe, timeoutMs);
    return { at, ms: Math.round(performance.now() - started), ...r };
  } catch (err) {
    const why = err instanceof CannotEvaluate ? err.message : errorText(err);
    return { at, ms: Math.round(performance.now() - started), ok: false, value: null, detail: `cannot evaluate: ${why}` };
  }
}

export function makeProbes(deps: ActivityDeps) {
  return {
    /** One sample of a health probe: short, never retried (the next sample is the retry). */
    async sampleProbe(input: SampleProbeInput): Promise<SampleResult> {
      return evaluateProbe(deps, input.target, input.probe);
    },

    /**
     * Writes a firing probe's evidence (samples, condition, when) to the audit log, after the
     * transitions still pending. Once per firing: a retried attempt finds its entry and writes none.
     */
    async recordProbeFiring(input: ProbeFiringInput): Promise<AuditHeadResult> {
      return withTarget(deps, input.target, `audit the firing of probe '${input.evidence.probe}'`, async (client) => {
        const auditHead = await inTransaction(client, null, async () => {
          await checkFence(client, input.target, input.token);
          const { rowCount } = await client.query(
            `select 1 from godwit.audit_log where run_id = $1 and event = 'PROBE_FIRED' and detail->>'probe' = $2 and (detail->>'firing')::int = $3`,
            [input.runId, input.evidence.probe, input.evidence.firing],
          );
          if (rowCount) return null;
          const head = await recordTransitions(client, input, input.audit);
          return (await appendAudit(client, input, [{ event: 'PROBE_FIRED', from: null, to: null, detail: { ...input.evidence } }])) ?? head;
        });
        return { auditHead };
      });
    },
  };
}
