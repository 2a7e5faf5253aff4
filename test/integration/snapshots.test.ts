import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { ensureControlSchema } from '../../src/db/control-schema';
import { bindSnapshots, checkRestored, listSnapshots, pruneSnapshots, retiredName, SnapshotMismatchError, snapshotTableName, takeSnapshots, type SnapshotScope } from '../../src/db/snapshots';
import { listRetired } from '../../src/db/purge';
import { recordRetired } from '../../src/db/retired';
import { tableChecksum } from '../../src/db/checksum';
import type { SnapshotSpec } from '../../src/operations/types';

let db: TestDatabase;
let client: pg.Client;
let seq = 0;
const scope = (): SnapshotScope => ({ migrationId: 'm', runId: `run-${++seq}`, stepId: '1-drop_column' });

beforeAll(async () => {
  db = await createTestDatabase('godwit_snap');
  client = new pg.Client({ connectionString: db.url });
  await client.connect();
  await ensureControlSchema(client);
});

beforeEach(async () => {
  await client.query(`drop table if exists users;
    create table users (id int primary key, email text, bio text);
    insert into users select g, case when g % 7 = 0 then null else 'ü' || g || '@x' end, repeat('long ', g % 400) from generate_series(1, 3000) g`);
});

afterAll(async () => {
  await client?.end();
  await db?.drop();
});

const emailSpec: SnapshotSpec = { kind: 'columns', schema: 'public', table: 'users', key: ['id'], columns: ['email'] };

describe('snapshots', () => {
  it('copies a dropped column and restores it exactly, proven by checksum', async () => {
    const before = await tableChecksum(client, 'public', 'users');
    const s = scope();
    await client.query('begin');
    await takeSnapshots(client, s, [emailSpec]);
    await client.query('alter table users drop column email');
    await client.query('commit');

    await client.query('begin');
    await client.query('alter table users add column email text');
    await client.query(bindSnapshots('update users t set email = s.email from {{snapshot:0}} s where t.id = s.id', s));
    await checkRestored(client, s, [emailSpec]);
    await client.query('commit');
    // same data, although email is now the last column
    expect(await tableChecksum(client, 'public', 'users')).toEqual(before);
    const [rec] = await listSnapshots(client);
    expect(rec).toMatchObject({ kind: 'columns', source: 'public.users', rowCount: 3000 });
    expect(rec!.restoredAt).not.toBeNull();
  });

  it('refuses a restore that does not give back the snapshot data', async () => {
    const s = scope();
    await client.query('begin');
    await takeSnapshots(client, s, [emailSpec]);
    await client.query(`update users set email = 'lost' where id = 1`);
    await client.query('commit');
    await expect(checkRestored(client, s, [emailSpec])).rejects.toThrow(SnapshotMismatchError);
  });

  it('takes a whole-table snapshot and restores the table from it', async () => {
    const before = await tableChecksum(client, 'public', 'users');
    const spec: SnapshotSpec = { kind: 'table', schema: 'public', table: 'users' };
    const s = scope();
    await client.query('begin');
    await takeSnapshots(client, s, [spec]);
    await client.query('delete from users where id % 2 = 0');
    await client.query('commit');
    await client.query(bindSnapshots('truncate users; insert into users select * from {{snapshot:0}}', s));
    await checkRestored(client, s, [spec]);
    expect(await tableChecksum(client, 'public', 'users')).toEqual(before);
  });

  it('blocks writers while the snapshot and the step run, so no write is lost between them', async () => {
    const s = scope();
    await client.query('begin');
    await takeSnapshots(client, s, [emailSpec]);
    const writer = new pg.Client({ connectionString: db.url });
    await writer.connect();
    try {
      await writer.query(`set lock_timeout = '200ms'`);
      await expect(writer.query(`update users set email = 'late' where id = 1`)).rejects.toThrow(/lock timeout/);
      const read = await writer.query('select count(*)::int as n from users');
      expect(read.rows[0]!.n).toBe(3000); // reads go on
    } finally {
      await writer.end();
      await client.query('rollback');
    }
  });

  it('prunes expired snapshots, never one a migration that can still roll back needs', async () => {
    await client.query('delete from godwit.snapshots; delete from godwit.migrations');
    const done = scope();
    const open = scope();
    for (const s of [done, open]) {
      await client.query('begin');
      await takeSnapshots(client, s, [emailSpec], '-1 day'); // already expired
      await client.query('commit');
      await client.query(
        `insert into godwit.migrations (migration_id, checksum, state, workflow_id, run_id, requested_by) values ($1, 'sha256:x', $2, 'w', $3, 't')`,
        [`m-${s.runId}`, s === done ? 'applied' : 'rollback_failed', s.runId],
      );
    }
    const { dropped, kept } = await pruneSnapshots(client);
    expect(dropped).toHaveLength(1);
    expect(kept).toHaveLength(1);
    const left = await listSnapshots(client);
    expect(left.map((r) => r.runId)).toEqual([open.runId]);
    const exists = async (s: SnapshotScope) =>
      (await client.query(`select to_regclass($1) is not null as present`, [`godwit_snapshots.${snapshotTableName(s, 0)}`])).rows[0]!.present;
    expect([await exists(done), await exists(open)]).toEqual([false, true]);
  });
});

describe('purging retired columns and tables', () => {
  /** Retires users.bio (or a table) as a step would, for a run in `state`, kept until `retain`. */
  async function retire(kind: 'column' | 'table', state: string, retain: string): Promise<{ scope: SnapshotScope; name: string }> {
    const s = { ...scope(), migrationId: `retiring-${seq}` };
    const name = retiredName(s, 0);
    await client.query('begin');
    if (kind === 'column') {
      await client.query(`alter table users add column bio_${seq} text; alter table users rename column bio_${seq} to "${name}"`);
      await recordRetired(client, s, [{ kind: 'column', schema: 'public', table: 'users', column: `bio_${seq}` }], retain);
    } else {
      await client.query(`create table legacy_${seq} (id int primary key); alter table legacy_${seq} rename to "${name}"; alter table "${name}" set schema godwit_retired`);
      await recordRetired(client, s, [{ kind: 'table', schema: 'public', table: `legacy_${seq}` }], retain);
    }
    await client.query(`insert into godwit.migrations (migration_id, checksum, state, workflow_id, run_id, requested_by) values ($1, 'sha256:x', $2, 'w', $3, 't')`, [
      s.migrationId,
      state,
      s.runId,
    ]);
    await client.query('commit');
    return { scope: s, name };
  }

  const columnThere = async (name: string) => (await client.query(`select 1 from pg_attribute where attname = $1 and not attisdropped`, [name])).rowCount === 1;
  const tableThere = async (name: string) => (await client.query(`select to_regclass($1) is not null as there`, [`godwit_retired."${name}"`])).rows[0]!.there as boolean;

  it('purges only what a run that ended applied retired, once its retention has ended', async () => {
    await client.query('delete from godwit.snapshots; delete from godwit.migrations; delete from godwit.retired');
    const due = await retire('column', 'applied', '-1 second');
    const dueTable = await retire('table', 'applied', '-1 second');
    const kept = await retire('column', 'applied', '1 day');
    const baking = await retire('column', 'validated', '-1 second');
    const failed = await retire('table', 'rollback_failed', '-1 second');
    // The table was renamed since: the column is found by its retired name.
    await client.query('alter table users rename to members; alter table members rename to users');

    const { purged, deferred } = await pruneSnapshots(client);
    expect(purged.map((r) => r.retiredName).sort()).toEqual([due.name, dueTable.name].sort());
    expect(deferred).toEqual([]);
    expect([await columnThere(due.name), await tableThere(dueTable.name)]).toEqual([false, false]);
    expect([await columnThere(kept.name), await columnThere(baking.name), await tableThere(failed.name)]).toEqual([true, true, true]);
    expect((await listRetired(client)).map((r) => [r.retiredName, r.runState]).sort()).toEqual(
      [
        [kept.name, 'applied'],
        [baking.name, 'validated'],
        [failed.name, 'rollback_failed'],
      ].sort(),
    );
  });

  it('marks as purged what is already gone, and reports what Postgres refuses to drop, leaving it for the next prune', async () => {
    await client.query('delete from godwit.snapshots; delete from godwit.migrations; delete from godwit.retired');
    const gone = await retire('column', 'applied', '-1 second');
    await client.query(`alter table users drop column "${gone.name}"`);
    const viewed = await retire('table', 'applied', '-1 second');
    await client.query(`create view reads_retired as select * from godwit_retired."${viewed.name}"`);
    try {
      const { purged, deferred } = await pruneSnapshots(client);
      expect(purged.map((r) => r.retiredName)).toEqual([gone.name]);
      expect(deferred.map((d) => d.record.retiredName)).toEqual([viewed.name]);
      expect(deferred[0]!.reason).toMatch(/^Postgres refused to drop it: cannot drop table .* because other objects depend on it \(SQLSTATE 2BP01\)$/);
      expect(await tableThere(viewed.name)).toBe(true);
    } finally {
      await client.query('drop view reads_retired');
    }
    expect((await pruneSnapshots(client)).purged.map((r) => r.retiredName)).toEqual([viewed.name]);
  });
});
