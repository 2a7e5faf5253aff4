import { connect, createServer, type AddressInfo, type Socket } from 'node:net';

/**
 * A TCP relay in front of a real server, for cutting the network between Godwit and
 * Postgres: `cut()` resets every relayed connection on both sides, as a failed switch,
 * a failover or a killed pooler does. New connections go through again afterwards.
 */
export interface TcpProxy {
  /** 127.0.0.1:<port> to connect to instead of the server. */
  host: string;
  port: number;
  /** How many connections are relayed now. */
  open(): number;
  /** Resets every relayed connection (RST to both ends). */
  cut(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(upstreamHost: string, upstreamPort: number): Promise<TcpProxy> {
  const pairs = new Set<[Socket, Socket]>();
  const server = createServer((client) => {
    const upstream = connect(upstreamPort, upstreamHost);
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    for (const s of pair) {
      s.on('error', end);
      s.on('close', end);
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const cut = () => {
    for (const pair of [...pairs]) {
      pairs.delete(pair);
      for (const s of pair) s.resetAndDestroy();
    }
  };
  return {
    host: '127.0.0.1',
    port,
    open: () => pairs.size,
    cut,
    async close() {
      cut();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
