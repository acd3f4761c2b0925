/**
 * Test helpers for the SQL store: a fresh database on the machine's PostgreSQL for each suite
 * (`utl_test_<random>`, dropped at the end), and `bothStores()`, the two drivers behind the `Sql`
 * port, so a contract suite runs the same cases on each with `describe.each`.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { Sql } from '../../src/app/ports.js';
import { pgSql } from '../../src/adapters/pg/sql.js';
import { pgliteSql } from '../../src/adapters/pg/pglite.js';

/** The maintenance database of the local server (trust auth, see /work/shared/SERVICES.md). */
export const ADMIN_URL = process.env.UTL_TEST_ADMIN_URL ?? 'postgres://root@127.0.0.1:5432/postgres';

async function admin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Creates `utl_test_<random>` on the local server; `drop()` removes it even with sessions open. */
export async function freshDatabase(): Promise<{ url: string; name: string; drop: () => Promise<void> }> {
  const name = `utl_test_${randomBytes(6).toString('hex')}`;
  await admin((c) => c.query(`CREATE DATABASE ${name}`));
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    drop: () => admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => undefined),
  };
}

/** A temporary PGlite data directory under the OS temp dir; `remove()` deletes it. */
export async function freshDataDir(): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'utl-pglite-'));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

export interface OpenedStore {
  /** The store's current `Sql` (a new one after `reopen()`). */
  readonly sql: Sql;
  /** Closes the `Sql` and opens another on the same data, as a restart of the service does. */
  reopen(): Promise<Sql>;
  /** Closes the `Sql` and removes what `open()` created (the database, the data directory). */
  close(): Promise<void>;
}

export interface StoreFactory {
  readonly name: 'postgres' | 'pglite';
  open(): Promise<OpenedStore>;
}

/** A store on `connect()`, reopened by closing and connecting again, removed by `remove()`. */
async function opened(connect: () => Promise<Sql>, remove: () => Promise<void>): Promise<OpenedStore> {
  let sql: Sql;
  try {
    sql = await connect();
  } catch (err) {
    await remove();
    throw err;
  }
  return {
    get sql() {
      return sql;
    },
    async reopen() {
      await sql.close();
      sql = await connect();
      return sql;
    },
    async close() {
      try {
        await sql.close();
      } finally {
        await remove();
      }
    },
  };
}

/** The two drivers, each opened on its own fresh, empty store. */
export function bothStores(): StoreFactory[] {
  return [
    {
      name: 'postgres',
      async open() {
        const db = await freshDatabase();
        return opened(() => Promise.resolve(pgSql(db.url)), db.drop);
      },
    },
    {
      name: 'pglite',
      async open() {
        const data = await freshDataDir();
        return opened(() => pgliteSql(data.dir), data.remove);
      },
    },
  ];
}
