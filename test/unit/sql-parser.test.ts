/**
 * The parser is loaded once, asynchronously, before planning; planning an sql step
 * without it is a loud internal error, never a silently skipped parse. This file must
 * not import operations-fixtures, which loads the parser as it is imported.
 */
import { describe, expect, it } from 'vitest';
import { manifestSchema } from '../../src/manifest';
import { loadSqlParser, needsSqlParser, planManifest, SqlParserNotLoadedError } from '../../src/operations';

const manifest = (operations: unknown[]) => manifestSchema.parse({ id: 'test', operations });

describe('loading the SQL parser', () => {
  it('plans operations other than sql without it', () => {
    expect(planManifest(manifest([{ drop_index: { name: 'i' } }])).map((s) => s.kind)).toEqual(['drop_index']);
  });

  it('refuses to plan an sql step before it is loaded', () => {
    expect(() => planManifest(manifest([{ sql: { up: 'select 1', down: 'select 1' } }]))).toThrow(SqlParserNotLoadedError);
    expect(() => planManifest(manifest([{ sql: { up: 'select 1', down: 'select 1' } }]))).toThrow(
      'internal error: the SQL parser is not loaded; await loadSqlParser() (src/operations/sql-parser.ts) before planning a manifest',
    );
  });

  it('is needed offline for sql steps, and for definitions a manifest makes and then rewrites', () => {
    const index = { create_index: { table: 'users', columns: ['email'], name: 'i' } };
    expect(needsSqlParser(manifest([index]))).toBe(false);
    expect(needsSqlParser(manifest([{ add_column: { table: 'users', column: { name: 'a', type: 'text' } } }]))).toBe(false);
    expect(needsSqlParser(manifest([{ sql: { up: 'select 1', down: 'select 1' } }]))).toBe(true);
    expect(needsSqlParser(manifest([index, { rename_column: { table: 'users', from: 'email', to: 'mail' } }]))).toBe(true);
    expect(needsSqlParser(manifest([index, { drop_index: { name: 'i', concurrently: true } }]))).toBe(true);
  });

  it('loads once, however many callers wait for it, and then plans sql steps', async () => {
    const first = loadSqlParser();
    expect(loadSqlParser()).toBe(first);
    await first;
    const [step] = planManifest(manifest([{ sql: { up: 'delete from users' } }]));
    expect(step?.snapshots).toEqual([{ kind: 'table', schema: 'public', table: 'users' }]);
  });
});
