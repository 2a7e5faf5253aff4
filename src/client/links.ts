/**
 * Saved-query links into the Temporal Web UI's workflow list: the list filtered by a
 * visibility query, as `godwit status` and `godwit apply` print them. Free of SDK imports.
 *
 * The UI (v2, as the Temporal CLI 1.5.1 dev server serves it) reads the filter from the list
 * page's `query` parameter: `<ui>/namespaces/<ns>/workflows?query=<visibility query>`
 * (test/browser/ui.test.ts opens these links and checks what the list shows).
 */
import type { TemporalSettings } from '../config/temporal';
import { SEARCH_ATTRIBUTE } from '../contract/migration';

/** A visibility query string literal: double-quoted, with `"` and `\` escaped. */
export function queryLiteral(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** The workflow list of the UI filtered by `query`. */
export function listUrl(settings: Pick<TemporalSettings, 'uiUrl' | 'namespace'>, query: string): string {
  return `${settings.uiUrl}/namespaces/${encodeURIComponent(settings.namespace)}/workflows?query=${encodeURIComponent(query)}`;
}

export interface SavedQuery {
  /** What the filtered list shows, as a person would ask for it. */
  title: string;
  query: string;
  url: string;
}

export interface SavedQueries {
  /** Every run on the target, newest first: applied ones Completed, the others Failed or Running. */
  all: SavedQuery;
  /** Every run on the target that did not end applied: rolled back, rejected, resolved by hand, or refused before it started. */
  notApplied: SavedQuery;
  /** Runs on the target that were rolled back. */
  rolledBack: SavedQuery;
  /** Open runs on any target that wait for a person: an approval, or a rollback that failed. */
  waiting: SavedQuery;
}

/** The UI links for a target (see the README, "Reading runs in the Temporal UI"). */
export function savedQueries(settings: Pick<TemporalSettings, 'uiUrl' | 'namespace'>, target: string): SavedQueries {
  const onTarget = `${SEARCH_ATTRIBUTE.target}=${queryLiteral(target)}`;
  const state = (s: string) => `${SEARCH_ATTRIBUTE.state}=${queryLiteral(s)}`;
  const make = (title: string, query: string): SavedQuery => ({ title, query, url: listUrl(settings, query) });
  return {
    all: make(`migrations on ${target}`, onTarget),
    notApplied: make(`not applied on ${target}`, `${onTarget} AND ExecutionStatus="Failed"`),
    rolledBack: make(`rolled back on ${target}`, `${onTarget} AND ${state('rolled_back')}`),
    waiting: make('waiting for a person', `ExecutionStatus="Running" AND (${state('awaiting_approval')} OR ${state('rollback_failed')})`),
  };
}
