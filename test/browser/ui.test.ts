import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { manifestFrom, setupTemporal, type TestTemporal } from '../helpers/temporal';
import { REPO_ROOT, spawnCli, type CliRun } from '../helpers/process';
import { closedPort } from '../helpers/probe-app';
import { PROMETHEUS_BIN, startPrometheus, type Sample, type TestPrometheus } from '../helpers/prometheus';
import { resultOf, startMigration, watchMigration } from '../../src/client';
import { listUrl, savedQueries } from '../../src/client/links';
import { runUrl } from '../../src/config/temporal';
import { packageRoot } from '../../src/package-root';

// The run's story as people read it: the Temporal Web UI in Debian's chromium (headless, through
// playwright-core), and the worker's metrics through a real Prometheus and the Grafana dashboard's
// own queries. One worker, spawned as `godwit worker --metrics`, runs three migrations on a target
// of this file's own: applied, rolled back, and a rollback that fails and waits for a person.

const CHROMIUM_BIN = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';

/** Why this test cannot run here, or null. In CI a missing binary is a failure, not a skip. */
function missingBinaries(): string | null {
  const missing = [PROMETHEUS_BIN, CHROMIUM_BIN].filter((b) => !existsSync(b));
  if (missing.length === 0) return null;
  const why = `${missing.join(' and ')} not installed (apt-get install -y chromium prometheus; .ci/run does it)`;
  if (process.env.CI) throw new Error(`CI must run the browser test: ${why}`);
  return why;
}

const missing = missingBinaries();
if (missing) console.warn(`skipping the browser and Prometheus test: ${missing}`);

const OUT = join(REPO_ROOT, 'test-output');
const TARGET = `ui-${randomBytes(3).toString('hex')}`;
const ids = { applied: 'u1_applied', rolledBack: 'u2_rolled_back', waiting: 'u3_rollback_failed' };

let db: TestDatabase;
let t: TestTemporal;
let worker: CliRun;
let metricsUrl: string;
let prometheus: TestPrometheus;
let browser: Browser;
/** An OTLP/HTTP endpoint of the test's own: what the worker's trace exporter posts. */
let collector: Server;
const traces: string[] = [];
const handles: Record<keyof typeof ids, { workflowId: string; runId: string }> = {} as never;

/** The dashboard's queries with Grafana's variables as a dashboard over the last hour would set them. */
function dashboardQueries(): { title: string; expr: string }[] {
  const dashboard = JSON.parse(readFileSync(join(packageRoot(), 'docs', 'grafana', 'godwit.json'), 'utf8')) as { panels: { title: string; targets: { expr: string }[] }[] };
  return dashboard.panels.flatMap((p) =>
    p.targets.map((x) => ({ title: p.title, expr: x.expr.replaceAll('$target', TARGET).replaceAll('$__range', '1h').replaceAll('$__rate_interval', '10m') })),
  );
}

async function metricsText(): Promise<string> {
  return (await fetch(metricsUrl)).text();
}

/** The value of one series in the worker's exposition, e.g. value('godwit_migrations_ended_total', { outcome: 'applied' }). */
function value(text: string, name: string, labels: Record<string, string>): number | null {
  const want = { target: TARGET, ...labels };
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const [, body, v] = /^[^{]+\{(.*)\} (\S+)$/.exec(line) ?? [];
    if (body === undefined) continue;
    const have = Object.fromEntries([...body.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(want).every(([k, v2]) => have[k] === v2)) return Number(v);
  }
  return null;
}

describe.skipIf(missing !== null)('the Temporal Web UI, the metrics and the dashboard', () => {
  beforeAll(async () => {
    mkdirSync(OUT, { recursive: true });
    db = await createTestDatabase('godwit_ui');
    await db.query('create table users (id int primary key, email text, email_norm text)');
    await db.query(`insert into users select g, 'User' || g || '@X.org', null from generate_series(1, 2000) g`);
    t = await setupTemporal({ [TARGET]: db.url });
    collector = createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += String(d)));
      req.on('end', () => {
        traces.push(`${req.url} ${body}`);
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
    const otlp = `http://127.0.0.1:${(collector.address() as { port: number }).port}`;
    const port = await closedPort();
    worker = spawnCli(['worker', '--metrics', `127.0.0.1:${port}`], { ...t.env, OTEL_EXPORTER_OTLP_ENDPOINT: otlp, OTEL_BSP_SCHEDULE_DELAY: '200' });
    await worker.waitFor("godwit worker: task queue");
    metricsUrl = `http://127.0.0.1:${port}/metrics`;
    expect(worker.output()).toContain(`Prometheus metrics at ${metricsUrl}`);
    prometheus = await startPrometheus([`127.0.0.1:${port}`], 'godwit-worker');
    browser = await chromium.launch({ executablePath: CHROMIUM_BIN, headless: true, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });

    // 1. applied, with a backfill (rows for the rows metrics)
    const applied = await manifestFrom(`
id: ${ids.applied}
description: normalise emails
operations:
  - backfill: { table: users, set: { email_norm: "lower(email)" }, batch_size: 500 }
policy: { approval: never }
`);
    const h1 = await startMigration(t.client, t.settings, { target: TARGET, loaded: applied, requestedBy: 'ui-test' });
    expect((await resultOf(h1)).outcome).toBe('applied');
    handles.applied = { workflowId: h1.workflowId, runId: h1.firstExecutionRunId };
    // The target's series start at zero with its first migration: wait until Prometheus has
    // scraped them, so that the rollbacks below are increases it can see.
    await prometheus.until(`godwit_rollbacks_total{target="${TARGET}"}`, (s) => s.length === 2);

    // 2. rolled back at its second step
    const rolledBack = await manifestFrom(`
id: ${ids.rolledBack}
description: add a score, then a step that fails
operations:
  - add_column: { table: users, column: { name: score, type: int } }
  - sql: { up: "select 1/0", down: "select 1" }
policy: { approval: never }
`);
    const h2 = await startMigration(t.client, t.settings, { target: TARGET, loaded: rolledBack, requestedBy: 'ui-test' });
    expect((await resultOf(h2)).outcome).toBe('rolled_back');
    handles.rolledBack = { workflowId: h2.workflowId, runId: h2.firstExecutionRunId };

    // 3. a rollback that fails: the run stays open for a person
    const waiting = await manifestFrom(`
id: ${ids.waiting}
operations:
  - add_column: { table: users, column: { name: c1, type: int } }
  - add_column: { table: users, column: { name: c2, type: int } }
policy: { approval: never }
`);
    const h3 = await startMigration(t.client, t.settings, { target: TARGET, loaded: waiting, requestedBy: 'ui-test', faults: { failAtStep: 2, failCompensationOfStep: 1 } });
    expect((await watchMigration(h3, () => undefined)).kind).toBe('waiting');
    handles.waiting = { workflowId: h3.workflowId, runId: h3.firstExecutionRunId };
  });

  afterAll(async () => {
    // the run parked in rollback_failed would hold its target and count as waiting for ever
    if (handles.waiting) await t.client.workflow.getHandle(handles.waiting.workflowId).terminate('the UI test is over').catch(() => undefined);
    await browser?.close();
    await prometheus?.stop();
    if (worker && worker.child.exitCode === null) {
      worker.child.kill('SIGTERM');
      await worker.exit;
    }
    await t?.close();
    await db?.drop();
    await new Promise((resolve) => collector?.close(resolve));
  });

  /**
   * A page of a browser context whose list shows the GodwitState column, as a user gets by adding
   * it in the list's column settings (the UI keeps them in localStorage, per namespace).
   */
  async function open(url: string): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 1800, height: 1000 } });
    const columns = ['Status', 'Workflow ID', 'GodwitState', 'Type', 'Start', 'End'].map((label, i) => ({ label, pinned: i < 2 }));
    // runs in the page (no DOM types here): the columns, unless the page already keeps its own
    const script = `localStorage.getItem('namespace-workflow-table-columns') || localStorage.setItem('namespace-workflow-table-columns', ${JSON.stringify(JSON.stringify({ [t.settings.namespace]: columns }))})`;
    await context.addInitScript({ content: script });
    const page = await context.newPage();
    await page.goto(url);
    return page;
  }

  /** The list's row of a workflow, once the UI shows it (visibility lags a moment: reload until it is there). */
  async function rowOf(page: Page, workflowId: string) {
    const row = page.getByRole('row').filter({ hasText: workflowId });
    for (let i = 0; i < 60 && (await row.count()) === 0; i++) {
      await page.waitForTimeout(500);
      if (i % 6 === 5) await page.reload();
    }
    if ((await row.count()) !== 1) await keepForDiagnosis(page, `list-without-${workflowId.replaceAll('/', '_')}`);
    expect(await row.count(), `rows listing ${workflowId}`).toBe(1);
    return row;
  }

  /** A page the test did not find what it expected on: its screenshot and HTML, for a person to look at. */
  async function keepForDiagnosis(page: Page, name: string): Promise<void> {
    await page.screenshot({ path: join(OUT, `failed-${name}.png`), fullPage: true }).catch(() => undefined);
    writeFileSync(join(OUT, `failed-${name}.html`), await page.content().catch(() => ''));
  }

  it('filtered by GodwitTarget, the list tells the applied run from the rolled-back one and the one waiting', async () => {
    const page = await open(listUrl(t.settings, savedQueries(t.settings, TARGET).all.query));
    const applied = await rowOf(page, handles.applied.workflowId);
    const rolledBack = await rowOf(page, handles.rolledBack.workflowId);
    const waiting = await rowOf(page, handles.waiting.workflowId);
    await page.screenshot({ path: join(OUT, 'ui-list-by-target.png'), fullPage: true });
    expect(await applied.innerText()).toContain('Completed');
    expect(await rolledBack.innerText()).toContain('Failed');
    expect(await rolledBack.innerText()).not.toContain('Completed');
    expect(await waiting.innerText()).toContain('Running');
    // the GodwitState column says what each run is: the one still running waits for a person
    expect(await rolledBack.innerText()).toContain('rolled_back');
    expect(await waiting.innerText()).toContain('rollback_failed');
    expect(await applied.innerText()).toContain('applied');
    await page.context().close();
  });

  it('opens the saved queries godwit prints: rolled back on the target, and waiting for a person', async () => {
    const q = savedQueries(t.settings, TARGET);
    const rolled = await open(q.rolledBack.url);
    await rowOf(rolled, handles.rolledBack.workflowId);
    expect(await rolled.getByRole('row').filter({ hasText: handles.applied.workflowId }).count()).toBe(0);
    await rolled.screenshot({ path: join(OUT, 'ui-rolled-back.png'), fullPage: true });
    await rolled.context().close();

    const waiting = await open(q.waiting.url);
    await rowOf(waiting, handles.waiting.workflowId);
    expect(await waiting.getByRole('row').filter({ hasText: handles.rolledBack.workflowId }).count()).toBe(0);
    await waiting.screenshot({ path: join(OUT, 'ui-waiting-for-a-person.png'), fullPage: true });
    await waiting.context().close();
  });

  it("the rolled-back run's page shows its summary, the failure and the failed step", async () => {
    const page = await open(runUrl(t.settings, handles.rolledBack.workflowId, handles.rolledBack.runId));
    onTestFailed(() => keepForDiagnosis(page, 'run-page'));
    await page.getByText(`${ids.rolledBack} → ${TARGET}: add a score, then a step that fails`).first().waitFor({ state: 'visible', timeout: 60_000 });
    await page.getByText(/rolled_back: .*division by zero/).first().waitFor({ state: 'visible', timeout: 60_000 });
    await page.getByText('sql select 1/0').first().waitFor({ state: 'visible' });
    await page.getByText(/division by zero/).first().waitFor({ state: 'visible' });
    await page.screenshot({ path: join(OUT, 'ui-rolled-back-run.png'), fullPage: true });
    await page.context().close();
  });

  it("the worker's metrics match the runs that were made, with the SDK's own appended", async () => {
    const text = await metricsText();
    expect(value(text, 'godwit_migrations_started_total', {})).toBe(3);
    expect(value(text, 'godwit_migrations_ended_total', { outcome: 'applied' })).toBe(1);
    expect(value(text, 'godwit_migrations_ended_total', { outcome: 'rolled_back' })).toBe(1);
    expect(value(text, 'godwit_migrations_ended_total', { outcome: 'rejected' })).toBe(0);
    expect(value(text, 'godwit_rollbacks_total', { result: 'rolled_back' })).toBe(1);
    expect(value(text, 'godwit_rollbacks_total', { result: 'rollback_failed' })).toBe(1);
    // the failed compensation leaves nothing to prove: one proof, the rolled-back run's
    expect(value(text, 'godwit_rollback_proofs_total', { result: 'passed' })).toBe(1);
    expect(value(text, 'godwit_rollback_proofs_total', { result: 'failed' })).toBe(0);
    expect(value(text, 'godwit_step_duration_seconds_count', { kind: 'backfill', result: 'done' })).toBe(1);
    expect(value(text, 'godwit_step_duration_seconds_count', { kind: 'sql', result: 'failed' })).toBeGreaterThanOrEqual(1);
    expect(value(text, 'godwit_compensation_duration_seconds_count', { kind: 'add_column', result: 'done' })).toBe(1);
    expect(value(text, 'godwit_rollback_duration_seconds_count', { result: 'rolled_back' })).toBe(1);
    expect(value(text, 'godwit_backfill_rows_total', { phase: 'fill' })).toBe(2000);
    expect(value(text, 'godwit_lease_waits_total', {})).toBe(0);
    // a count of the visibility store: at least this file's run (others may share the server)
    expect(/^godwit_runs_waiting_for_person\{state="rollback_failed"\} (\d+)$/m.exec(text)?.[1]).toSatisfy((n: string | undefined) => Number(n) >= 1);
    expect(text).toMatch(/^temporal_\w+/m);
  });

  it('with OTEL_EXPORTER_OTLP_ENDPOINT set, the worker exports a span per activity', async () => {
    for (let i = 0; i < 300 && !traces.some((x) => x.includes('RunActivity:runStep')); i++) await new Promise((r) => setTimeout(r, 100));
    const posted = traces.join('\n');
    expect(posted).toMatch(/^\/v1\/traces /m);
    for (const activity of ['prepareMigration', 'runStep', 'compensateStep', 'verifyRollback', 'finishMigration']) expect(posted).toContain(`RunActivity:${activity}`);
  });

  it('Prometheus scrapes them: the rollback success rate is one of two, and every dashboard query returns data', async () => {
    const rate = dashboardQueries().find((q) => q.title === 'Rollback success rate')!;
    const [sample] = await prometheus.until(rate.expr, (s) => s.length === 1 && Math.abs(Number(s[0]!.value[1]) - 0.5) < 1e-9);
    expect(Number((sample as Sample).value[1])).toBeCloseTo(0.5, 9);
    for (const q of dashboardQueries()) {
      const result = await prometheus.until(q.expr, (s) => s.length > 0);
      expect(result.length, `${q.title}: ${q.expr}`).toBeGreaterThan(0);
    }
  });
});
