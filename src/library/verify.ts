import { loadManifests } from '../manifest';
import type { DriftReport } from '../contract/migration';
import { withTemporal, type TemporalOptions } from './session';

export interface VerifyOptions extends TemporalOptions {
  target: string;
}

export interface VerifyResult extends DriftReport {
  /** An applied manifest's file changed, or the schema drifted from the fingerprint the last applied migration recorded (exit 5). */
  drift: boolean;
}

/** Applied manifests whose file has changed since, and schema drift since the last applied migration, read by a worker. */
export async function verify(path: string, opts: VerifyOptions): Promise<VerifyResult> {
  const manifests = await loadManifests(path);
  const report = await withTemporal(opts, async (client, settings) => {
    const { verifyDrift } = await import('../client/inspect');
    return verifyDrift(client, settings, opts.target, manifests);
  });
  return { ...report, drift: report.changedFiles.length > 0 || report.schemaDrift !== null };
}
