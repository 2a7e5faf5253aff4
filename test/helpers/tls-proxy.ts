import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, constants, createSecureServer, type ClientHttp2Session, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A TLS front for a real Temporal dev server (which serves plain gRPC only), as Temporal
 * Cloud or a secured cluster would look to Godwit: HTTP/2 over TLS with a certificate from
 * a CA of the test's own, optionally demanding an API key. Every gRPC stream is passed
 * through to the dev server unchanged; Temporal itself is not imitated.
 */
export interface TlsFront {
  address: string;
  /** PEM files: the CA that signed the server certificate. */
  caPath: string;
  close(): Promise<void>;
}

function makeCertificates(dir: string): { ca: string; key: string; cert: string } {
  const run = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  run(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=godwit test CA']);
  run(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost']);
  writeFileSync(join(dir, 'san.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  run(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'san.ext']);
  return { ca: join(dir, 'ca.pem'), key: join(dir, 'server.key'), cert: join(dir, 'server.pem') };
}

const withoutPseudo = (h: IncomingHttpHeaders): OutgoingHttpHeaders =>
  Object.fromEntries(Object.entries(h).filter(([k]) => !k.startsWith(':') && k !== 'connection'));

export async function startTlsFront(upstreamAddress: string, opts: { apiKey?: string } = {}): Promise<TlsFront> {
  const dir = mkdtempSync(join(tmpdir(), 'godwit-tls-'));
  const files = makeCertificates(dir);
  let upstream: ClientHttp2Session | undefined;
  const upstreamSession = () => {
    if (!upstream || upstream.closed || upstream.destroyed) {
      upstream = connect(`http://${upstreamAddress}`);
      upstream.on('error', () => undefined);
    }
    return upstream;
  };
  const server = createSecureServer({ key: readFileSync(files.key), cert: readFileSync(files.cert) });
  const sessions = new Set<import('node:http2').ServerHttp2Session>();
  server.on('session', (s) => {
    sessions.add(s);
    s.on('close', () => sessions.delete(s));
  });
  server.on('stream', (stream, headers) => {
    stream.on('error', () => undefined);
    if (opts.apiKey !== undefined && headers.authorization !== `Bearer ${opts.apiKey}`) {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '16', 'grpc-message': 'Request unauthorized' }, { endStream: true });
      return;
    }
    const out = upstreamSession().request({
      ...withoutPseudo(headers),
      [constants.HTTP2_HEADER_METHOD]: headers[constants.HTTP2_HEADER_METHOD] ?? 'POST',
      [constants.HTTP2_HEADER_PATH]: headers[constants.HTTP2_HEADER_PATH] ?? '/',
    });
    out.on('error', () => stream.close(constants.NGHTTP2_INTERNAL_ERROR));
    let trailers: OutgoingHttpHeaders = {};
    out.on('response', (h) => {
      // A trailers-only answer (an error) carries its status in the headers: end with them.
      const trailersOnly = h['grpc-status'] !== undefined;
      stream.respond({ ...withoutPseudo(h), ':status': h[':status'] ?? 200 }, trailersOnly ? { endStream: true } : { waitForTrailers: true });
      if (!trailersOnly) out.pipe(stream);
    });
    out.on('trailers', (t) => (trailers = withoutPseudo(t)));
    stream.on('wantTrailers', () => stream.sendTrailers(trailers));
    stream.pipe(out);
    stream.on('close', () => {
      if (!out.closed) out.close(constants.NGHTTP2_CANCEL);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    address: `127.0.0.1:${port}`,
    caPath: files.ca,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Long polls keep their sessions open; close() alone would wait for them.
        for (const s of sessions) s.destroy();
        upstream?.destroy();
      });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
