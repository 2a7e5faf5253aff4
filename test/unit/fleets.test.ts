import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ApplicationFailure, ChildWorkflowFailure } from '@temporalio/common';
import { FleetError, loadFleet, thresholdCount } from '../../src/config/fleets';
import { ConfigError } from '../../src/config/targets';
import { readMigrationChild, readRevertChild } from '../../src/contract/child-outcome';
import { describeRelease } from '../../workflows/release-summary';
import { finalLines, ReleaseProgressView } from '../../src/cli/release-progress';
import { applyCommand } from '../../src/cli/commands/apply';
import { releaseCommand } from '../../src/cli/commands/release';
import { OUTCOME_FAILURE_TYPE, type MigrationResult } from '../../src/contract/migration';
import { REVERT_OUTCOME_FAILURE_TYPE, type RevertResult } from '../../src/contract/revert';
import type { ReleaseProgress, ReleaseTarget } from '../../src/contract/release';

function configFile(yaml: string, files: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'godwit-fleet-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  const file = join(dir, 'godwit.yaml');
  writeFileSync(file, yaml);
  return file;
}

const TARGETS = `targets:
  tenant-a: { url_env: A }
  tenant-b: { url_env: B }
  tenant-c: { url_env: C }
  other: { url_env: O }
`;

describe('fleets in godwit.yaml', () => {
  it('resolves listed aliases, globs over configured targets and target files, canaries first, each target once', () => {
    const file = configFile(
      `${TARGETS}fleets:
  tenants:
    targets: [extra-1, "tenant-*", { file: more.txt }, tenant-a]
    canary: [tenant-b]
    max_parallel: 4
    failure_threshold: 2
`,
      { 'more.txt': '# more tenants\nextra-2\n\nextra-1  # again\n' },
    );
    const fleet = loadFleet('tenants', file);
    expect(fleet.targets).toEqual(['tenant-b', 'extra-1', 'tenant-a', 'tenant-c', 'extra-2']);
    expect(fleet.canaries).toEqual(['tenant-b']);
    expect(fleet.maxParallel).toBe(4);
    expect(fleet.failureThreshold).toBe(2);
  });

  it('reads a percentage threshold as a share of the fleet, rounded up, at least 1', () => {
    expect(thresholdCount('10%', 25)).toBe(3);
    expect(thresholdCount('1%', 20)).toBe(1);
    expect(thresholdCount(5, 1000)).toBe(5);
    const file = configFile(`${TARGETS}fleets:\n  t:\n    targets: ["tenant-*"]\n    failure_threshold: "50%"\n`);
    expect(loadFleet('t', file).failureThreshold).toBe(2);
  });

  it('defaults to one at a time, halting at the first failure', () => {
    const fleet = loadFleet('t', configFile(`fleets:\n  t:\n    targets: [a, b]\n`));
    expect(fleet).toMatchObject({ maxParallel: 1, failureThreshold: 1, canaries: [] });
  });

  it('names an unknown fleet and the fleets there are', () => {
    const file = configFile(`fleets:\n  t:\n    targets: [a]\n`);
    expect(() => loadFleet('nope', file)).toThrow(FleetError);
    expect(() => loadFleet('nope', file)).toThrow(/unknown fleet 'nope': .* names the fleets t\. Add it under fleets:/);
  });

  it('reports every problem of a fleet at once: a glob matching nothing, a missing file, a canary outside the fleet, a bad alias', () => {
    const file = configFile(`${TARGETS}fleets:\n  t:\n    targets: ["shard-*", { file: missing.txt }, "bad alias"]\n    canary: [tenant-a]\n`);
    let message = '';
    try {
      loadFleet('t', file);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/the glob 'shard-\*' matches none of the targets configured under targets: \(tenant-a, tenant-b, tenant-c, other\)/);
    expect(message).toMatch(/the target file .*missing\.txt does not exist/);
    expect(message).toMatch(/'bad alias' is not a target alias/);
    expect(message).toMatch(/canary': 'tenant-a' is not one of the fleet's targets/);
  });

  it('refuses bad settings through the config schema, naming the setting', () => {
    const file = configFile(`fleets:\n  t:\n    targets: [a]\n    max_parallel: 0\n    failure_threshold: "lots"\n    canaries: [a]\n`);
    expect(() => loadFleet('t', file)).toThrow(ConfigError);
    expect(() => loadFleet('t', file)).toThrow(/Setting 'fleets\.t\.max_parallel': Too small[\s\S]*Setting 'fleets\.t\.failure_threshold': a count \(e\.g\. 2\) or a percentage[\s\S]*Unrecognized key: "canaries"/);
  });
});

const migrationResult = (state: MigrationResult['state'], extra: Partial<MigrationResult> = {}): MigrationResult => ({
  target: 't',
  migrationId: 'm1',
  state,
  currentStep: null,
  steps: [],
  transitions: [],
  reason: state === 'applied' ? null : 'boom',
  fingerprintBefore: null,
  fingerprintAfter: null,
  rollback: null,
  events: [],
  outcome: state === 'rollback_failed' ? 'applied' : (state as MigrationResult['outcome']),
  alreadyApplied: false,
  ...extra,
});

const childFailure = (cause: Error) => new ChildWorkflowFailure('default', { workflowId: 'w', runId: 'r' }, 'migrationWorkflow', 0 as never, cause);

describe('reading a child run', () => {
  it('reads a returned result and a failed run carrying its MigrationResult alike', () => {
    expect(readMigrationChild({ ok: true, value: migrationResult('applied', { alreadyApplied: true }) })).toEqual({ kind: 'applied', alreadyApplied: true });
    const failed = childFailure(ApplicationFailure.create({ message: 'rolled_back: boom', type: OUTCOME_FAILURE_TYPE.rolled_back, nonRetryable: true, details: [migrationResult('rolled_back')] }));
    expect(readMigrationChild({ ok: false, error: failed })).toMatchObject({ kind: 'not_applied', state: 'rolled_back', reason: 'boom' });
    expect(readMigrationChild({ ok: true, value: migrationResult('rolled_back') })).toMatchObject({ kind: 'not_applied', state: 'rolled_back' });
  });

  it('reads a run that failed before it changed anything as failed, with its message', () => {
    const failed = childFailure(ApplicationFailure.nonRetryable('cannot reach Postgres for target t', 'DatabaseUnreachableError'));
    expect(readMigrationChild({ ok: false, error: failed })).toEqual({ kind: 'failed', reason: 'cannot reach Postgres for target t', type: 'DatabaseUnreachableError' });
  });

  it('reads a revert: reverted, or anything else as a person\'s', () => {
    const reverted = { state: 'reverted', outcome: 'reverted', migrations: [], proofs: [], reason: null } as never;
    expect(readRevertChild({ ok: true, value: reverted }).kind).toBe('reverted');
    const refused = childFailure(ApplicationFailure.nonRetryable('later migrations are applied', 'RevertRefused'));
    expect(readRevertChild({ ok: false, error: refused })).toMatchObject({ kind: 'needs_person', reason: 'the revert did not run: later migrations are applied' });
  });

  it('reads a revert that failed carrying its RevertResult (resolved by hand) as a person\'s, proofs and all', () => {
    const proof = { migrationId: 'm1', equal: false, fingerprintBefore: 'sha256:a', fingerprintAfter: 'sha256:b', differences: ['column x'], data: [], expected: 'fingerprint_before' as const };
    const resolved: RevertResult = { target: 't', migrationId: 'm1', to: null, state: 'revert_resolved_manually', currentStep: null, migrations: [], transitions: [], reason: 'fixed by hand', proofs: [proof], outcome: 'revert_resolved_manually' };
    const failed = childFailure(ApplicationFailure.create({ message: 'revert_resolved_manually: fixed by hand', type: REVERT_OUTCOME_FAILURE_TYPE.revert_resolved_manually, nonRetryable: true, details: [resolved] }));
    expect(readRevertChild({ ok: false, error: failed })).toEqual({ kind: 'needs_person', state: 'revert_resolved_manually', reason: 'fixed by hand', result: resolved });
  });

  it('reads a failure that names an outcome but holds no result as a failure with its message, never a throw', () => {
    const malformed = childFailure(ApplicationFailure.create({ message: 'rolled_back: lost', type: OUTCOME_FAILURE_TYPE.rolled_back, nonRetryable: true }));
    expect(readMigrationChild({ ok: false, error: malformed })).toEqual({ kind: 'failed', reason: 'rolled_back: lost', type: OUTCOME_FAILURE_TYPE.rolled_back });
  });
});

const target = (name: string, status: ReleaseTarget['status'], extra: Partial<ReleaseTarget> = {}): ReleaseTarget => ({
  target: name,
  canary: false,
  status,
  applied: [],
  failed: false,
  workflowId: null,
  appliedSeq: null,
  reason: null,
  proofs: [],
  ...extra,
});

const progress = (targets: ReleaseTarget[], state: ReleaseProgress['state'] = 'rolling_out'): ReleaseProgress => ({
  fleet: 'tenants',
  migrationIds: ['0001_x'],
  state,
  reason: null,
  failureThreshold: 1,
  maxParallel: 2,
  targets,
  run: 1,
});

describe('release progress', () => {
  it('summarises the release for the UI: counts, then the targets that need a look first', () => {
    const text = describeRelease(progress([target('a', 'applied', { applied: ['0001_x'] }), target('b', 'needs_person', { reason: 'revert failed' }), target('c', 'pending')]));
    expect(text).toContain('| 1 | 0 | 0 | 0 | 0 | 1 | 1 | 0 |');
    expect(text.split('\n').findIndex((l) => l.startsWith('| b |'))).toBeLessThan(text.split('\n').findIndex((l) => l.startsWith('| a |')));
  });

  it('prints a line per target as it changes and the counts, without a terminal', () => {
    const lines: string[] = [];
    const view = new ReleaseProgressView((l) => lines.push(l), null);
    view.update(progress([target('a', 'running'), target('b', 'pending')]));
    view.update(progress([target('a', 'running'), target('b', 'pending')]));
    view.update(progress([target('a', 'applied', { applied: ['0001_x'] }), target('b', 'running')]));
    expect(lines).toEqual([
      'release rolling_out',
      '  a: running',
      '  2 targets: 0 applied, 1 running, 0 rolling back, 0 rolled back, 1 pending',
      '  a: applied (0001_x)',
      '  b: running',
      '  2 targets: 1 applied, 1 running, 0 rolling back, 0 rolled back, 0 pending',
    ]);
  });

  it('ends with one line per outcome, and what to do for each target that needs a person', () => {
    const lines = finalLines(progress([target('a', 'rolled_back'), target('b', 'rolled_back'), target('c', 'needs_person', { reason: 'the revert of 0001_x waits in revert_failed' }), target('d', 'not_started')], 'rollback_failed'));
    expect(lines).toEqual(['rolled back: 2 (a, b)', 'need a person: 1 (c)', '  c: the revert of 0001_x waits in revert_failed', 'not started: 1 (d)']);
  });
});

describe('apply --fleet and --atomic: bad input, before anything is sent', () => {
  const manifest = () => {
    const dir = mkdtempSync(join(tmpdir(), 'godwit-fleet-cli-'));
    writeFileSync(join(dir, '0001_x.yaml'), 'id: 0001_x\noperations:\n  - add_column: { table: t, column: { name: c, type: int } }\n');
    return dir;
  };

  it('asks for a target or a fleet', async () => {
    await expect(applyCommand(manifest(), {}, () => undefined)).rejects.toThrow('apply needs --target <alias> (one database) or --fleet <name> (a fleet of godwit.yaml)');
  });

  it('refuses a target and a fleet together, and --atomic without a target', async () => {
    await expect(releaseCommand(manifest(), { target: 'a', fleet: 'f' }, () => undefined)).rejects.toThrow('give --fleet or --target, not both');
    await expect(releaseCommand(manifest(), { atomic: true }, () => undefined)).rejects.toThrow('--atomic needs --target <alias> (or use --fleet <name>)');
  });

  it('names an unknown fleet of the config file in use', async () => {
    const file = configFile(`fleets:\n  tenants:\n    targets: [a]\n`);
    const before = process.env.GODWIT_CONFIG;
    process.env.GODWIT_CONFIG = file;
    try {
      await expect(releaseCommand(manifest(), { fleet: 'tenant' }, () => undefined)).rejects.toThrow(/unknown fleet 'tenant': .* names the fleets tenants/);
    } finally {
      if (before === undefined) delete process.env.GODWIT_CONFIG;
      else process.env.GODWIT_CONFIG = before;
    }
  });
});
