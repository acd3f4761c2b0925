/**
 * The embedded store: PGlite (PostgreSQL 18 compiled to WebAssembly, running in this process)
 * behind the `Sql` port, so `utl start` needs no database server by default.
 *
 * Invariants:
 * - Values come back exactly as `pg` gives them with its default text parsers: PGlite's own
 *   parsers are replaced by `pg.types`, so int8 and numeric are strings (PGlite would give a JS
 *   number for int8 and lose precision above 2^53), bytea is a Buffer, int4 a number.
 * - Parameters are converted to text exactly as `pg` does (`toParam` below), and PGlite's own
 *   type-directed serializers are switched off, so the same call gives the same statement on both
 *   drivers; a JS array becomes a PostgreSQL array literal, so `unnest($1::text[])` works.
 * - PGlite is one connection. Every call goes through one FIFO queue: a transaction holds it from
 *   BEGIN to COMMIT/ROLLBACK, so a `query()` issued while a transaction is open waits for it
 *   instead of running inside it, and two transactions never interleave.
 * - Calling the `Sql` itself (not the `tx`) from inside a transaction would wait for the
 *   transaction that is waiting for it; that programmer error throws at once instead.
 * - One process at a time per data directory: PGlite itself takes no lock, and two processes
 *   writing one directory corrupt it. A lock file holding the owner's pid guards it; a lock left by
 *   a process that is gone (killed) is taken over.
 *
 * Durability: PGlite runs PostgreSQL with fsync off, and its file layer never calls fsync on the
 * host. A committed transaction survives a crash or kill of this process (its writes are in the
 * OS page cache) but not a power loss or kernel crash. docs/embedded-postgres.md has the details.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PGlite, TransactionAbortedError as PgliteAbortedError, type Transaction } from '@electric-sql/pglite';
import pg from 'pg';
import type { Sql, SqlTx } from '../../app/ports.js';
import { DataDirInUseError, TransactionAbortedError, toParam, assertNotInTransaction, type TransactionScope } from './sql.js';

type Parser = (value: string) => unknown;

/**
 * PGlite looks up `parsers[oid]` for every column of every row; this answers every oid with the
 * parser `pg` would use, read from `pg.types` at call time (so a `setTypeParser` applies to both
 * drivers alike). Writes are ignored: PGlite registers its own array parsers at start-up.
 */
const PG_PARSERS: Record<number | string, Parser> = new Proxy<Record<number | string, Parser>>({}, {
  get: (_target, key) => (typeof key === 'string' && /^\d+$/.test(key) ? pgTextParser(Number(key)) : undefined),
  set: () => true,
});

/** No type-directed serializers: parameters arrive as text already (see `toParam`). */
const NO_SERIALIZERS: Record<number | string, (value: unknown) => string> = new Proxy<Record<number | string, (value: unknown) => string>>({}, {
  get: () => undefined,
  set: () => true,
});

function pgTextParser(oid: number): Parser {
  const parse = pg.types.getTypeParser(oid, 'text') as Parser;
  return parse;
}

/** A FIFO queue of async jobs: each starts when the previous one has settled. */
class Queue {
  #tail: Promise<unknown> = Promise.resolve();

  run<T>(job: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(job);
    // The next job waits for this one to settle whatever its outcome; its error, if any, goes to
    // this job's caller through `result`, so the queue's own copy only needs to settle.
    this.#tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }
}

/** The lock file in a PGlite data directory (PostgreSQL ignores files it does not know). */
export const LOCK_FILE = 'utl.lock';

/** Takes the data directory for this process (creating it); returns the release. */
function lockDataDir(dataDir: string): () => void {
  mkdirSync(dataDir, { recursive: true });
  const path = join(dataDir, LOCK_FILE);
  // Two attempts: the second after removing a stale lock. Two processes that both find the same
  // stale lock can both take it over; a narrow window, accepted for a lock that only catches
  // mistakes (a second `utl start` on the same directory).
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(path, `${process.pid}\n`, { flag: 'wx' });
      return () => rmSync(path, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = Number.parseInt(readFileSync(path, 'utf8'), 10);
      if (isAlive(holder)) throw new DataDirInUseError(dataDir, holder);
      rmSync(path, { force: true });
    }
  }
  throw new DataDirInUseError(dataDir, undefined);
}

function isAlive(pid: number): boolean {
  // An unreadable pid is a lock whose writer died between creating and writing it.
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return !isZombie(pid);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ESRCH') return false;
    if (code === 'EPERM') return true; // alive, owned by another user
    throw err;
  }
}

/** A process killed but not yet reaped by its parent (Linux): it holds nothing any more. */
function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
  } catch {
    return false;
  }
}

/**
 * Opens PGlite in `dataDir` (created and initialised on first use; locked for this process until
 * `close()`) or, when `dataDir` is undefined, in memory.
 */
export async function pgliteSql(dataDir: string | undefined): Promise<Sql> {
  const unlock = dataDir === undefined ? () => undefined : lockDataDir(dataDir);
  let db: PGlite;
  try {
    db = await PGlite.create(dataDir === undefined ? {} : { dataDir });
  } catch (err) {
    unlock();
    throw err;
  }
  db.parsers = PG_PARSERS;
  db.serializers = NO_SERIALIZERS;
  const queue = new Queue();
  const scope = new AsyncLocalStorage<TransactionScope>();
  let closed = false;

  function guard(what: string): void {
    if (closed) throw new Error(`pglite: ${what} after close()`);
    assertNotInTransaction(scope, what);
  }

  async function query<R>(runner: Pick<Transaction, 'query'>, text: string, params: readonly unknown[] | undefined): Promise<{ rows: R[]; rowCount: number }> {
    const res = await runner.query<R>(text, params === undefined ? [] : params.map(toParam));
    // `rowCount` is the number in the command tag, as `pg` reports it (rows selected, inserted,
    // updated or deleted); statements without one (CREATE, BEGIN) give 0 rather than null.
    return { rows: res.rows, rowCount: res.rowCount ?? 0 };
  }

  return {
    kind: 'pglite',
    async query<R = Record<string, unknown>>(text: string, params?: readonly unknown[]) {
      guard('query()');
      return queue.run(() => query<R>(db, text, params));
    },
    async exec(text: string) {
      guard('exec()');
      await queue.run(() => db.exec(text));
    },
    async transaction<T>(fn: (tx: SqlTx) => Promise<T>): Promise<T> {
      guard('transaction()');
      return queue.run(async () => {
        const state: TransactionScope = { open: true };
        try {
          return await db.transaction((tx) => {
            const sqlTx: SqlTx = {
              query: <R = Record<string, unknown>>(text: string, params?: readonly unknown[]) => query<R>(tx, text, params),
              exec: async (text: string) => {
                await tx.exec(text);
              },
            };
            return scope.run(state, () => fn(sqlTx));
          });
        } catch (err) {
          // PGlite reports a COMMIT that rolled back (the callback swallowed a failed statement)
          // with its own class; both drivers report it as ours.
          if (err instanceof PgliteAbortedError) throw new TransactionAbortedError({ cause: err });
          throw err;
        } finally {
          state.open = false;
        }
      });
    },
    async close() {
      if (closed) return;
      closed = true;
      try {
        await queue.run(() => db.close());
      } finally {
        unlock();
      }
    },
  };
}
