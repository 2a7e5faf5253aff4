import { DEFAULT_TASK_QUEUE } from '../../workflows/definitions';
import { deriveUiUrl } from '../devserver/resolve';
import { loadConfig, type GodwitConfig } from './targets';

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
  const address = flags.address ?? env.TEMPORAL_ADDRESS ?? config.temporal?.address ?? '127.0.0.1:7233';
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
