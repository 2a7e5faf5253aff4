import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_TASK_QUEUE } from '../contract/migration';
import { ConfigError, loadConfig, type GodwitConfig } from './targets';

/** Where a Temporal frontend listens unless told otherwise (and where `godwit dev` serves). */
export const DEFAULT_TEMPORAL_HOST = '127.0.0.1';
export const DEFAULT_TEMPORAL_PORT = 7233;

/**
 * The Web UI URL for a Temporal gRPC address that Godwit did not start (GODWIT_UI_URL overrides it):
 * - Temporal Cloud (`*.tmprl.cloud`): `https://cloud.temporal.io/namespaces/<namespace>`;
 * - anything else is assumed to follow the dev server's scheme, where the UI listens over plain
 *   HTTP on the same host at the gRPC port + 1000 (`127.0.0.1:7233` → `http://127.0.0.1:8233`).
 *   A self-hosted cluster with its UI elsewhere needs GODWIT_UI_URL.
 */
export function deriveUiUrl(address: string, namespace: string): string {
  const match = /^(?:[a-z]+:\/\/)?(\[[^\]]+\]|[^:/]+)(?::(\d+))?/i.exec(address.trim());
  const host = match?.[1] ?? DEFAULT_TEMPORAL_HOST;
  const port = Number(match?.[2] ?? DEFAULT_TEMPORAL_PORT);
  if (/\.tmprl\.cloud$/i.test(host)) return `https://cloud.temporal.io/namespaces/${encodeURIComponent(namespace)}`;
  return `http://${host}:${port + 1000}`;
}

/**
 * How to reach a secured Temporal frontend (Temporal Cloud, a cluster with TLS or mTLS):
 * the shape the SDK's connections take, so every client and the worker use the same.
 */
export interface TemporalConnectionOptions {
  /** true: TLS with the system's CAs; an object: its CA, client certificate, server name. */
  tls?: boolean | { serverNameOverride?: string; serverRootCACertificate?: Uint8Array; clientCertPair?: { crt: Uint8Array; key: Uint8Array } };
  /** Sent as `authorization: Bearer <key>`; turns TLS on unless TEMPORAL_TLS=false. */
  apiKey?: string;
  /** Extra gRPC metadata (TEMPORAL_GRPC_META_<NAME>). */
  metadata?: Record<string, string>;
}

export interface TemporalSettings {
  address: string;
  namespace: string;
  taskQueue: string;
  uiUrl: string;
  /** Absent: plain-text gRPC, as a dev server or a cluster inside a private network serves it. */
  connection?: TemporalConnectionOptions;
}

/** Temporal's own client configuration, when any of it is there to read. */
interface TemporalEnvConfig {
  address?: string;
  namespace?: string;
  connection: TemporalConnectionOptions;
}

const SECURITY_VARIABLE = /^TEMPORAL_(API_KEY|TLS|TLS_.+|GRPC_META_.+|PROFILE|CONFIG_FILE)$/;

/**
 * Reads Temporal's standard client configuration (https://docs.temporal.io/references/client-environment-configuration)
 * with the SDK's own reader, @temporalio/envconfig: TEMPORAL_API_KEY, TEMPORAL_TLS, TEMPORAL_TLS_CLIENT_CERT_PATH,
 * TEMPORAL_TLS_CLIENT_KEY_PATH, TEMPORAL_TLS_SERVER_CA_CERT_PATH, TEMPORAL_TLS_SERVER_NAME (and their _DATA
 * forms), TEMPORAL_GRPC_META_*, and a profile (TEMPORAL_PROFILE) of the TOML file the Temporal CLI writes.
 * Null when none of that is set, without loading the reader: most runs talk plain gRPC to a dev server.
 */
async function temporalEnvConfig(env: NodeJS.ProcessEnv): Promise<TemporalEnvConfig | null> {
  const defaultFile = join(env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config'), 'temporalio', 'temporal.toml');
  if (!Object.keys(env).some((k) => SECURITY_VARIABLE.test(k)) && !existsSync(defaultFile)) return null;
  try {
    const { loadClientConnectConfig } = await import('@temporalio/envconfig');
    const { connectionOptions: o, namespace } = loadClientConnectConfig({ overrideEnvVars: env as Record<string, string> });
    const connection: TemporalConnectionOptions = {};
    if (o.tls !== undefined && o.tls !== null) connection.tls = o.tls as TemporalConnectionOptions['tls'];
    if (o.apiKey) connection.apiKey = typeof o.apiKey === 'string' ? o.apiKey : undefined;
    if (o.metadata && Object.keys(o.metadata).length > 0) connection.metadata = o.metadata as Record<string, string>;
    return { ...(o.address ? { address: o.address } : {}), ...(namespace ? { namespace } : {}), connection };
  } catch (err) {
    throw new ConfigError(
      `cannot read Temporal's client configuration (TEMPORAL_* variables, TEMPORAL_PROFILE, ${env.TEMPORAL_CONFIG_FILE ?? defaultFile}): ${(err as Error).message}. ` +
        'Fix the variable or file it names; https://docs.temporal.io/references/client-environment-configuration lists them.',
    );
  }
}

/** Flags > environment > godwit.yaml > defaults. */
export async function temporalSettings(
  flags: { address?: string; namespace?: string; taskQueue?: string; uiUrl?: string } = {},
  env: NodeJS.ProcessEnv = process.env,
  config: GodwitConfig = loadConfig(),
): Promise<TemporalSettings> {
  const secured = await temporalEnvConfig(env);
  const address = flags.address ?? env.TEMPORAL_ADDRESS ?? config.temporal?.address ?? secured?.address ?? `${DEFAULT_TEMPORAL_HOST}:${DEFAULT_TEMPORAL_PORT}`;
  const namespace = flags.namespace ?? env.TEMPORAL_NAMESPACE ?? config.temporal?.namespace ?? secured?.namespace ?? 'default';
  return {
    ...(secured && Object.keys(secured.connection).length > 0 ? { connection: secured.connection } : {}),
    address,
    namespace,
    taskQueue: flags.taskQueue ?? env.GODWIT_TASK_QUEUE ?? config.temporal?.task_queue ?? DEFAULT_TASK_QUEUE,
    uiUrl: (flags.uiUrl ?? env.GODWIT_UI_URL ?? config.temporal?.ui_url ?? deriveUiUrl(address, namespace)).replace(/\/$/, ''),
  };
}

/** Link to a run's page in the Temporal Web UI. */
export function runUrl(settings: Pick<TemporalSettings, 'uiUrl' | 'namespace'>, workflowId: string, runId?: string): string {
  const base = `${settings.uiUrl}/namespaces/${encodeURIComponent(settings.namespace)}/workflows/${encodeURIComponent(workflowId)}`;
  return runId ? `${base}/${runId}/history` : base;
}
