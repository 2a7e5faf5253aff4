export * from './types';
export { ManifestError, type ManifestProblem } from './errors';
export { manifestSchema, MANIFEST_ID } from './schema';
export { parseManifest, loadManifest, loadManifests, compareIds, sqlManifestId, MAX_NESTING } from './load';
export { manifestChecksum, canonicalJson } from './canonical';
