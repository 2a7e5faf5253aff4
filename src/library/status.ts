import type { MigrationStatusRow } from '../client/status';
import type { SavedQueries } from '../client/links';
import { RequestError } from './errors';
import { withTemporal, type TemporalOptions } from './session';

export interface StatusOptions extends TemporalOptions {
  target: string;
}

export interface StatusResult {
  target: string;
  /** The latest run of each migration on the target, newest first. */
  migrations: MigrationStatusRow[];
  /** The Temporal UI's lists of this target's runs: all, not applied, rolled back, waiting for a person. */
  links: SavedQueries;
}

/** The latest run of each migration on a target, as Temporal's visibility lists them, with what a running one is doing. */
export async function status(opts: StatusOptions): Promise<StatusResult> {
  if (opts.target === undefined) throw new RequestError('status needs --target <alias> or --fleet <name>');
  return withTemporal(opts, async (client, settings) => {
    const { migrationStatus } = await import('../client/status');
    const { savedQueries } = await import('../client/links');
    const migrations = await migrationStatus(client, settings, opts.target);
    return { target: opts.target, migrations, links: savedQueries(settings, opts.target) };
  });
}
