import { Client, Connection } from '@temporalio/client';
import type { TemporalSettings } from '../config/temporal';

/** Thrown when the CLI cannot reach Temporal. */
export class TemporalUnreachableError extends Error {
  override readonly name = 'TemporalUnreachableError';
}

export async function connectClient(settings: TemporalSettings): Promise<Client> {
  try {
    const connection = await Connection.connect({ address: settings.address, connectTimeout: '5 seconds' });
    return new Client({ connection, namespace: settings.namespace });
  } catch (err) {
    throw new TemporalUnreachableError(
      `cannot reach Temporal at ${settings.address} (${(err as Error).message.split('\n')[0]}). ` +
        'Start a local server and worker with `godwit dev` and `godwit worker`, or set TEMPORAL_ADDRESS to your cluster.',
    );
  }
}
