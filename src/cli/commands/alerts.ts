import { readFileSync } from 'node:fs';
import { once } from 'node:events';
import { temporalSettings } from '../../config/temporal';
import { ALERTS_PATH, AlertsReceiverConfigError, createAlertsReceiver, MIN_SECRET_LENGTH } from '../../alerts/receiver';
import { CliError } from '../exit-codes';

export interface AlertsReceiverOptions {
  listen?: string;
  by?: string;
  key?: string;
  secretFile?: string;
  address?: string;
  namespace?: string;
  taskQueue?: string;
}

/** `host:port`, `:port` (all interfaces) or a port alone (127.0.0.1). */
export function parseListen(value: string): { host: string; port: number } {
  const m = /^(?:(.*):)?(\d{1,5})$/.exec(value);
  const port = Number(m?.[2]);
  if (!m || port > 65535) throw new CliError(`--listen expects host:port, :port or a port (e.g. 127.0.0.1:9095), got '${value}'`);
  return { host: m[1] === undefined ? '127.0.0.1' : m[1] === '' ? '0.0.0.0' : m[1].replace(/^\[(.*)\]$/, '$1'), port };
}

/**
 * `godwit alerts-receiver`: serves Alertmanager's webhook until SIGINT/SIGTERM, rolling back the
 * migration running on the target each firing alert names. The secret comes from
 * --secret-file or $GODWIT_ALERTS_SECRET, never from the command line.
 */
export async function alertsReceiverCommand(opts: AlertsReceiverOptions, out: (line: string) => void = console.log): Promise<void> {
  const secret = (opts.secretFile ? readFileSync(opts.secretFile, 'utf8') : (process.env.GODWIT_ALERTS_SECRET ?? '')).trim();
  if (!secret) throw new CliError('no shared secret: set GODWIT_ALERTS_SECRET or pass --secret-file <path> (the same secret as the bearer credentials in alertmanager.yml)');
  if (secret.length < MIN_SECRET_LENGTH) throw new CliError(`the shared secret must be at least ${MIN_SECRET_LENGTH} characters (e.g. \`openssl rand -hex 32\`)`);
  const { host, port } = parseListen(opts.listen ?? '127.0.0.1:9095');
  const settings = await temporalSettings(opts);
  const { connectClient } = await import('../../client/connect');
  const client = await connectClient(settings);
  const key = opts.key ?? process.env.GODWIT_SIGNING_KEY;
  let server;
  try {
    server = createAlertsReceiver({ client, secret, by: opts.by ?? 'alertmanager', ...(key ? { key } : {}), log: (l) => out(`${new Date().toISOString()} ${l}`) });
  } catch (err) {
    await client.connection.close();
    if (err instanceof AlertsReceiverConfigError) throw new CliError(err.message);
    throw err;
  }
  server.listen(port, host);
  await once(server, 'listening');
  out(`godwit alerts-receiver: POST http://${host}:${port}${ALERTS_PATH} rolls back as ${opts.by ?? 'alertmanager'}${key ? ' (signed)' : ''}; Ctrl-C stops it`);
  await Promise.race([once(process, 'SIGINT'), once(process, 'SIGTERM')]);
  server.close();
  await client.connection.close();
  out('godwit alerts-receiver: stopped');
}
