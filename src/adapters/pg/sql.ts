/**
 * The `Sql` port on a PostgreSQL server (`pg.Pool`), and `openSql`, which picks the server when a
 * DATABASE_URL is configured and the embedded PGlite (./pglite.ts) otherwise.
 *
 * Invariants:
 * - A transaction runs on one pooled connection from BEGIN to COMMIT or ROLLBACK. A connection
 *   whose COMMIT or ROLLBACK failed is destroyed, never returned to the pool in an unknown state.
 * - A COMMIT that PostgreSQL turned into a ROLLBACK (the callback swallowed a failed statement)
 *   throws `TransactionAbortedError`: a transaction never reports success without committing.
 * - An idle connection that dies (server restart, network) emits 'error' on the pool; that never
 *   crashes the process: it is counted and passed to `onError`, and the next query reconnects.
 * - Calling the `Sql` itself from inside a transaction callback throws: on PGlite it would wait
 *   forever for the open transaction, and on a server it escapes the transaction and can deadlock
 *   on the rows that transaction locked. Use the `tx` the callback receives. The check follows
 *   the callback's async context with an AsyncLocalStorage, which on Node 20 puts a hook on every
 *   promise the process makes (about 3% of the service's allocations at 5,000 fills/s): on a
 *   server it runs under the tests (VITEST) and with UTL_SQL_GUARD=1, not in production, where
 *   the code it guards is the code the tests ran; on PGlite, where the mistake hangs, always.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import pg from 'pg';
import type { Sql, SqlTx } from '../../app/ports.js';

/** COMMIT rolled back instead: a statement of the transaction had failed and the callback went on. */
export class TransactionAbortedError extends Error {
  override readonly name = 'TransactionAbortedError';
  constructor(options?: { cause?: unknown }) {
    super('COMMIT rolled back: a statement in the transaction failed and the callback did not rethrow', options);
  }
}

/** The database named by DATABASE_URL did not answer at start-up. */
export class DatabaseUnreachableError extends Error {
  override readonly name = 'DatabaseUnreachableError';
  constructor(where: string, options: { cause: unknown }) {
    super(`cannot reach PostgreSQL at ${where}`, options);
  }
}

/** A PGlite data directory is open in another live process (or already in this one). */
export class DataDirInUseError extends Error {
  override readonly name = 'DataDirInUseError';
  constructor(
    readonly dataDir: string,
    readonly pid: number | undefined,
  ) {
    super(`the data directory ${dataDir} is in use${pid === undefined ? '' : ` by process ${pid}`}: one process at a time`);
  }
}

/** Marks the async context of a transaction callback; `open` turns false when it ends. */
export interface TransactionScope {
  open: boolean;
}

/** Whether a server's `Sql` checks for calls from inside its own transaction callbacks (see above). */
export function sqlGuardOn(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.UTL_SQL_GUARD === '1' || (env.VITEST !== undefined && env.UTL_SQL_GUARD !== '0');
}

/** Throws when called from inside an open transaction callback of the same `Sql` (see above). */
export function assertNotInTransaction(scope: AsyncLocalStorage<TransactionScope> | undefined, what: string): void {
  if (scope?.getStore()?.open === true) {
    throw new Error(`${what} called on the Sql inside its own transaction callback: use the tx argument`);
  }
}

/**
 * One parameter as text, the way `pg` prepares it (pg/lib/utils.js `prepareValue`), so that both
 * drivers send the same statement: null and undefined are NULL; arrays become array literals;
 * bytes become bytea hex (`\x…`; pg sends a Buffer in binary, which is the same value for a
 * bytea parameter); a Date becomes ISO-8601 UTC (pg writes local time with its offset: the same
 * instant); other objects become JSON; numbers, bigints and booleans their `String()`. A function
 * or a symbol is a programmer error and throws.
 */
export function toParam(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') return String(value);
  if (typeof value !== 'object') throw new TypeError(`a ${typeof value} cannot be a SQL parameter`);
  if (ArrayBuffer.isView(value)) return '\\x' + bytesOf(value).toString('hex');
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return arrayLiteral(value);
  return JSON.stringify(value);
}

function bytesOf(view: ArrayBufferView): Buffer {
  return Buffer.isBuffer(view) ? view : Buffer.from(view.buffer, view.byteOffset, view.byteLength);
}

function arrayLiteral(items: readonly unknown[]): string {
  const parts = items.map((item): string => {
    if (item === null || item === undefined) return 'NULL';
    if (Array.isArray(item)) return arrayLiteral(item);
    if (ArrayBuffer.isView(item)) return '\\\\x' + bytesOf(item).toString('hex');
    const text = toParam(item) ?? '';
    return '"' + text.replace(/\\/g, '\\\\').replace(/"/g, '\\"') + '"';
  });
  return '{' + parts.join(',') + '}';
}

export interface PgSqlOptions {
  /** Connections in the pool (pg's default: 10). */
  max?: number;
  /** Called with each error of an idle pooled connection (it is dropped; the pool reconnects). */
  onError?: (err: Error) => void;
}

/** The `Sql` of a PostgreSQL server, plus what the pool saw. */
export interface PgSql extends Sql {
  readonly kind: 'postgres';
  /** Errors of idle connections since start (each one dropped and replaced on demand). */
  readonly idleErrors: number;
}

export function pgSql(connectionString: string, opts: PgSqlOptions = {}): PgSql {
  const pool = new pg.Pool({ connectionString, ...(opts.max === undefined ? {} : { max: opts.max }) });
  const scope = sqlGuardOn() ? new AsyncLocalStorage<TransactionScope>() : undefined;
  let idleErrors = 0;
  let closing: Promise<void> | undefined;
  pool.on('error', (err) => {
    // An idle client died; pg-pool has already removed it. Without a listener Node would crash.
    idleErrors++;
    opts.onError?.(err);
  });

  async function run<R>(runner: pg.Pool | pg.PoolClient, text: string, params: readonly unknown[] | undefined): Promise<{ rows: R[]; rowCount: number }> {
    const res = await runner.query(text, params === undefined ? undefined : [...params]);
    return { rows: res.rows as R[], rowCount: res.rowCount ?? 0 };
  }

  async function transaction<T>(fn: (tx: SqlTx) => Promise<T>): Promise<T> {
    const client = await pool.connect();
    const state: TransactionScope = { open: true };
    // Set when the connection may be in an unknown state: `release(broken)` then destroys it.
    let broken: Error | undefined;
    // A checked-out client has no pool listener: a connection that dies between two statements
    // (terminated by the server, say) would emit an unhandled 'error' and crash the process.
    const onError = (err: Error): void => {
      broken = err;
      opts.onError?.(err);
    };
    client.on('error', onError);
    const tx: SqlTx = {
      query: async <R = Record<string, unknown>>(text: string, params?: readonly unknown[]) => {
        if (!state.open) throw new Error('query() on a transaction that has ended');
        return run<R>(client, text, params);
      },
      exec: async (text: string) => {
        if (!state.open) throw new Error('exec() on a transaction that has ended');
        await client.query(text);
      },
    };
    try {
      await client.query('BEGIN');
    } catch (err) {
      state.open = false;
      client.off('error', onError);
      client.release(err as Error);
      throw err;
    }
    try {
      let value: T;
      try {
        value = await (scope === undefined ? fn(tx) : scope.run(state, () => fn(tx)));
      } catch (err) {
        state.open = false;
        await client.query('ROLLBACK').catch((rollbackErr: unknown) => {
          // The connection is unusable (the server or the socket went away). The callback's
          // error is the one to report; the rollback's only decides that the client is destroyed.
          broken = rollbackErr as Error;
        });
        throw err;
      }
      state.open = false;
      const commit = await client.query('COMMIT').catch((commitErr: unknown) => {
        broken = commitErr as Error;
        throw commitErr;
      });
      if (commit.command === 'ROLLBACK') throw new TransactionAbortedError();
      return value;
    } finally {
      state.open = false;
      client.off('error', onError);
      client.release(broken);
    }
  }

  return {
    kind: 'postgres',
    get idleErrors() {
      return idleErrors;
    },
    async query<R = Record<string, unknown>>(text: string, params?: readonly unknown[]) {
      assertNotInTransaction(scope, 'query()');
      return run<R>(pool, text, params);
    },
    async exec(text: string) {
      assertNotInTransaction(scope, 'exec()');
      // Without parameters pg uses the simple query protocol, which runs several statements.
      await pool.query(text);
    },
    async transaction<T>(fn: (tx: SqlTx) => Promise<T>) {
      assertNotInTransaction(scope, 'transaction()');
      return transaction(fn);
    },
    close() {
      closing ??= pool.end();
      return closing;
    },
  };
}

export interface OpenSqlOptions {
  /** A PostgreSQL connection string (DATABASE_URL); when absent, PGlite in `dataDir`. */
  databaseUrl?: string;
  /** PGlite's data directory, created when missing (by `pgliteSql`). */
  dataDir: string;
}

/**
 * The store `utl start` uses: the server at `databaseUrl`, checked with one query so that a wrong
 * URL fails at start-up; else PGlite in `dataDir` (loaded only then: the WASM module is large).
 */
export async function openSql(opts: OpenSqlOptions): Promise<Sql> {
  if (opts.databaseUrl !== undefined && opts.databaseUrl !== '') {
    const sql = pgSql(opts.databaseUrl);
    try {
      await sql.query('SELECT 1');
    } catch (err) {
      await sql.close();
      throw new DatabaseUnreachableError(redact(opts.databaseUrl), { cause: err });
    }
    return sql;
  }
  const { pgliteSql } = await import('./pglite.js');
  return pgliteSql(opts.dataDir);
}

/** The URL without its password, for messages. */
function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return u.toString();
  } catch (err) {
    // Not a URL (a libpq key=value string): say nothing of its content.
    if (err instanceof TypeError) return 'DATABASE_URL';
    throw err;
  }
}
