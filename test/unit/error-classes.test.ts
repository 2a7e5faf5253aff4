import { describe, expect, it } from 'vitest';
import { ApplicationFailure } from '@temporalio/common';
import { ExitCode, GodwitError } from '../../src/errors';
import { CliError } from '../../src/cli/exit-codes';
import { ManifestError } from '../../src/manifest/errors';
import { PlanError } from '../../src/operations/types';
import { SqlSyntaxError } from '../../src/operations/sql-parser';
import { ConfigError, UnknownTargetError } from '../../src/config/targets';
import { FleetError } from '../../src/config/fleets';
import { LeaseHeldError, StaleLeaseError } from '../../src/db/lease';
import { ConnectionLostError, DatabaseUnreachableError } from '../../src/db/pool';
import { SnapshotMismatchError } from '../../src/db/snapshots';
import { MigrationAlreadyRunningError, MigrationFailedError, TemporalRefusedError, TemporalUnreachableError } from '../../src/client/errors';
import { IllegalTransitionError } from '../../src/lifecycle/machine';
import { ChecksumMismatchError, InjectedFault, IrreversibleStepError, LintError, PreCheckFailedError, UnauthorizedError, toFailure } from '../../activities/errors';

describe('the error base class', () => {
  it.each([
    ['ManifestError', new ManifestError('m.yaml', [{ path: 'id', message: 'required' }])],
    ['PlanError', new PlanError('no such table', 'operations[0].add_column')],
    ['UnknownTargetError', new UnknownTargetError('app', 'GODWIT_TARGET_APP')],
    ['LeaseHeldError', new LeaseHeldError('app', 'godwit/app/x', new Date(0))],
    ['StaleLeaseError', new StaleLeaseError('app', 't')],
    ['ChecksumMismatchError', new ChecksumMismatchError('changed')],
    ['IrreversibleStepError', new IrreversibleStepError('no inverse')],
    ['InjectedFault', new InjectedFault('injected')],
    ['PreCheckFailedError', new PreCheckFailedError('pre check false')],
    ['SnapshotMismatchError', new SnapshotMismatchError('differs')],
    ['LintError', new LintError('lint')],
    ['UnauthorizedError', new UnauthorizedError('no')],
  ])('%s cannot be fixed by retrying: an activity throwing it fails at once, with its name as the type', (name, err) => {
    expect(err).toBeInstanceOf(GodwitError);
    expect(err.retryable).toBe(false);
    const failure = toFailure(err);
    expect(failure.nonRetryable).toBe(true);
    expect(failure.type).toBe(name);
  });

  it.each([
    ['DatabaseUnreachableError', new DatabaseUnreachableError('down'), 'DatabaseUnreachableError'],
    ['ConnectionLostError', new ConnectionLostError('app', new Error('read ECONNRESET')), 'ConnectionLost'],
    ['ConfigError', new ConfigError('godwit.yaml is not valid'), 'ConfigError'],
  ])('%s is retried by Temporal', (_name, err, type) => {
    expect(err.retryable).toBe(true);
    const failure = toFailure(err);
    expect(failure.nonRetryable).toBe(false);
    expect(failure.type).toBe(type);
  });

  it("keeps a plan error's path and hint in the failure's message", () => {
    const failure = toFailure(new SqlSyntaxError('syntax error at or near "selec"', 'operations[1].sql.up', 0, 1, 1), 'prepare');
    expect(failure.type).toBe('PlanError');
    expect(failure.nonRetryable).toBe(true);
    expect(failure.message).toBe('prepare: operations[1].sql.up: syntax error at or near "selec", at line 1, column 1 of the SQL (fix the SQL (Godwit reads it with the Postgres 18 parser to find what it writes))');
  });

  it('leaves an ApplicationFailure as it is', () => {
    const failure = ApplicationFailure.nonRetryable('refused', 'RevertRefused');
    expect(toFailure(failure)).toBe(failure);
  });

  it.each([
    ['CliError', new CliError('bad flag'), ExitCode.error],
    ['CliError with its own code', new CliError('drift', ExitCode.drift), ExitCode.drift],
    ['ChecksumMismatchError', new ChecksumMismatchError('changed'), ExitCode.drift],
    ['ManifestError', new ManifestError('m.yaml', []), ExitCode.error],
    ['FleetError', new FleetError('bad fleet'), ExitCode.error],
    ['TemporalUnreachableError', new TemporalUnreachableError('down'), ExitCode.error],
    ['TemporalRefusedError', new TemporalRefusedError('no'), ExitCode.error],
    ['MigrationAlreadyRunningError', new MigrationAlreadyRunningError('busy'), ExitCode.error],
    ['MigrationFailedError', new MigrationFailedError('failed', 'PlanError', 'w', 'r'), ExitCode.error],
    ['IllegalTransitionError', new IllegalTransitionError('applied', 'START'), ExitCode.error],
  ])('%s carries the exit code the CLI leaves with', (_name, err, code) => {
    expect(err).toBeInstanceOf(GodwitError);
    expect(err.exitCode).toBe(code);
  });

  it('keeps each class its own name, which is the failure type workflows match on', () => {
    expect(new CliError('x').name).toBe('CliError');
    expect(new TemporalUnreachableError('x').name).toBe('TemporalUnreachableError');
    expect(new TemporalUnreachableError('x').retryable).toBe(true);
    expect(new IllegalTransitionError('applied', 'START').message).toBe('event START is not allowed in state applied');
  });
});
