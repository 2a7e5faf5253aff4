import { describe, expect, it } from 'vitest';
import { listUrl, queryLiteral, savedQueries } from '../../src/client/links';

const settings = { uiUrl: 'http://127.0.0.1:8233', namespace: 'default' };

describe('saved-query links into the Temporal UI', () => {
  it('filters the workflow list through its query parameter', () => {
    expect(listUrl(settings, 'GodwitTarget="app-prod" AND ExecutionStatus="Failed"')).toBe(
      'http://127.0.0.1:8233/namespaces/default/workflows?query=GodwitTarget%3D%22app-prod%22%20AND%20ExecutionStatus%3D%22Failed%22',
    );
  });

  it('names the target, the failed runs and the runs waiting for a person', () => {
    const q = savedQueries(settings, 'app-prod');
    expect(q.all.query).toBe('GodwitTarget="app-prod"');
    expect(q.notApplied.query).toBe('GodwitTarget="app-prod" AND ExecutionStatus="Failed"');
    expect(q.rolledBack.query).toBe('GodwitTarget="app-prod" AND GodwitState="rolled_back"');
    expect(q.waiting.query).toBe('ExecutionStatus="Running" AND (GodwitState="awaiting_approval" OR GodwitState="rollback_failed")');
    expect(q.waiting.url).toBe(listUrl(settings, q.waiting.query));
  });

  it('quotes a value so that it cannot end the literal', () => {
    expect(queryLiteral('a"b\\c')).toBe('"a\\"b\\\\c"');
  });
});
