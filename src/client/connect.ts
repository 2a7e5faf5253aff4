import { Client, Connection } from '@temporalio/client';
import type { TemporalSettings } from '../config/temporal';
import { temporalUnreachable } from './errors';

export { TemporalUnreachableError } from './errors';

/** The SDK's client, for everything but the apply path (see src/client/wire for that). */
export async function connectClient(settings: TemporalSettings): Promise<Client> {
  try {
    const connection = await Connection.connect({ address: settings.address, connectTimeout: '5 seconds', ...settings.connection });
    return new Client({ connection, namespace: settings.namespace });
  } catch (err) {
    throw temporalUnreachable(settings.address, (err as Error).message);
  }
}
