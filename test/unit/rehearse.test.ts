import { describe, expect, it } from 'vitest';
import { manifestChecksum, manifestSchema, parseManifest } from '../../src/manifest';
import { parseScratchAlias, resolveWithScratch, scratchAlias, withDatabase } from '../../src/rehearse/scratch-target';
import { Prng } from '../../src/rehearse/prng';
import { libpqArgs } from '../../src/rehearse/schema-copy';
import { parentsFirst, type CopyCatalog, type CopyColumn, type CopyTable } from '../../src/rehearse/catalog';
import { valueFor } from '../../src/rehearse/synthetic';
import { rehearsalDetails, rehearsalTableRows, TABLE_HEADER, textTable } from '../../src/rehearse/table';
import { rehearsalManifest } from '../../src/client/rehearse';
import { rehearsalData } from '../../src/cli/commands/rehearse';
import { CliError } from '../../src/cli/exit-codes';
import type { RehearsalReport } from '../../src/contract/rehearse';

describe('scratch target aliases', () => {
  it('name the scratch database of a rehearsal of a target, and parse back', () => {
    const alias = scratchAlias('app-prod', '3f2a9c01b7de');
    expect(alias).toBe('rehearse:app-prod:3f2a9c01b7de');
    expect(parseScratchAlias(alias)).toEqual({ target: 'app-prod', rehearsalId: '3f2a9c01b7de', database: 'godwit_rehearse_3f2a9c01b7de' });
  });

  it('are not ordinary aliases, and reach no database but godwit_rehearse_<id>', () => {
    expect(parseScratchAlias('app-prod')).toBeNull();
    expect(parseScratchAlias('rehearse:app-prod:postgres;drop')).toBeNull();
    expect(parseScratchAlias('rehearse:app-prod:AB')).toBeNull();
    expect(parseScratchAlias('rehearse::abcdef12')).toBeNull();
    expect(() => scratchAlias('app', 'x')).toThrow(/invalid rehearsal id/);
  });

  it('resolve through the target\'s own connection string, with the database swapped', () => {
    const urls: Record<string, string> = { 'app-prod': 'postgres://u:s3cret@db.internal:5432/app?sslmode=require' };
    const resolve = (a: string) => urls[a]!;
    expect(resolveWithScratch('app-prod', resolve)).toBe(urls['app-prod']);
    expect(resolveWithScratch('rehearse:app-prod:abcdef12', resolve)).toBe('postgres://u:s3cret@db.internal:5432/godwit_rehearse_abcdef12?sslmode=require');
    expect(withDatabase("host=db user=u dbname='app' sslmode=require", 'godwit_rehearse_abcdef12')).toBe('host=db user=u sslmode=require dbname=godwit_rehearse_abcdef12');
  });
});

describe('pg_dump and pg_restore arguments', () => {
  it('carry no password: it goes to PGPASSWORD, out of the process list and of error messages', () => {
    const { dbname, env } = libpqArgs('postgres://migrator:p%40ss@db:5432/app?sslmode=require');
    expect(dbname).toBe('postgres://migrator@db:5432/app?sslmode=require');
    expect(env.PGPASSWORD).toBe('p@ss');
  });
});

describe('seeded generator', () => {
  it('gives the same numbers for the same seed, and others for another', () => {
    const draw = (seed: string) => {
      const r = new Prng(seed);
      return Array.from({ length: 20 }, () => r.int(0, 1_000_000));
    };
    expect(draw('abc')).toEqual(draw('abc'));
    expect(draw('abc')).not.toEqual(draw('abd'));
  });
});

const col = (name: string, over: Partial<CopyColumn> = {}): CopyColumn => ({
  name,
  type: 'integer',
  baseType: 'integer',
  category: 'N',
  kind: 'b',
  notNull: false,
  generatedKey: false,
  generated: false,
  enumLabels: null,
  maxLength: null,
  precision: null,
  scale: null,
  ...over,
});
const table = (name: string): CopyTable => ({ schema: 'public', name, qualified: `public.${name}`, label: `public.${name}`, partitioned: false, columns: [col('id')] });

describe('synthetic values', () => {
  const rng = new Prng('values');
  it('fit varchar lengths, numeric precision and enum labels', () => {
    for (let i = 0; i < 200; i++) {
      expect(valueFor(col('code', { type: 'character varying(5)', baseType: 'character varying(5)', category: 'S', maxLength: 5 }), rng).length).toBeLessThanOrEqual(5);
      const n = Number(valueFor(col('price', { type: 'numeric(5,2)', baseType: 'numeric(5,2)', precision: 5, scale: 2 }), rng));
      expect(n).toBeLessThan(1000);
      expect(['a', 'b']).toContain(valueFor(col('mood', { kind: 'e', category: 'E', enumLabels: ['a', 'b'] }), rng));
    }
  });
});

describe('copy order', () => {
  it('puts parents before children, ignoring self references and breaking cycles', () => {
    const catalog: CopyCatalog = {
      tables: ['a_child', 'b_parent', 'c_self', 'd_cycle1', 'e_cycle2'].map(table),
      foreignKeys: [
        { name: 'f1', child: 'public.a_child', childColumns: ['id'], parent: 'public.b_parent', parentColumns: ['id'] },
        { name: 'f2', child: 'public.c_self', childColumns: ['id'], parent: 'public.c_self', parentColumns: ['id'] },
        { name: 'f3', child: 'public.d_cycle1', childColumns: ['id'], parent: 'public.e_cycle2', parentColumns: ['id'] },
        { name: 'f4', child: 'public.e_cycle2', childColumns: ['id'], parent: 'public.d_cycle1', parentColumns: ['id'] },
      ],
      sequences: [],
    };
    const order = parentsFirst(catalog).map((t) => t.name);
    expect(order).toHaveLength(5);
    expect(order.indexOf('b_parent')).toBeLessThan(order.indexOf('a_child'));
    expect(new Set(order).size).toBe(5);
  });
});

describe('rehearsal manifests', () => {
  it('keep the file checksum for the target and carry a quiet-copy policy with a checksum of their own', () => {
    const loaded = parseManifest(
      'id: 0001_x\noperations:\n  - add_column: { table: users, column: { name: c, type: int } }\npolicy:\n  approval: required\n  bake_seconds: 60\n  max_duration: 2h\n  probes: [{ name: errors, kind: sql, sql: "select 0", fail_when: "> 0" }]\n',
      'x.yaml',
    );
    const m = rehearsalManifest(loaded);
    expect(m.checksum).toBe(loaded.checksum);
    expect(m.rehearsal.policy).toMatchObject({ approval: 'never', bake_seconds: 0, data_proof: 'whole_table' });
    expect(m.rehearsal.checksum).not.toBe(loaded.checksum);
    // No health probes (they watch production) and no max_duration in a rehearsal.
    expect(m.rehearsal.policy).not.toHaveProperty('probes');
    expect(m.rehearsal.policy).not.toHaveProperty('max_duration');
    // What the worker checks: the manifest parses to itself, with the checksum it came with.
    expect(manifestChecksum(manifestSchema.parse(m.rehearsal.manifest))).toBe(m.rehearsal.checksum);
  });
});

describe('rehearse options', () => {
  it('default to a sample of 1000 rows, and make a seed for synthetic data', () => {
    expect(rehearsalData({})).toEqual({ kind: 'sample', rows: 1000 });
    const s = rehearsalData({ synthetic: true, sample: '50' });
    expect(s).toMatchObject({ kind: 'synthetic', rows: 50 });
    expect(rehearsalData({ synthetic: true, seed: 'abc' })).toEqual({ kind: 'synthetic', rows: 1000, seed: 'abc' });
  });

  it('refuse a bad sample size, and a seed without --synthetic, saying what to do', () => {
    expect(() => rehearsalData({ sample: 'lots' })).toThrow(CliError);
    expect(() => rehearsalData({ sample: '0' })).toThrow(/--sample expects a whole number/);
    expect(() => rehearsalData({ seed: 'abc' })).toThrow(/add --synthetic/);
  });
});

describe('the rehearsal table', () => {
  const report: RehearsalReport = {
    target: 'app',
    rehearsalId: 'abcdef12',
    scratchTarget: 'rehearse:app:abcdef12',
    database: 'godwit_rehearse_abcdef12',
    data: { kind: 'sample', rows: 1000 },
    status: 'problems',
    tables: [],
    applied: [],
    changed: [],
    notes: [],
    rows: [
      { migrationId: '0001_a', afterStep: 1, summary: 'add column users.c', workflowId: 'w1', outcome: 'proven', forwardMs: 120, rollbackMs: 80, differences: [] },
      { migrationId: '0001_a', afterStep: 2, summary: 'sql | x', workflowId: 'w2', outcome: 'not_proven', forwardMs: 150, rollbackMs: 90, differences: ['column public.users.d: only after'] },
    ],
    notRun: ['0002_b'],
    kept: false,
    copyMs: 500,
  };

  it('has a row per run with its times, verdict and what differed', () => {
    const lines = textTable(TABLE_HEADER, rehearsalTableRows(report.rows));
    expect(lines[0]).toMatch(/^migration\s+step\s+forward\s+rollback\s+proof\s+what differed$/);
    expect(lines[3]).toContain('NOT PROVEN');
    expect(lines[3]).toContain('column public.users.d: only after');
  });

  it('is a markdown table in the Temporal UI, with the migrations not rehearsed', () => {
    const md = rehearsalDetails(report);
    expect(md).toContain('| migration | step | forward | rollback | proof | what differed |');
    expect(md).toContain('sql \\| x');
    expect(md).toContain('not rehearsed (an earlier migration left the copy in an unknown state): 0002_b');
  });
});
