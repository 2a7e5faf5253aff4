import { DEFAULT_TASK_QUEUE } from '../../workflows/definitions';
import { loadConfig, type GodwitConfig } from './targets';

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

export interface TemporalSettings {
  address: string;
  namespace: string;
  taskQueue: string;
  uiUrl: string;
}

/** Flags > environment > godwit.yaml > defaults. */
export function temporalSettings(
  flags: { address?: string; namespace?: string; taskQueue?: string; uiUrl?: string } = {},
  env: NodeJS.ProcessEnv = process.env,
  config: GodwitConfig = loadConfig(),
): TemporalSettings {
  const address = flags.address ?? env.TEMPORAL_ADDRESS ?? config.temporal?.address ?? `${DEFAULT_TEMPORAL_HOST}:${DEFAULT_TEMPORAL_PORT}`;
  const namespace = flags.namespace ?? env.TEMPORAL_NAMESPACE ?? config.temporal?.namespace ?? 'default';
  return {
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
