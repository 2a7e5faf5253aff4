import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChecksumResumeError, ChecksumTableError, checksumQuery, PINNED_SETTINGS, tableChecksum, tableChecksums, type TableChecksum, type TableChecksumOptions } from '../../src/db/checksum';
import { createTestDatabase, type TestDatabase } from '../helpers/db';

let db: TestDatabase;
let client: pg.Client;

/** One statement per call: VACUUM and CLUSTER refuse a multi-statement string. */
async function run(...statements: string[]): Promise<void> {
  for (const statement of statements) await client.query(statement);
}

const sum = (table: string, opts?: TableChecksumOptions): Promise<TableChecksum> => tableChecksum(client, 's', table, opts);

/** Checksum, then `change`, then checksum again. */
async function around(table: string, change: () => Promise<void>, opts?: TableChecksumOptions): Promise<[TableChecksum, TableChecksum]> {
  const before = await sum(table, opts);
  await change();
  return [before, await sum(table, opts)];
}

/** A table of `n` rows with a bigint key, text, NULLs, unicode, numbers, time, json. */
async function people(name: string, n = 500, key = 'id bigint primary key'): Promise<void> {
  await run(
    `drop table if exists s.${name}`,
    `create table s.${name} (${key}, name text, note text, score numeric(8,2), ratio float8, born timestamptz, tags jsonb, ok bool)`,
    `insert into s.${name}
       select g, 'person ' || g || case when g % 7 = 0 then ' 😀 ß Ωμέγα' else '' end,
              case when g % 5 = 0 then null when g % 5 = 1 then '' else md5(g::text) end,
              g * 1.25, g / 3.0, timestamptz '2024-01-01 00:00:00+00' + g * interval '1 hour',
              jsonb_build_object('g', g, 'even', g % 2 = 0), g % 3 = 0
         from generate_series(1, ${n}) g`,
  );
}

beforeAll(async () => {
  db = await createTestDatabase('godwit_checksum');
  client = new pg.Client({ connectionString: db.url });
  await client.connect();
  await run('create schema s');
});

afterAll(async () => {
  await client?.end();
  await db?.drop();
});

describe('independent of physical row order', () => {
  it('is equal after CLUSTER on another index', async () => {
    await people('t_cluster');
    await run('create index t_cluster_note on s.t_cluster (note)');
    const [before, after] = await around('t_cluster', () => run('cluster s.t_cluster using t_cluster_note'));
    expect(after).toEqual(before);
  });

  it('is equal after VACUUM FULL following updates that moved rows', async () => {
    await people('t_vacuum');
    const [before, after] = await around('t_vacuum', () =>
      run(`update s.t_vacuum set name = name || 'x' where id % 2 = 0`, `update s.t_vacuum set name = left(name, -1) where id % 2 = 0`, 'vacuum full s.t_vacuum'),
    );
    const { rows } = await client.query(`select ctid::text from s.t_vacuum where id = 2`);
    expect(rows[0].ctid).not.toBe('(0,2)');
    expect(after).toEqual(before);
  });

  it('is equal after the rows are deleted and inserted again in reverse order', async () => {
    await people('t_reinsert');
    const [before, after] = await around('t_reinsert', () =>
      run(
        'create temp table keep as select * from s.t_reinsert',
        'delete from s.t_reinsert',
        'insert into s.t_reinsert select * from keep order by id desc',
        'drop table keep',
      ),
    );
    expect(after).toEqual(before);
  });
});

describe('sensitive to every change of the data', () => {
  const cases: { name: string; change: string; rows: number }[] = [
    { name: 'one value', change: `update s.t_change set score = score + 0.01 where id = 250`, rows: 500 },
    { name: 'numeric scale (1.0 vs 1.00 are different values)', change: `update s.t_change set tags = '{"g": 1.0}' where id = 1`, rows: 500 },
    { name: 'one character of a long text', change: `update s.t_change set note = note || 'x' where id = 3`, rows: 500 },
    { name: 'NULL becomes empty string', change: `update s.t_change set note = '' where id = 5`, rows: 500 },
    { name: 'empty string becomes NULL', change: `update s.t_change set note = null where id = 6`, rows: 500 },
    { name: 'float by its last bit', change: `update s.t_change set ratio = 0.1::float8 + 0.2::float8 where id = 7`, rows: 500 },
    { name: 'one instant of a timestamptz', change: `update s.t_change set born = born + interval '1 microsecond' where id = 8`, rows: 500 },
    { name: 'a deleted row', change: `delete from s.t_change where id = 9`, rows: 499 },
    { name: 'values swapped between two rows', change: `update s.t_change set name = case id when 10 then 'person 11' else 'person 10' end where id in (10, 11)`, rows: 500 },
    { name: 'values moved between two columns', change: `update s.t_change set name = note, note = name where id = 12`, rows: 500 },
  ];
  for (const c of cases) {
    it(`differs after ${c.name}`, async () => {
      await people('t_change');
      await run(`update s.t_change set ratio = 0.3, tags = '{"g": 1.00}' where id in (1, 7)`);
      const [before, after] = await around('t_change', () => run(c.change));
      expect(after.rows).toBe(c.rows);
      expect(after.checksum).not.toBe(before.checksum);
    });
  }

  it('counts duplicate rows: a duplicated row differs, and so does a third copy', async () => {
    await run('create table s.t_dup (a int, b text)', `insert into s.t_dup values (1, 'x'), (2, 'y')`);
    const one = await sum('t_dup');
    await run(`insert into s.t_dup values (1, 'x')`);
    const two = await sum('t_dup');
    await run(`insert into s.t_dup values (1, 'x')`);
    const three = await sum('t_dup');
    expect(new Set([one.checksum, two.checksum, three.checksum]).size).toBe(3);
    expect([one.rows, two.rows, three.rows]).toEqual([2, 3, 4]);
    // Two copies of each of two rows, in any order, is one multiset.
    await run('create table s.t_dup2 (b text, a int)', `insert into s.t_dup2 values ('x', 1), ('y', 2), ('x', 1), ('x', 1)`);
    expect((await sum('t_dup2')).checksum).toBe(three.checksum);
  });
});

describe('independent of column order and physical layout', () => {
  it('is equal after a column is dropped, added again at the end and refilled', async () => {
    await people('t_cols');
    const [before, after] = await around('t_cols', () =>
      run(
        'create temp table saved as select id, note from s.t_cols',
        'alter table s.t_cols drop column note',
        'alter table s.t_cols add column note text',
        'update s.t_cols t set note = saved.note from saved where saved.id = t.id',
        'drop table saved',
      ),
    );
    const { rows } = await client.query(`select attnum from pg_attribute where attrelid = 's.t_cols'::regclass and attname = 'note'`);
    expect(rows[0].attnum).toBe(9);
    expect(after).toEqual(before);
  });

  it('is equal for a copy of some columns in another order, with the same filter (a snapshot)', async () => {
    await people('t_src');
    await run('create table s.t_snap as select note, id from s.t_src where id % 4 = 0');
    const source = await sum('t_src', { columns: ['id', 'note'], where: 'id % 4 = 0' });
    expect(await sum('t_snap')).toEqual({ ...source, table: 's.t_snap' });
    expect(source.rows).toBe(125);
  });

  it('names the column of a value: the same values under another column name differ', async () => {
    await run('create table s.t_name_a (x int, y int)', 'create table s.t_name_b (x int, z int)', 'insert into s.t_name_a values (1, 2)', 'insert into s.t_name_b values (1, 2)');
    expect((await sum('t_name_a')).checksum).not.toBe((await sum('t_name_b')).checksum);
  });

  it('does not depend on collations: a case-insensitive column hashes its bytes, a C column holds the same data', async () => {
    await run(
      `create collation s.ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false)`,
      'create table s.t_coll_ci (v text collate s.ci)',
      'create table s.t_coll_c (v text collate "C")',
      `insert into s.t_coll_ci values ('Straße'), ('abc')`,
      `insert into s.t_coll_c values ('abc'), ('Straße')`,
    );
    const ci = await sum('t_coll_ci');
    expect((await sum('t_coll_c')).checksum).toBe(ci.checksum);
    const [, upper] = await around('t_coll_ci', () => run(`update s.t_coll_ci set v = 'ABC' where v = 'abc'`));
    expect(upper.checksum).not.toBe(ci.checksum);
  });

  it('does not depend on the session: time zone, date style, float digits, bytea output', async () => {
    await people('t_session');
    await run('alter table s.t_session add column raw bytea', `update s.t_session set raw = decode(md5(id::text), 'hex')`);
    const plain = await sum('t_session');
    await run(`set timezone = 'Asia/Kathmandu'`, `set datestyle = 'SQL, DMY'`, 'set extra_float_digits = -3', `set bytea_output = 'escape'`, `set intervalstyle = 'iso_8601'`);
    try {
      expect(await sum('t_session')).toEqual(plain);
      const { rows } = await client.query(`select current_setting('TimeZone') as tz, current_setting('extra_float_digits') as efd`);
      expect(rows[0]).toEqual({ tz: 'Asia/Kathmandu', efd: '-3' });
    } finally {
      await run('reset timezone', 'reset datestyle', 'reset extra_float_digits', 'reset bytea_output', 'reset intervalstyle');
    }
  });

  it('hashes an enum by its label, so a re-created enum with the same labels is the same data', async () => {
    await run(`create type s.mood as enum ('sad', 'happy')`, 'create table s.t_enum (id int, m s.mood)', `insert into s.t_enum values (1, 'happy'), (2, 'sad'), (3, null)`);
    const [before, after] = await around('t_enum', () =>
      run(
        'alter table s.t_enum alter column m type text',
        'drop type s.mood',
        `create type s.mood as enum ('sad', 'happy')`,
        'alter table s.t_enum alter column m type s.mood using m::s.mood',
      ),
    );
    expect(after).toEqual(before);
  });
});

describe('values of every shape', () => {
  it('covers unicode, TOASTed text, wide rows, NULLs, arrays, ranges and domains, and tells them apart', async () => {
    const wide = Array.from({ length: 120 }, (_, i) => `c${i} int`).join(', ');
    await run(
      `create domain s.positive as bigint check (value > 0)`,
      `create table s.t_shapes (id s.positive primary key, u text, big text, plain_big text, arr int[], rng int4range, uid uuid, iv interval, ${wide})`,
      `alter table s.t_shapes alter column plain_big set storage external`,
      `insert into s.t_shapes (id, u, big, plain_big, arr, rng, uid, iv, c0, c119)
         select g, repeat('ü€😀', g), repeat(md5(g::text), 4000), repeat(md5((g + 1)::text), 3000),
                array[g, null, g + 1], int4range(g, g + 10), md5(g::text)::uuid, g * interval '1 day 2 hours',
                case when g % 2 = 0 then g end, g
           from generate_series(1, 40) g`,
    );
    const { rows } = await client.query(`select pg_column_size(big) < octet_length(big) as compressed from s.t_shapes limit 1`);
    expect(rows[0].compressed).toBe(true);
    const base = await sum('t_shapes');
    expect(base.rows).toBe(40);
    const changes = [
      `update s.t_shapes set big = overlay(big placing 'X' from 60000) where id = 3`,
      `update s.t_shapes set plain_big = plain_big || ' ' where id = 4`,
      `update s.t_shapes set u = u || '́' where id = 5`,
      `update s.t_shapes set arr = array[5, 6, null] where id = 5`,
      `update s.t_shapes set rng = int4range(6, 16, '[]') where id = 6`,
      `update s.t_shapes set c0 = 0 where id = 7`,
      `update s.t_shapes set c60 = 0 where id = 8`,
      `update s.t_shapes set c119 = null where id = 8`,
      // Equal as intervals (a day counts as 24 hours), but not the same value.
      `update s.t_shapes set iv = interval '26 hours' where id = 1`,
    ];
    const seen = new Set([base.checksum]);
    for (const change of changes) {
      await run('begin', change);
      seen.add((await sum('t_shapes')).checksum);
      await run('rollback');
    }
    expect(seen.size).toBe(changes.length + 1);
    expect((await sum('t_shapes')).checksum).toBe(base.checksum);
  });

  it('gives an empty table 0 rows and a fixed checksum', async () => {
    await run('create table s.t_empty (id int primary key, v text)', 'create table s.t_empty2 (v text)');
    const empty = await sum('t_empty');
    expect(empty).toEqual({ table: 's.t_empty', rows: 0, checksum: `rowsum64:${'0'.repeat(32)}` });
    expect((await sum('t_empty2', { chunkRows: 1 })).checksum).toBe(empty.checksum);
  });

  it('counts the rows of a table without columns', async () => {
    await run('create table s.t_nocols ()', 'insert into s.t_nocols default values', 'insert into s.t_nocols default values');
    const two = await sum('t_nocols');
    expect(two.rows).toBe(2);
    await run('insert into s.t_nocols default values');
    expect((await sum('t_nocols')).checksum).not.toBe(two.checksum);
  });
});

describe('chunks, progress and resume', () => {
  /** Runs until `stopAfter` progress reports, returns the last resume point (after a JSON round trip, as in a heartbeat). */
  async function interrupted(table: string, opts: TableChecksumOptions, stopAfter: number): Promise<unknown> {
    let last: unknown;
    let reports = 0;
    const stop = new Error('worker crashed');
    await expect(
      sum(table, {
        ...opts,
        onProgress: (p) => {
          last = JSON.parse(JSON.stringify(p.resumeFrom));
          if (++reports === stopAfter) throw stop;
        },
      }),
    ).rejects.toBe(stop);
    return last;
  }

  for (const [label, key] of [
    ['a bigint primary key', 'id bigint primary key'],
    ['a text primary key', 'id text primary key'],
    ['no primary key (ctid page ranges)', 'id bigint'],
  ] as const) {
    it(`with ${label}: chunked equals one pass, and a run stopped after 3 chunks resumes to the same checksum`, async () => {
      await people('t_resume', 2000, key);
      await run('analyze s.t_resume');
      const whole = await sum('t_resume');
      const progress: number[] = [];
      const chunked = await sum('t_resume', { chunkRows: 300, onProgress: (p) => progress.push(p.rowsDone) });
      expect(chunked).toEqual(whole);
      expect(progress.length).toBeGreaterThanOrEqual(6);
      expect(progress.at(-1)).toBe(2000);
      expect(progress).toEqual([...progress].sort((a, b) => a - b));

      const point = await interrupted('t_resume', { chunkRows: 300 }, 3);
      const resumedProgress: number[] = [];
      const resumed = await sum('t_resume', { chunkRows: 300, resume: point, onProgress: (p) => resumedProgress.push(p.rowsDone) });
      expect(resumed).toEqual(whole);
      expect(resumedProgress[0]).toBeGreaterThan(progress[2]!);
      // A different chunk size on the retry is fine.
      expect(await sum('t_resume', { chunkRows: 1000, resume: point })).toEqual(whole);
    });
  }

  const uneven: [string, string][] = [
    [
      'a sparse integer key reaching both ends of bigint',
      `select -9223372036854775808 + g from generate_series(0, 99) g
       union all select g from generate_series(1, 1000) g
       union all select 1000000000000 + g * 7 from generate_series(1, 1000) g
       union all select 9223372036854775807 - g from generate_series(0, 99) g`,
    ],
    ['a dense integer key with a gap', `select g from generate_series(1, 1200) g union all select g from generate_series(5001, 6000) g`],
  ];
  for (const [label, ids] of uneven) {
    it(`with ${label}: every row exactly once, no chunk over 4 × the chunk size, resumable`, async () => {
      await run('drop table if exists s.t_uneven', 'create table s.t_uneven (id bigint primary key, v text)', `insert into s.t_uneven select id, 'v' || id from (${ids}) x(id)`, 'analyze s.t_uneven');
      const whole = await sum('t_uneven');
      expect(whole.rows).toBe(2200);
      const sizes: number[] = [];
      let done = 0;
      const chunked = await sum('t_uneven', {
        chunkRows: 200,
        onProgress: (p) => {
          sizes.push(p.rowsDone - done);
          done = p.rowsDone;
        },
      });
      expect(chunked).toEqual(whole);
      expect(Math.max(...sizes)).toBeLessThanOrEqual(800);
      expect(sizes.length).toBeGreaterThanOrEqual(6);
      for (const stopAfter of [2, 4, 8]) {
        const point = await interrupted('t_uneven', { chunkRows: 200 }, stopAfter);
        expect(await sum('t_uneven', { chunkRows: 200, resume: point })).toEqual(whole);
      }
    });
  }

  it('reads a partitioned table with a primary key in key chunks, and one without in one pass', async () => {
    await run(
      'create table s.t_parts (id int primary key, v text) partition by range (id)',
      'create table s.t_parts_1 partition of s.t_parts for values from (0) to (1000)',
      'create table s.t_parts_2 partition of s.t_parts for values from (1000) to (3000)',
      `insert into s.t_parts select g, 'v' || g from generate_series(1, 2500) g`,
      'create table s.t_parts_nokey (id int, v text) partition by list ((id % 2))',
      'create table s.t_parts_nokey_0 partition of s.t_parts_nokey for values in (0)',
      'create table s.t_parts_nokey_1 partition of s.t_parts_nokey for values in (1)',
      `insert into s.t_parts_nokey select g, 'v' || g from generate_series(1, 2500) g`,
      'create table s.t_parts_plain as select * from s.t_parts',
    );
    const plain = await sum('t_parts_plain');
    const chunks: number[] = [];
    expect(await sum('t_parts', { chunkRows: 300, onProgress: (p) => chunks.push(p.rowsDone) })).toEqual({ ...plain, table: 's.t_parts' });
    expect(chunks.length).toBeGreaterThanOrEqual(8);
    const once: number[] = [];
    expect(await sum('t_parts_nokey', { chunkRows: 300, onProgress: (p) => once.push(p.rowsDone) })).toEqual({ ...plain, table: 's.t_parts_nokey' });
    expect(once).toEqual([2500]);
  });

  it('a finished resume point returns the result without reading the table', async () => {
    await people('t_done', 50);
    let point: unknown;
    const full = await sum('t_done', { onProgress: (p) => (point = p.resumeFrom) });
    await run('drop table s.t_done', 'create table s.t_done (id bigint primary key, name text, note text, score numeric(8,2), ratio float8, born timestamptz, tags jsonb, ok bool)');
    expect(await sum('t_done', { resume: point })).toEqual(full);
  });

  it('starts over when a table without a primary key was rewritten between the crash and the resume', async () => {
    await people('t_rewrite', 2000, 'id bigint');
    await run('analyze s.t_rewrite');
    const whole = await sum('t_rewrite');
    const point = await interrupted('t_rewrite', { chunkRows: 300 }, 2);
    await run('create index t_rewrite_by_note on s.t_rewrite (note desc)', 'cluster s.t_rewrite using t_rewrite_by_note');
    const reports: number[] = [];
    expect(await sum('t_rewrite', { chunkRows: 300, resume: point, onProgress: (p) => reports.push(p.rowsDone) })).toEqual(whole);
    expect(reports[0]).toBeLessThanOrEqual(400);
  });

  it('refuses a resume point of another column set, filter or table, and one that is not a resume point', async () => {
    await people('t_sig', 2000);
    await run('analyze s.t_sig');
    const point = await interrupted('t_sig', { chunkRows: 300 }, 2);
    await expect(sum('t_sig', { chunkRows: 300, resume: point, columns: ['id', 'name'] })).rejects.toThrow(ChecksumResumeError);
    await expect(sum('t_sig', { chunkRows: 300, resume: point, where: 'id > 5' })).rejects.toThrow(ChecksumResumeError);
    await people('t_sig2', 2000);
    await expect(sum('t_sig2', { resume: point })).rejects.toThrow(/resume point is for another table, column set, filter or primary key/);
    await expect(sum('t_sig', { resume: { page: 3 } })).rejects.toThrow(/is not a resume point/);
  });

  it('tableChecksums: several tables in order, resumable in the middle of the second', async () => {
    await people('t_many_a', 700);
    await people('t_many_b', 2000);
    await run('analyze s.t_many_a', 'analyze s.t_many_b');
    const tables = [
      { schema: 's', table: 't_many_a' },
      { schema: 's', table: 't_many_b', columns: ['id', 'name'] },
    ];
    const full = await tableChecksums(client, tables);
    expect(full.map((t) => t.table)).toEqual(['s.t_many_a', 's.t_many_b']);
    expect(full[1]).toEqual(await sum('t_many_b', { columns: ['name', 'id'] }));

    let point: unknown;
    let reports = 0;
    await expect(
      tableChecksums(client, tables, {
        chunkRows: 300,
        onProgress: (p) => {
          point = JSON.parse(JSON.stringify(p.resumeFrom));
          if (p.table === 's.t_many_b' && ++reports === 2) throw new Error('crash');
        },
      }),
    ).rejects.toThrow('crash');
    const seen: string[] = [];
    expect(await tableChecksums(client, tables, { chunkRows: 300, resume: point, onProgress: (p) => seen.push(p.table) })).toEqual(full);
    expect(new Set(seen)).toEqual(new Set(['s.t_many_b']));
  });
});

describe('running it', () => {
  it('works inside the caller’s transaction, sees its uncommitted rows, and leaves its settings alone', async () => {
    await people('t_tx', 100);
    const committed = await sum('t_tx');
    await run('begin isolation level repeatable read', `set local timezone = 'America/Lima'`, 'insert into s.t_tx (id) values (1000)');
    try {
      const inside = await sum('t_tx', { chunkRows: 30 });
      expect(inside.rows).toBe(101);
      const { rows } = await client.query(`select current_setting('TimeZone') as tz`);
      expect(rows[0].tz).toBe('America/Lima');
    } finally {
      await run('rollback');
    }
    expect(await sum('t_tx')).toEqual(committed);
  });

  it('puts the session settings back when it fails half-way', async () => {
    await people('t_fail', 100);
    const before = await client.query(`select ${PINNED_SETTINGS.map(([n]) => `current_setting('${n}')`).join(', ')}`);
    await expect(sum('t_fail', { where: 'id / 0 = 1' })).rejects.toThrow(/division by zero/);
    await expect(sum('t_fail', { chunkRows: 10, onProgress: () => { throw new Error('stop'); } })).rejects.toThrow('stop');
    const after = await client.query(`select ${PINNED_SETTINGS.map(([n]) => `current_setting('${n}')`).join(', ')}`);
    expect(after.rows).toEqual(before.rows);
  });

  it('names a missing table and a missing column', async () => {
    await expect(sum('no_such_table')).rejects.toThrow(new ChecksumTableError('cannot checksum s.no_such_table: no such table', 's.no_such_table'));
    await people('t_err', 3);
    await expect(sum('t_err', { columns: ['id', 'nope'] })).rejects.toThrow('cannot checksum s.t_err: it has no column "nope"');
  });

  it('quotes hostile names: a table and columns with quotes, dots and spaces', async () => {
    await run(`create table s."we""ird.name" ("a b" int primary key, "x"";drop" text)`, `insert into s."we""ird.name" values (1, 'one'), (2, null)`);
    const r = await tableChecksum(client, 's', 'we"ird.name', { chunkRows: 1 });
    expect(r.rows).toBe(2);
    expect(await tableChecksum(client, 's', 'we"ird.name')).toEqual(r);
  });

  it('lets Postgres run it as a parallel aggregate', async () => {
    await people('t_parallel', 5000);
    await run('analyze s.t_parallel');
    const sql = await checksumQuery(client, 's', 't_parallel');
    await run('begin', 'set local parallel_setup_cost = 0', 'set local parallel_tuple_cost = 0', 'set local min_parallel_table_scan_size = 0', 'set local max_parallel_workers_per_gather = 2');
    try {
      const { rows } = await client.query(`explain (costs off) ${sql}`);
      const plan = rows.map((r) => r['QUERY PLAN'] as string).join('\n');
      expect(plan).toMatch(/Gather/);
      expect(plan).toMatch(/Partial Aggregate/);
      expect(plan).toMatch(/Parallel Seq Scan/);
    } finally {
      await run('rollback');
    }
  });
});
