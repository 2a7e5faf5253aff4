import { describe, expect, it } from 'vitest';
import { toFailure } from '../../activities/errors';
import { ConnectionLostError, isConnectionLoss } from '../../src/db/pool';

const pgError = (code: string, message: string) => Object.assign(new Error(message), { code });

describe('a lost database connection', () => {
  it.each([
    ['a terminated backend', pgError('57P01', 'terminating connection due to administrator command')],
    ['a crashed server', pgError('57P02', 'terminating connection because of crash of another server process')],
    ['a server starting up again', pgError('57P03', 'the database system is starting up')],
    ['a connection exception', pgError('08006', 'connection failure')],
    ['a reset socket', pgError('ECONNRESET', 'read ECONNRESET')],
    ['a broken pipe', pgError('EPIPE', 'write EPIPE')],
    ["pg's end of a connection it did not end", new Error('Connection terminated unexpectedly')],
    ['a query on a client whose connection died', new Error('Client has encountered a connection error and is not queryable')],
    ['an error that wraps one', new Error('while restoring', { cause: pgError('57P01', 'terminating connection due to administrator command') })],
  ])('is recognised: %s', (_what, err) => {
    expect(isConnectionLoss(err)).toBe(true);
  });

  it.each([
    ['a syntax error', pgError('42601', 'syntax error at or near "selec"')],
    ['a lock timeout', pgError('55P03', 'canceling statement due to lock timeout')],
    ['a dropped database', pgError('57P04', 'terminating connection because the database was dropped')],
    ['an error of ours', new Error('pre check returned false')],
  ])('is not confused with %s', (_what, err) => {
    expect(isConnectionLoss(err)).toBe(false);
  });

  it('fails the activity retryably, naming the target and what the server said', () => {
    const failure = toFailure(new ConnectionLostError('app', pgError('57P01', 'terminating connection due to administrator command')), 'step 2 (sql x) failed');
    expect(failure.nonRetryable).toBe(false);
    expect(failure.type).toBe('ConnectionLost');
    expect(failure.message).toBe("step 2 (sql x) failed: the connection to target 'app' was lost: terminating connection due to administrator command (SQLSTATE 57P01)");
  });

  it('is retryable even where it reaches toFailure unwrapped', () => {
    const failure = toFailure(new Error('Connection terminated unexpectedly'), 'post checks of m');
    expect(failure.nonRetryable).toBe(false);
    expect(failure.type).toBe('ConnectionLost');
    expect(failure.message).toBe('post checks of m: the database connection was lost: Connection terminated unexpectedly');
  });

  it('names a socket error once', () => {
    expect(new ConnectionLostError('app', pgError('ECONNRESET', 'read ECONNRESET')).message).toBe("the connection to target 'app' was lost: read ECONNRESET");
  });

  it('never prints a connection string it carries', () => {
    const err = pgError('ECONNRESET', 'read ECONNRESET postgres://u:secret@db:5432/app');
    expect(new ConnectionLostError('app', err).message).not.toContain('secret');
  });
});
