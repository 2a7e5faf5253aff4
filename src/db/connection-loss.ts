// Apart from pool.ts, which loads pg: code that only needs to recognise a lost connection
// (purging retired objects, reached from the operations' planning) stays free of it, and so
// do the CLI commands that plan.

/**
 * A connection that broke while in use: the server ended it (57P01 pg_terminate_backend or a
 * fast shutdown, 57P02 a crash, 57P03 starting up again, 57P05 idle session timeout), the
 * connection exception class 08, or the socket failed. pg's own errors for a dead connection
 * carry no code, only their messages.
 */
const LOST_SQLSTATE = /^(08...|57P0[1235])$/;
const LOST_SOCKET_CODES = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ECONNREFUSED', 'ECONNABORTED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENETDOWN']);
const LOST_MESSAGES = new Set([
  'Connection terminated unexpectedly',
  'Connection terminated',
  'Client has encountered a connection error and is not queryable',
  'Client was closed and is not queryable',
]);

/** Whether `err` (or an error it wraps) says the database connection went away, so a retry on a new one can succeed. */
export function isConnectionLoss(err: unknown): boolean {
  for (let e = err as { code?: unknown; message?: unknown; cause?: unknown } | null | undefined, depth = 0; e && depth < 5; e = e.cause as typeof e, depth++) {
    if (typeof e.code === 'string' && (LOST_SQLSTATE.test(e.code) || LOST_SOCKET_CODES.has(e.code))) return true;
    if (typeof e.message === 'string' && LOST_MESSAGES.has(e.message)) return true;
  }
  return false;
}
