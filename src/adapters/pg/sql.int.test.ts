/**
 * The contract of the `Sql` port, run against both drivers: the PostgreSQL server on this machine
 * (a fresh `utl_test_*` database) and PGlite (a fresh data directory). The same calls must give
 * the same values, the same transaction outcomes and the same errors; the few places where the
 * drivers differ by nature (one connection vs a pool) are tested per driver below.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sql } from '../../app/ports.js';
import { bothStores, freshDatabase, freshDataDir, type OpenedStore } from '../../../test/support/pg.js';
import { LOCK_FILE, pgliteSql } from './pglite.js';
import { DatabaseUnreachableError, DataDirInUseError, openSql, pgSql, TransactionAbortedError } from './sql.js';

/** A promise resolved from outside: ordering without sleeps. */
function deferred(): { promise: Promise<void>; resolve(): void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe.each(bothStores())('Sql contract: $name', (store) => {
  let opened: OpenedStore;
  let sql: Sql;

  beforeAll(async () => {
    opened = await store.open();
    sql = opened.sql;
  });
  afterAll(async () => {
    await opened.close();
  });

  it('reports its kind', () => {
    expect(sql.kind).toBe(store.name);
  });

  it('maps types as pg does: int8 and numeric as exact strings, int2/int4 as numbers, bool, bytea as Buffer, NULL', async () => {
    await sql.exec(`CREATE TABLE types_t (i8 bigint, n numeric, i4 integer, i2 smallint, b boolean, bytes bytea, t text)`);
    const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    await sql.query(`INSERT INTO types_t VALUES ($1, $2, $3, $4, $5, $6, $7), (NULL, NULL, NULL, NULL, NULL, NULL, NULL)`, [
      '9007199254740993',
      '0.000000000000000001',
      -2147483648,
      32767,
      true,
      bytes,
      'é€😀 "quoted" \\ back',
    ]);
    const { rows } = await sql.query(`SELECT * FROM types_t ORDER BY i8 NULLS LAST`);
    expect(rows[0]).toEqual({
      i8: '9007199254740993',
      n: '0.000000000000000001',
      i4: -2147483648,
      i2: 32767,
      b: true,
      bytes,
      t: 'é€😀 "quoted" \\ back',
    });
    expect(Buffer.isBuffer(rows[0]!.bytes)).toBe(true);
    expect(rows[1]).toEqual({ i8: null, n: null, i4: null, i2: null, b: null, bytes: null, t: null });
    // Arithmetic stays in the database and exact: 2^53 + 1 + 1.
    const sum = await sql.query<{ s: string }>(`SELECT i8 + 1 AS s FROM types_t WHERE i8 IS NOT NULL`);
    expect(sum.rows).toEqual([{ s: '9007199254740994' }]);
  });

  it('inserts 10,000 rows from text[] parameters with unnest in one statement', async () => {
    await sql.exec(`CREATE TABLE bulk_t (id text PRIMARY KEY, payload text NOT NULL)`);
    const ids = Array.from({ length: 10_000 }, (_, i) => `id-${i}`);
    const payloads = ids.map((id, i) => `${id} "q" \\ ${'x'.repeat(i % 50)}`);
    const res = await sql.query(`INSERT INTO bulk_t (id, payload) SELECT * FROM unnest($1::text[], $2::text[])`, [ids, payloads]);
    expect(res.rowCount).toBe(10_000);
    const back = await sql.query<{ id: string; payload: string }>(`SELECT id, payload FROM bulk_t WHERE id = ANY($1::text[]) ORDER BY id`, [['id-1', 'id-9999']]);
    expect(back.rows).toEqual([
      { id: 'id-1', payload: payloads[1] },
      { id: 'id-9999', payload: payloads[9999] },
    ]);
    const count = await sql.query<{ n: string }>(`SELECT count(*) AS n FROM bulk_t`);
    expect(count.rows).toEqual([{ n: '10000' }]);
  });

  it('runs several statements with exec', async () => {
    await sql.exec(`
      CREATE TABLE exec_t (n integer);
      INSERT INTO exec_t VALUES (1);
      INSERT INTO exec_t VALUES (2);
    `);
    const { rows } = await sql.query<{ total: string }>(`SELECT sum(n) AS total FROM exec_t`);
    expect(rows).toEqual([{ total: '3' }]);
  });

  it('INSERT … ON CONFLICT DO NOTHING RETURNING gives the row once, then nothing', async () => {
    await sql.exec(`CREATE TABLE once_t (id text PRIMARY KEY)`);
    const first = await sql.query(`INSERT INTO once_t VALUES ($1) ON CONFLICT DO NOTHING RETURNING id`, ['e1']);
    const again = await sql.query(`INSERT INTO once_t VALUES ($1) ON CONFLICT DO NOTHING RETURNING id`, ['e1']);
    expect(first).toEqual({ rows: [{ id: 'e1' }], rowCount: 1 });
    expect(again).toEqual({ rows: [], rowCount: 0 });
  });

  it('commits a transaction when the callback resolves, with its value', async () => {
    await sql.exec(`CREATE TABLE commit_t (n integer)`);
    const value = await sql.transaction(async (tx) => {
      await tx.query(`INSERT INTO commit_t VALUES ($1)`, [1]);
      await tx.exec(`INSERT INTO commit_t VALUES (2)`);
      return 'done';
    });
    expect(value).toBe('done');
    expect((await sql.query(`SELECT n FROM commit_t ORDER BY n`)).rows).toEqual([{ n: 1 }, { n: 2 }]);
  });

  it('rolls a transaction back when the callback throws, and rethrows the same error', async () => {
    await sql.exec(`CREATE TABLE rollback_t (n integer)`);
    const boom = new Error('boom');
    await expect(
      sql.transaction(async (tx) => {
        await tx.query(`INSERT INTO rollback_t VALUES (1)`);
        throw boom;
      }),
    ).rejects.toBe(boom);
    expect((await sql.query(`SELECT n FROM rollback_t`)).rows).toEqual([]);
  });

  it('reports a COMMIT that rolled back, when the callback swallowed a failed statement', async () => {
    await sql.exec(`CREATE TABLE aborted_t (id integer PRIMARY KEY)`);
    await expect(
      sql.transaction(async (tx) => {
        await tx.query(`INSERT INTO aborted_t VALUES (1)`);
        await tx.query(`INSERT INTO aborted_t VALUES (1)`).catch((err: unknown) => {
          expect((err as { code?: string }).code).toBe('23505');
        });
      }),
    ).rejects.toBeInstanceOf(TransactionAbortedError);
    expect((await sql.query(`SELECT id FROM aborted_t`)).rows).toEqual([]);
  });

  it('passes database errors through with their SQLSTATE code', async () => {
    await expect(sql.query(`SELECT * FROM no_such_table`)).rejects.toMatchObject({ code: '42P01' });
    // The store is still usable afterwards (PGlite has one connection).
    expect((await sql.query(`SELECT 1 AS one`)).rows).toEqual([{ one: 1 }]);
  });

  it('serialises 20 concurrent read-then-write transactions: none loses an update', async () => {
    await sql.exec(`CREATE TABLE counter_t (id integer PRIMARY KEY, n bigint NOT NULL); INSERT INTO counter_t VALUES (1, 0);`);
    // On a server the row lock does it; PGlite has one connection and must queue whole
    // transactions, so it is tested without the lock (interleaving would lose updates).
    const lock = store.name === 'postgres' ? ' FOR UPDATE' : '';
    await Promise.all(
      Array.from({ length: 20 }, () =>
        sql.transaction(async (tx) => {
          const { rows } = await tx.query<{ n: string }>(`SELECT n FROM counter_t WHERE id = 1${lock}`);
          await tx.query(`SELECT pg_sleep(0)`); // another round trip between read and write
          await tx.query(`UPDATE counter_t SET n = $1 WHERE id = 1`, [BigInt(rows[0]!.n) + 1n]);
        }),
      ),
    );
    expect((await sql.query(`SELECT n FROM counter_t`)).rows).toEqual([{ n: '20' }]);
  });

  it('refuses a call on the Sql itself from inside its own transaction (it would deadlock on PGlite)', async () => {
    await expect(sql.transaction(() => sql.query(`SELECT 1`))).rejects.toThrow(/inside its own transaction/);
    await expect(sql.transaction(() => sql.transaction(() => Promise.resolve(1)))).rejects.toThrow(/inside its own transaction/);
  });

  it('a query outside an open transaction never sees its uncommitted rows (on PGlite it waits for the COMMIT)', async () => {
    await sql.exec(`CREATE TABLE wait_t (n integer)`);
    const inside = deferred();
    const release = deferred();
    const tx = sql.transaction(async (t) => {
      await t.query(`INSERT INTO wait_t VALUES (1)`);
      inside.resolve();
      await release.promise;
      await t.query(`INSERT INTO wait_t VALUES (2)`);
    });
    await inside.promise;
    const outside = sql.query<{ n: number }>(`SELECT n FROM wait_t ORDER BY n`).then((r) => r.rows);
    if (store.name === 'postgres') {
      // Another pooled connection answers at once, with what is committed: nothing yet.
      expect(await outside).toEqual([]);
      release.resolve();
      await tx;
    } else {
      // One connection: the query is queued behind the whole transaction, which goes on working.
      release.resolve();
      await tx;
      expect(await outside).toEqual([{ n: 1 }, { n: 2 }]);
    }
  });

  it('refuses a tx used after its transaction ended', async () => {
    let leaked: Parameters<Parameters<Sql['transaction']>[0]>[0] | undefined;
    await sql.transaction((tx) => {
      leaked = tx;
      return Promise.resolve();
    });
    await expect(leaked!.query(`SELECT 1`)).rejects.toThrow();
  });

  it('keeps its data across close and reopen; a closed Sql refuses work and closes again harmlessly', async () => {
    await sql.exec(`CREATE TABLE kept_t (id bigint PRIMARY KEY); INSERT INTO kept_t VALUES (9007199254740993);`);
    const old = sql;
    sql = await opened.reopen();
    await old.close();
    await expect(old.query(`SELECT 1`)).rejects.toThrow();
    expect((await sql.query(`SELECT id FROM kept_t`)).rows).toEqual([{ id: '9007199254740993' }]);
  });
});

describe('postgres: a pool', () => {
  it('survives idle connections killed by the server: counted, reported, and the next query reconnects', async () => {
    const db = await freshDatabase();
    const errors: Error[] = [];
    const seen = deferred();
    const sql = pgSql(db.url, {
      max: 2,
      onError: (err) => {
        errors.push(err);
        seen.resolve();
      },
    });
    try {
      await sql.query(`SELECT 1`); // one idle connection in the pool
      const admin = pgSql(db.url.replace(/\/[^/]+$/, '/postgres'), { max: 1 });
      try {
        await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`, [db.name]);
      } finally {
        await admin.close();
      }
      await seen.promise;
      expect(sql.idleErrors).toBe(errors.length);
      expect(errors.length).toBeGreaterThanOrEqual(1);
      expect((await sql.query(`SELECT 1 AS one`)).rows).toEqual([{ one: 1 }]);
    } finally {
      await sql.close();
      await sql.close(); // idempotent
      await db.drop();
    }
  });
});

describe('openSql', () => {
  it('opens PGlite in a data directory it creates when no DATABASE_URL is given, locked while open', async () => {
    const data = await freshDataDir();
    const dataDir = join(data.dir, 'nested', 'db');
    try {
      const sql = await openSql({ dataDir });
      try {
        expect(sql.kind).toBe('pglite');
        expect((await sql.query(`SELECT 1 AS one`)).rows).toEqual([{ one: 1 }]);
        // A second opener (here the same process) is refused rather than corrupting the directory.
        await expect(pgliteSql(dataDir)).rejects.toBeInstanceOf(DataDirInUseError);
      } finally {
        await sql.close();
      }
      expect(existsSync(join(dataDir, LOCK_FILE))).toBe(false);
      // A lock left by a process that is gone (pid 2^31 - 1 cannot exist on Linux) is taken over.
      writeFileSync(join(dataDir, LOCK_FILE), '2147483647\n');
      const again = await pgliteSql(dataDir);
      expect((await again.query(`SELECT 1 AS one`)).rows).toEqual([{ one: 1 }]);
      await again.close();
    } finally {
      await data.remove();
    }
  });

  it('opens the server at DATABASE_URL, and fails at once with the password hidden when it is unreachable', async () => {
    const db = await freshDatabase();
    try {
      const sql = await openSql({ databaseUrl: db.url, dataDir: '/nonexistent/unused' });
      expect(sql.kind).toBe('postgres');
      await sql.close();
    } finally {
      await db.drop();
    }
    const failure = openSql({ databaseUrl: 'postgres://u:secret@127.0.0.1:1/x', dataDir: '/nonexistent/unused' });
    await expect(failure).rejects.toBeInstanceOf(DatabaseUnreachableError);
    await expect(failure).rejects.toThrow(/u:\*\*\*@127\.0\.0\.1:1/);
  });
});
