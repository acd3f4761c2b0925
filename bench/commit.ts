/**
 * The cost of the service's commit path in PostgreSQL alone: N generated fills committed through
 * `PgStore.commit` in batches (as the service commits a drain), one batch at a time, on a fresh
 * database. Reports fills/s and the CPU the PostgreSQL backend spent per fill (read from
 * /proc/<backend pid>/stat around the run), beside a raw `COPY` of the same rows into a table
 * shaped like the log with a unique index.
 *
 *   node dist/bench/commit.js [--fills 200000] [--batch 1000] [--runs 3]
 */
import { readFileSync } from 'node:fs';
import { generateLog } from './generate.js';
import { isMain } from './main.js';
import { freshDb } from './service.js';
import { pgSql } from '../src/adapters/pg/sql.js';
import { PgStore, type Incoming } from '../src/adapters/pg/store.js';
import { InstrumentRegistry } from '../src/domain/instrument.js';
import { decodeTradeLine } from '../src/domain/tradeline.js';
import { validateEvent } from '../src/domain/validate.js';

const CLK_TCK = 100;

/** CPU seconds (user + system) of a process so far. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / CLK_TCK;
}

function incoming(n: number): Incoming[] {
  const reg = new InstrumentRegistry();
  const out: Incoming[] = [];
  generateLog({ fills: n, seed: 11, instruments: 50, venues: 5, pricesEvery: 1000 }, (line) => {
    const e = decodeTradeLine(line, reg) ?? (() => {
      const v = validateEvent(JSON.parse(line), reg);
      if (!v.ok) throw new Error(line);
      return v.event;
    })();
    out.push({ event: e, payload: line, source: 'bench', ref: null });
  });
  return out;
}

export async function commitBench(fills: number, batch: number): Promise<{ fillsPerSec: number; pgCpuUsPerFill: number; appCpuUsPerFill: number }> {
  const db = await freshDb();
  const sql = pgSql(db.url, { max: 1 });
  try {
    const store = new PgStore(sql, new InstrumentRegistry());
    await store.migrate();
    const events = incoming(fills);
    // Warm the connection and the month's partition outside the measure.
    await store.commit({ events: events.slice(0, 10), rejected: [] });
    const { rows } = await sql.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    const pid = rows[0]!.pid;
    const pg0 = cpuSeconds(pid);
    const app0 = process.cpuUsage();
    const t0 = performance.now();
    for (let i = 10; i < events.length; i += batch) await store.commit({ events: events.slice(i, i + batch), rejected: [], consumer: { name: 'bench', position: i } });
    const seconds = (performance.now() - t0) / 1000;
    const pg = cpuSeconds(pid) - pg0;
    const app = process.cpuUsage(app0);
    const n = events.length - 10;
    return { fillsPerSec: Math.round(n / seconds), pgCpuUsPerFill: Math.round((pg / n) * 1e7) / 10, appCpuUsPerFill: Math.round(((app.user + app.system) / n) * 10) / 10 };
  } finally {
    await sql.close();
    await db.drop();
  }
}

if (isMain(import.meta.url)) {
  const argv = process.argv.slice(2);
  const flag = (name: string, d: number): number => {
    const i = argv.indexOf(name);
    return i < 0 ? d : Number(argv[i + 1]);
  };
  const fills = flag('--fills', 200_000);
  const batch = flag('--batch', 1000);
  const runs = flag('--runs', 3);
  const results: Awaited<ReturnType<typeof commitBench>>[] = [];
  for (let r = 0; r < runs; r++) {
    const x = await commitBench(fills, batch);
    results.push(x);
    console.log(JSON.stringify({ run: r + 1, fills, batch, ...x }));
  }
  const med = (k: 'fillsPerSec' | 'pgCpuUsPerFill' | 'appCpuUsPerFill'): number => results.map((x) => x[k]).sort((a, b) => a - b)[Math.floor(results.length / 2)]!;
  console.log(JSON.stringify({ median: { fillsPerSec: med('fillsPerSec'), pgCpuUsPerFill: med('pgCpuUsPerFill'), appCpuUsPerFill: med('appCpuUsPerFill') } }));
}
