/**
 * The manifest's checksum: sha256 over a canonical JSON form. The manifest has
 * already been parsed (defaults applied, enum values normalised), and keys are
 * sorted at every level here, so reformatting a file or reordering its keys keeps
 * the checksum while any change in meaning alters it. Operation order is meaning.
 */
import { createHash } from 'node:crypto';
import type { Manifest } from './types';

/** JSON with object keys sorted recursively and undefined fields left out. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined) Object.defineProperty(out, key, { value: sortKeys(v), enumerable: true, writable: true, configurable: true });
    }
    return out;
  }
  return value;
}

/** `sha256:<hex>` of the canonical form. */
export function manifestChecksum(manifest: Manifest): string {
  return `sha256:${createHash('sha256').update(canonicalJson(manifest), 'utf8').digest('hex')}`;
}
