import type { Client } from '@temporalio/client';
import { temporalSettings, type TemporalSettings } from '../config/temporal';

/** Where Temporal is and which workers to ask; each falls back to the environment, then godwit.yaml, then the defaults. */
export interface TemporalOptions {
  /** host:port of the Temporal frontend (default $TEMPORAL_ADDRESS, then 127.0.0.1:7233). */
  address?: string;
  /** Default $TEMPORAL_NAMESPACE, then `default`. */
  namespace?: string;
  /** The task queue Godwit's workers poll (default $GODWIT_TASK_QUEUE, then `godwit`). */
  taskQueue?: string;
  /** The Temporal Web UI's base URL, for the links in results (default $GODWIT_UI_URL, or derived from the address). */
  uiUrl?: string;
}

/**
 * Runs `fn` with a connected client and closes it after. The SDK's client is loaded only
 * here, so what works offline (plan without a target) never pays for it.
 */
export async function withTemporal<T>(opts: TemporalOptions, fn: (client: Client, settings: TemporalSettings) => Promise<T>): Promise<T> {
  const settings = await temporalSettings(opts);
  const { connectClient } = await import('../client/connect');
  const client = await connectClient(settings);
  try {
    return await fn(client, settings);
  } finally {
    await client.connection.close();
  }
}
