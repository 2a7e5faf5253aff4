/**
 * Unary gRPC calls over node:http2: what the CLI's apply path needs from a gRPC client,
 * without loading one. A call is one HTTP/2 stream: a POST to /<service>/<method> with
 * `content-type: application/grpc`, its body one length-prefixed message; the answer is
 * one length-prefixed message and trailers with `grpc-status` (the gRPC over HTTP/2
 * protocol, https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md).
 * Plain-text HTTP/2, or TLS (with a client certificate for mTLS) as Temporal Cloud and
 * secured clusters serve it.
 */
import { connect, constants, type ClientHttp2Session, type IncomingHttpHeaders } from 'node:http2';

/** The gRPC status codes this client tells apart. */
export const GrpcStatus = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  FAILED_PRECONDITION: 9,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

export class RpcError extends Error {
  override readonly name = 'RpcError';
  constructor(
    readonly code: number,
    readonly details: string,
    readonly method: string,
  ) {
    super(`${method}: ${details} (gRPC status ${code})`);
  }
}

function frame(message: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(5 + message.length);
  out[0] = 0; // not compressed
  out.writeUInt32BE(message.length, 1);
  out.set(message, 5);
  return out;
}

function statusOf(headers: IncomingHttpHeaders): { code: number; details: string } | undefined {
  const code = headers['grpc-status'];
  if (code === undefined) return undefined;
  const raw = headers['grpc-message'];
  let details = typeof raw === 'string' ? raw : '';
  try {
    details = decodeURIComponent(details);
  } catch {
    // not percent-encoded after all: keep it as sent
  }
  return { code: Number(code), details };
}

/** TLS for the connection: true for the system's CAs, or the CA, client certificate and server name to use. */
export type ChannelTls = boolean | { serverNameOverride?: string; serverRootCACertificate?: Uint8Array; clientCertPair?: { crt: Uint8Array; key: Uint8Array } };

function openSession(address: string, timeoutMs: number, tls: ChannelTls | undefined): Promise<ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const session = tls
      ? connect(`https://${address}`, {
          ...(typeof tls === 'object' && tls.serverRootCACertificate ? { ca: Buffer.from(tls.serverRootCACertificate) } : {}),
          ...(typeof tls === 'object' && tls.clientCertPair ? { cert: Buffer.from(tls.clientCertPair.crt), key: Buffer.from(tls.clientCertPair.key) } : {}),
          ...(typeof tls === 'object' && tls.serverNameOverride ? { servername: tls.serverNameOverride } : {}),
        })
      : connect(`http://${address}`);
    const timer = setTimeout(() => {
      session.destroy();
      reject(new RpcError(GrpcStatus.UNAVAILABLE, `no answer within ${timeoutMs} ms`, 'connect'));
    }, timeoutMs);
    session.once('connect', () => {
      clearTimeout(timer);
      // Errors after this point reach the calls' streams, which reject their own promises.
      session.on('error', () => undefined);
      resolve(session);
    });
    session.once('error', (err: Error) => {
      clearTimeout(timer);
      reject(new RpcError(GrpcStatus.UNAVAILABLE, err.message, 'connect'));
    });
  });
}

export class GrpcChannel {
  private closing = false;
  /** Calls not answered yet (a long poll can stay open for tens of seconds). */
  private inFlight = 0;

  private constructor(
    private session: ClientHttp2Session,
    private readonly address: string,
    private readonly opts: { timeoutMs: number; headers: Record<string, string>; tls?: ChannelTls },
  ) {}

  /** Opens the HTTP/2 connection (over TLS when `tls` is set); rejects with UNAVAILABLE when nothing answers within `timeoutMs`. */
  static async open(address: string, opts: { timeoutMs: number; headers?: Record<string, string>; tls?: ChannelTls }): Promise<GrpcChannel> {
    const settings = { timeoutMs: opts.timeoutMs, headers: opts.headers ?? {}, ...(opts.tls ? { tls: opts.tls } : {}) };
    return new GrpcChannel(await openSession(address, settings.timeoutMs, settings.tls), address, settings);
  }

  /** The connection, opened again when the server closed it (a restart sends GOAWAY) or it broke. */
  private async live(): Promise<ClientHttp2Session> {
    if (this.closing) throw new RpcError(GrpcStatus.CANCELLED, 'the channel is closed', 'connect');
    if (this.session.closed || this.session.destroyed) this.session = await openSession(this.address, this.opts.timeoutMs, this.opts.tls);
    return this.session;
  }

  /** One request, one response message; rejects with RpcError on any status but OK. */
  async unary(method: string, request: Uint8Array, opts: { deadlineMs: number }): Promise<Buffer> {
    const session = await this.live();
    return new Promise((resolve, reject) => {
      let settled = false;
      this.inFlight++;
      const settle = (err: RpcError | null, value?: Buffer) => {
        if (settled) return;
        settled = true;
        this.inFlight--;
        clearTimeout(timer);
        if (err) reject(err);
        else resolve(value!);
      };
      let stream: ReturnType<ClientHttp2Session['request']>;
      try {
        stream = session.request({
          [constants.HTTP2_HEADER_METHOD]: 'POST',
          [constants.HTTP2_HEADER_PATH]: method,
          'content-type': 'application/grpc',
          te: 'trailers',
          'grpc-timeout': `${Math.max(1, Math.ceil(opts.deadlineMs))}m`,
          ...this.opts.headers,
        });
      } catch (err) {
        this.inFlight--;
        reject(new RpcError(GrpcStatus.UNAVAILABLE, (err as Error).message, method));
        return;
      }
      // The server enforces grpc-timeout; this guards against one that does not answer at all.
      const timer = setTimeout(() => {
        stream.close(constants.NGHTTP2_CANCEL);
        settle(new RpcError(GrpcStatus.DEADLINE_EXCEEDED, `no answer within ${opts.deadlineMs} ms`, method));
      }, opts.deadlineMs + 5_000);
      const chunks: Buffer[] = [];
      let status: { code: number; details: string } | undefined;
      let httpStatus: number | undefined;
      stream.on('response', (headers) => {
        httpStatus = Number(headers[constants.HTTP2_HEADER_STATUS]);
        status = statusOf(headers); // a trailers-only answer carries the status here
      });
      stream.on('trailers', (trailers) => (status = statusOf(trailers) ?? status));
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('error', (err) => settle(new RpcError(GrpcStatus.UNAVAILABLE, err.message, method)));
      stream.on('close', () => {
        if (status === undefined) {
          // No answer at all: the connection went away (a server restarting closes it).
          if (httpStatus === undefined) return settle(new RpcError(GrpcStatus.UNAVAILABLE, 'the connection closed before the server answered', method));
          const why = httpStatus !== 200 ? `HTTP status ${httpStatus}: not a gRPC endpoint?` : 'the call ended without a gRPC status';
          return settle(new RpcError(GrpcStatus.UNKNOWN, why, method));
        }
        if (status.code !== GrpcStatus.OK) return settle(new RpcError(status.code, status.details, method));
        const body = Buffer.concat(chunks);
        if (body.length < 5) return settle(new RpcError(GrpcStatus.INTERNAL, 'the answer holds no message', method));
        if (body[0] !== 0) return settle(new RpcError(GrpcStatus.INTERNAL, 'the answer is compressed, which was not asked for', method));
        const length = body.readUInt32BE(1);
        if (body.length < 5 + length) return settle(new RpcError(GrpcStatus.INTERNAL, 'the answer was cut short', method));
        settle(null, body.subarray(5, 5 + length));
      });
      stream.end(frame(request));
    });
  }

  /**
   * Closes the connection. Calls still waiting (a long poll on a run that stays open, say
   * in rollback_failed) are cut at once rather than waited for: their callers have
   * stopped listening, and a graceful close would wait out the server's long poll.
   */
  close(): Promise<void> {
    this.closing = true;
    return new Promise((resolve) => {
      if (this.session.closed || this.session.destroyed) return resolve();
      if (this.inFlight > 0) {
        this.session.destroy();
        return resolve();
      }
      this.session.close(() => resolve());
    });
  }
}
