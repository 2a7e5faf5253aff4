/**
 * A witness of a database's state that shares no code with Godwit's schema fingerprint or
 * data checksums, so a blind spot in those cannot pass both sides of a rollback test: the
 * schema as pg_dump prints it, and a copy of every table's rows compared with EXCEPT ALL.
 * Godwit's own schemas (control, snapshots, retired) are left out of both.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import pg from 'pg';

const run = promisify(execFile);

/** Schemas the witness leaves out: Godwit's (godwit, godwit_snapshots, godwit_retired) and the system's. */
const OWN_SCHEMAS = 'godwit*';

/**
 * `pg_dump --schema-only` of the database (or of one table), normalised: one entry per object,
 * without comments, SET lines and pg_dump's per-run \restrict key, sorted, and the columns of
 * each CREATE TABLE sorted too. Column order is the one thing left out: a drop_column rolled
 * back from a copy re-adds its column at the end, which Godwit documents and its fingerprint
 * leaves out too (README, "schema fingerprint").
 */
export async function schemaDump(url: string, options: { table?: string } = {}): Promise<string[]> {
  const scope = options.table === undefined ? ['--exclude-schema', OWN_SCHEMAS] : ['--table', options.table];
  const { stdout } = await run('pg_dump', ['--schema-only', ...scope, url], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  return stdout
    .split(/^--\n-- (?=Name: )/m)
    .map((entry) =>
      entry
        .split('\n')
        .filter((l) => !l.startsWith('--') && !l.startsWith('Name: ') && !/^SET \w+ = /.test(l) && !l.startsWith('SELECT pg_catalog.set_config(') && !/^\\(un)?restrict /.test(l))
        .join('\n')
        .trim(),
    )
    .filter((entry) => entry !== '')
    .map(sortColumns)
    .sort();
}

/** `CREATE TABLE t (\n    b int,\n    a int\n)...` with its column lines sorted (and their commas dropped). */
function sortColumns(entry: string): string {
  const m = /^(CREATE (?:UNLOGGED )?TABLE [^\n]* \(\n)([\s\S]*?)(\n\)[\s\S]*)$/.exec(entry);
  if (m === null) return entry;
  const columns = m[2]!.split('\n').map((l) => l.replace(/,$/, '')).sort();
  return `${m[1]}${columns.join('\n')}${m[3]}`;
}

export interface Witness {
  /**
   * What differs from when the witness was taken, one line each, [] when nothing does: schema
   * entries only before or only after, and per table the rows only before or only after
   * (EXCEPT ALL, so a duplicated or lost copy of a row counts). Closes the witness.
   */
  differences(): Promise<string[]>;
  close(): Promise<void>;
}

interface CopiedTable {
  /** Quoted, qualified. */
  table: string;
  columns: string[];
  copy: string;
}

/**
 * Takes the witness: the schema dump, and every user table's rows copied as text into
 * temporary tables of a session held open until `differences()` (temporary: invisible to
 * pg_dump and to Godwit, and as text: no dependency on the database's own types).
 */
export async function takeWitness(url: string): Promise<Witness> {
  const schema = await schemaDump(url);
  const client = new pg.Client({ connectionString: url });
  // A test that fails before differences() leaves the session open until its database is dropped.
  client.on('error', () => undefined);
  await client.connect();
  const copied: CopiedTable[] = [];
  try {
    const { rows } = await client.query<{ schema: string; name: string; columns: string[] }>(
      `select n.nspname as schema, c.relname as name, array_agg(a.attname::text order by a.attnum) as columns
         from pg_class c join pg_namespace n on n.oid = c.relnamespace
         join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
        where c.relkind = 'r' and n.nspname not like 'godwit%' and n.nspname not like 'pg\\_%' and n.nspname <> 'information_schema'
        group by 1, 2 order by 1, 2`,
    );
    for (const [i, r] of rows.entries()) {
      const table = `${client.escapeIdentifier(r.schema)}.${client.escapeIdentifier(r.name)}`;
      const copy = `pg_temp.witness_${i}`;
      await client.query(`create temp table witness_${i} as select ${asText(client, r.columns)} from only ${table}`);
      copied.push({ table, columns: r.columns, copy });
    }
  } catch (err) {
    await client.end();
    throw err;
  }

  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await client.end();
  };
  return {
    close,
    async differences() {
      try {
        const now = await schemaDump(url);
        const out = [...onlyIn(schema, now).map((e) => `schema, only before: ${e}`), ...onlyIn(now, schema).map((e) => `schema, only after: ${e}`)];
        for (const t of copied) out.push(...(await dataDifferences(client, t)));
        return out;
      } finally {
        await close();
      }
    },
  };
}

const asText = (client: pg.Client, columns: string[]) => columns.map((c) => `${client.escapeIdentifier(c)}::text as ${client.escapeIdentifier(c)}`).join(', ');

async function dataDifferences(client: pg.Client, t: CopiedTable): Promise<string[]> {
  const now = `select ${asText(client, t.columns)} from only ${t.table}`;
  const before = `select * from ${t.copy}`;
  try {
    const { rows } = await client.query<{ after: string; before: string }>(
      `select (select count(*) from (${now} except all ${before}) x)::text as after, (select count(*) from (${before} except all ${now}) x)::text as before`,
    );
    const { after, before: gone } = rows[0]!;
    return after === '0' && gone === '0' ? [] : [`data of ${t.table}: ${after} rows only after, ${gone} rows only before`];
  } catch (err) {
    // A table or column gone, or no longer castable: the schema lines say what changed.
    return [`data of ${t.table}: cannot compare (${(err as Error).message})`];
  }
}

/** Entries of `a` not matched one for one in `b`. */
function onlyIn(a: string[], b: string[]): string[] {
  const left = new Map<string, number>();
  for (const e of b) left.set(e, (left.get(e) ?? 0) + 1);
  return a.filter((e) => {
    const n = left.get(e) ?? 0;
    if (n === 0) return true;
    left.set(e, n - 1);
    return false;
  });
}
