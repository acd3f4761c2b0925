/**
 * The API under ingest (issue 5 "Speed": p99 under 50 ms for the positions of a book with 5,000
 * positions while 5,000 fills/s stream in).
 *
 * Per run, a fresh database and stream; the service in its own process (`utl start`, PostgreSQL
 * and NATS JetStream, auth off), this process publishing and requesting:
 *
 * 1. Seed: one book (`big`) with --positions spot positions A0000…A4999/USDT, each marked in USD
 *    (so every position is valued: mark, value, unrealized PnL) and bought --lots times on
 *    rotating --venues (--lots open lots each), after a USDT mark and a USDT deposit at each venue
 *    (what its buys cost plus a margin). Published through JetStream; the run waits until all of it
 *    is booked and checks that GET /positions?book=big lists every position, valued.
 * 2. Floor: GET /positions?book=big at the client's pace for --floor-seconds, nothing streaming.
 * 3. Load: --rate fills/s (default 5,000) published at a steady pace to `<subjects>.big` for
 *    --seconds, over the same assets (random asset, venue and side, small quantities, the asset's
 *    price walking), plus a USD mark of the asset just traded every --marks-every fills; the
 *    client requests from the second second of the stream to its end.
 *
 * The client (--rps, default 10): an open loop at a fixed rate, each request sent at its time
 * whether or not the one before is answered, so a slow answer cannot hide the ones that would
 * have waited behind it (a closed loop under-reports tails: it stops asking while it waits). 10/s
 * is a poller every 100 ms (a risk screen, a script; the dashboard itself follows /ws): each
 * answer is a 1.7 MB body, so back to back (--rps 0: one request in flight, the most the service
 * answers) the client would take most of a core from the ingest it is measured beside (the HTTP
 * front answers on a thread of its own, on the same two cores; UTL_FRONT=off: the booking thread
 * answers, as before the front). Latency: from sending the request to the last byte of the body.
 *
 * Reported: per run p50, p99, p99.9 and max of the load phase and of the floor, then the medians
 * of those over --runs (default 3) and the quantiles of all runs' samples pooled (p99.9 of ~300
 * samples is their maximum); requests, body bytes, the fills booked per second during the window
 * (the ingest achieved; /metrics before and after), the publisher's rate, how long after the last
 * publish everything was booked, the service's CPU and the whole machine's (cores), and over the
 * client's window the service's event-loop delay (p99, max) and its collector's pauses (time,
 * count, how many over 10 and 100 ms), from its /metrics (prom-client's default metrics).
 *
 *   npm run build && node dist/bench/api.js [--positions 5000] [--lots 3] [--venues 3] [--rate 5000]
 *     [--seconds 30] [--rps 10] [--floor-seconds 10] [--marks-every 10] [--runs 3]
 *   npm run bench -- --only api [--runs 3]
 *
 * UTL_BENCH_CHILD_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles the service; UTL_BENCH_CHILD_OUT=FILE
 * keeps its stdout (UTL_BENCH_CHILD_ARGS=--trace-gc); UTL_BENCH_TRACE=1 prints every request over 50 ms
 * (and when its headers came: the service or the transfer).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, readFileSync } from 'node:fs';
import { Agent, get } from 'node:http';
import { cpus, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatUnits, mulberry32 } from './generate.js';
import { isMain } from './main.js';
import { deleteStream, freshDb, median, names, quantile, waitFor } from './service.js';
import { connectNats, publishAll, type NatsConnection } from '../src/adapters/nats/jetstream.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const NATS = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const BOOK = 'big';
const VENUES = ['binance', 'okx', 'bybit', 'kraken', 'coinbase'];

export interface ApiArgs {
  positions: number;
  lots: number;
  venues: number;
  rate: number;
  seconds: number;
  /** Requests per second, open loop; 0: back to back. */
  rps: number;
  floorSeconds: number;
  marksEvery: number;
  runs: number;
}

export const API_DEFAULTS: ApiArgs = { positions: 5000, lots: 3, venues: 3, rate: 5000, seconds: 30, rps: 10, floorSeconds: 10, marksEvery: 10, runs: 3 };

function parseArgs(argv: string[]): ApiArgs {
  const a = { ...API_DEFAULTS };
  const flags: Record<string, keyof ApiArgs> = {
    '--positions': 'positions', '--lots': 'lots', '--venues': 'venues', '--rate': 'rate', '--seconds': 'seconds',
    '--rps': 'rps', '--floor-seconds': 'floorSeconds', '--marks-every': 'marksEvery', '--runs': 'runs',
  };
  for (let i = 0; i < argv.length; i++) {
    const key = flags[argv[i]!];
    const n = Number(argv[++i]);
    if (key === undefined || !Number.isFinite(n) || n < 0) throw new Error(`bad flag ${argv[i - 1]} ${argv[i]}`);
    a[key] = n;
  }
  return a;
}

export interface Latencies {
  requests: number;
  p50: number;
  p99: number;
  p999: number;
  max: number;
  bodyBytes: number;
  errors: number;
}

export interface ApiRun {
  floor: Latencies;
  load: Latencies;
  /** Fills booked per second over the client's window. */
  ingestFillsPerSec: number;
  /** Fills published per second over the stream (the publisher's pace). */
  publishedPerSec: number;
  /** From the last publish to everything booked (ms). */
  drainMs: number;
  /** The service's CPU over the client's window, in cores. */
  serviceCores: number;
  /**
   * The whole machine's busy CPU over the window, in cores (of `os.cpus().length`): the service,
   * PostgreSQL, nats-server, this process, and anything else running (a run beside another
   * session's benchmark is not a measure of UTL).
   */
  machineCores: number;
  /**
   * The service over the window (prom-client's default metrics): its event loop's delay, p99 and
   * max (ms), and its collector: ms spent, pauses, and pauses over 10 and over 100 ms.
   */
  service: { loopP99Ms: number; loopMaxMs: number; gcMs: number; gcPauses: number; gcOver10ms: number; gcOver100ms: number };
  seedEvents: number;
  seedMs: number;
  positions: number;
}

const asset = (i: number): string => `A${String(i).padStart(4, '0')}`;
/**
 * Event time: the wall clock in microseconds, strictly increasing (a burst gets 1 µs steps), so
 * marks are fresh for the alert rules and events arrive in order, as from a live desk.
 */
class Clock {
  private last = 0;
  next(): string {
    const us = Math.max(this.last + 1, Date.now() * 1000);
    this.last = us;
    const ms = Math.floor(us / 1000);
    return `${new Date(ms).toISOString().slice(0, 23)}${String(us % 1000).padStart(3, '0')}Z`;
  }
}

/** Each asset's price in integer cents, walking by up to ±0.1% per move. */
class Prices {
  readonly cents: number[];
  constructor(n: number, private readonly rand: () => number) {
    this.cents = Array.from({ length: n }, () => 1_000 + Math.floor(rand() * 1_000_000));
  }

  move(i: number): string {
    const c = this.cents[i]!;
    this.cents[i] = Math.max(100, c + Math.round(c * (this.rand() - 0.5) * 0.002));
    return formatUnits(this.cents[i], 2);
  }

  price(i: number): string {
    return formatUnits(this.cents[i]!, 2);
  }
}

const USDT_MARK = '1.0001';

function trade(id: string, ts: string, i: number, venue: string, side: 'buy' | 'sell', qty: string, price: string): string {
  // Canonical field order (the service's fast decoding path, as venues' adapters write them).
  return `{"type":"trade","id":"${id}","ts":"${ts}","book":"${BOOK}","venue":"${venue}","instrument":"${asset(i)}/USDT","side":"${side}","qty":"${qty}","price":"${price}","fee":{"asset":"USDT","amount":"0.01"}}`;
}

function priceLine(id: string, ts: string, a: string, price: string): string {
  return `{"type":"price","id":"${id}","ts":"${ts}","asset":"${a}","quote":"USD","price":"${price}"}`;
}

/**
 * The seed: marks, a USDT deposit at each venue, then `lots` buys per asset. Each deposit is what
 * the buys at its venue cost plus a margin of 1,000,000 USDT: under FIFO the deposit is the USDT
 * position's oldest lot, and a larger one would never be used up, so every later sale for USDT
 * would leave a lot behind it and the USDT position's lots would only grow.
 */
function seedLines(a: ApiArgs, prices: Prices, clock: Clock): string[] {
  const lines: string[] = [priceLine('seed-usdt', clock.next(), 'USDT', USDT_MARK)];
  for (let i = 0; i < a.positions; i++) lines.push(priceLine(`seed-m-${i}`, clock.next(), asset(i), prices.price(i)));
  const buys: { i: number; venue: number; price: string }[] = [];
  const costCents = new Array<number>(a.venues).fill(0);
  for (let k = 0; k < a.lots; k++) {
    for (let i = 0; i < a.positions; i++) {
      const venue = (i + k) % a.venues;
      const price = prices.move(i);
      costCents[venue]! += prices.cents[i]! + 1; // the price of one unit, and the fee
      buys.push({ i, venue, price });
    }
  }
  for (let v = 0; v < a.venues; v++) {
    const qty = Math.ceil(costCents[v]! / 100) + 1_000_000;
    lines.push(`{"type":"deposit","id":"seed-cash-${v}","ts":"${clock.next()}","book":"${BOOK}","venue":"${VENUES[v]}","asset":"USDT","qty":"${qty}"}`);
  }
  for (const [n, b] of buys.entries()) lines.push(trade(`seed-f-${n}`, clock.next(), b.i, VENUES[b.venue]!, 'buy', '1', b.price));
  return lines;
}

/** The service's collector, from its /metrics (prom-client's default metrics): cumulative over the process. */
interface GcCounts {
  /** Seconds spent in collections, their number, and how many took over 10 ms and over 100 ms. */
  seconds: number;
  pauses: number;
  over10ms: number;
  over100ms: number;
}

/**
 * The service's counters, from GET /metrics (cheap: no report is built), with its event loop's
 * delay since the previous scrape (prom-client resets that histogram at each one) and its
 * collector's totals.
 */
async function counts(base: string): Promise<{ trades: number; events: number; refused: number; loopP99Ms: number; loopMaxMs: number; gc: GcCounts }> {
  const text = await (await fetch(`${base}/metrics`)).text();
  let trades = 0;
  let events = 0;
  let refused = 0;
  let loopP99Ms = Number.NaN;
  let loopMaxMs = Number.NaN;
  const gc: GcCounts = { seconds: 0, pauses: 0, over10ms: 0, over100ms: 0 };
  for (const line of text.split('\n')) {
    const lag = /^utl_nodejs_eventloop_lag_(p99|max)_seconds \S+$/.exec(line) === null ? undefined : Number(line.split(' ')[1]) * 1000;
    if (lag !== undefined) {
      if (line.includes('_p99_')) loopP99Ms = lag;
      else loopMaxMs = lag;
      continue;
    }
    const g = /^utl_nodejs_gc_duration_seconds_(sum|count|bucket)\{([^}]*)\} (\S+)$/.exec(line);
    if (g !== null) {
      const v = Number(g[3]);
      if (g[1] === 'sum') gc.seconds += v;
      else if (g[1] === 'count') gc.pauses += v;
      else if (g[2]!.includes('le="0.01"')) gc.over10ms -= v; // the count at or under 10 ms; the total is added below
      else if (g[2]!.includes('le="0.1"')) gc.over100ms -= v;
      continue;
    }
    const m = /^(utl_events_(booked|unbooked|rejected)_total)\{([^}]*)\} (\S+)$/.exec(line);
    if (m === null) continue;
    const v = Number(m[4]);
    if (m[2] === 'booked') {
      events += v;
      if (m[3]!.includes('type="trade"')) trades += v;
    } else refused += v;
  }
  gc.over10ms += gc.pauses;
  gc.over100ms += gc.pauses;
  return { trades, events, refused, loopP99Ms, loopMaxMs, gc };
}

/** CPU seconds of a process so far (user + system), from /proc. */
function cpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime (USER_HZ = 100)
}

/** UTL_BENCH_TRACE=1: every request over 50 ms, with when it was sent (to set beside the service's log). */
const trace = process.env.UTL_BENCH_TRACE !== undefined;

/** CPU seconds the machine has been busy so far (all cores: user, nice, system, irq, softirq, steal), from /proc/stat. */
function machineBusySeconds(): number {
  const [user, nice, system, , , irq, softirq, steal] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  return (user! + nice! + system! + irq! + softirq! + steal!) / 100;
}

/**
 * The client (UTL_BENCH_CLIENT): `http` (default), node:http with kept-alive connections, its
 * body read as the chunks come; `fetch`, Node's fetch (undici), whose body goes through a web
 * stream, a promise a chunk: on a slow machine that adds milliseconds to a 1.7 MB answer
 * (the figure is the API's, not one client's).
 */
const CLIENT = process.env.UTL_BENCH_CLIENT === 'fetch' ? 'fetch' : 'http';
const keepAlive = new Agent({ keepAlive: true });

async function request(url: string): Promise<{ status: number; headersMs: number; body: Uint8Array }> {
  if (CLIENT === 'fetch') {
    const r = await fetch(url);
    const headersMs = performance.now();
    return { status: r.status, headersMs, body: new Uint8Array(await r.arrayBuffer()) };
  }
  return new Promise((resolve, reject) => {
    get(url, { agent: keepAlive }, (res) => {
      const headersMs = performance.now();
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headersMs, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    }).on('error', reject);
  });
}

/** Requests GET `url` for `seconds`: open loop at `rps`, or back to back when `rps` is 0. */
async function client(url: string, rps: number, seconds: number): Promise<{ lat: number[]; bodyBytes: number; errors: number }> {
  const lat: number[] = [];
  let bodyBytes = 0;
  let errors = 0;
  const one = async (): Promise<void> => {
    const t = performance.now();
    try {
      const r = await request(url);
      const ttfb = r.headersMs - t;
      const body = r.body;
      if (r.status !== 200) throw new Error(`HTTP ${r.status}`);
      const ms = performance.now() - t;
      lat.push(ms);
      bodyBytes = body.byteLength;
      if (trace && ms > Number(process.env.UTL_BENCH_TRACE_MS ?? 50)) process.stderr.write(`slow request: ${ms.toFixed(0)} ms (headers after ${ttfb.toFixed(0)} ms), sent at ${new Date(Date.now() - ms).toISOString()}\n`);
    } catch (err) {
      if (errors++ === 0) process.stderr.write(`request failed: ${String(err)}\n`);
    }
  };
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  if (rps === 0) {
    while (performance.now() < end) await one();
    return { lat, bodyBytes, errors };
  }
  const inFlight: Promise<void>[] = [];
  for (let k = 0; ; k++) {
    const due = t0 + (k * 1000) / rps;
    if (due >= end) break;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    inFlight.push(one());
  }
  await Promise.all(inFlight);
  return { lat, bodyBytes, errors };
}

/** Each figure's median over the runs (errors: their sum). */
function medians(ls: Latencies[]): Latencies {
  const med = (f: (l: Latencies) => number): number => Math.round(median(ls.map(f)) * 10) / 10;
  return { requests: med((l) => l.requests), p50: med((l) => l.p50), p99: med((l) => l.p99), p999: med((l) => l.p999), max: med((l) => l.max), bodyBytes: med((l) => l.bodyBytes), errors: ls.reduce((s, l) => s + l.errors, 0) };
}

function summary(c: { lat: number[]; bodyBytes: number; errors: number }): Latencies {
  const s = [...c.lat].sort((x, y) => x - y);
  return { requests: s.length, p50: quantile(s, 0.5), p99: quantile(s, 0.99), p999: quantile(s, 0.999), max: s[s.length - 1]!, bodyBytes: c.bodyBytes, errors: c.errors };
}

async function oneRun(nc: NatsConnection, a: ApiArgs, run: number): Promise<{ result: ApiRun; samples: { floor: number[]; load: number[] } }> {
  const n = names();
  const db = await freshDb();
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const base = `http://127.0.0.1:${port}`;
  const nodeArgs = (process.env.UTL_BENCH_CHILD_ARGS ?? '').split(' ').filter((x) => x.length > 0);
  const child: ChildProcess = spawn(process.execPath, [...nodeArgs, join(ROOT, 'bin', 'utl.js'), 'start'], {
    cwd: ROOT,
    env: { ...process.env, UTL_AUTH: 'off', DATABASE_URL: db.url, NATS_URL: NATS, UTL_STREAM: n.stream, UTL_SUBJECTS: n.subjects, UTL_CONSUMER: n.consumer, UTL_UPDATES: n.updates, PORT: String(port), UTL_LOG_LEVEL: process.env.UTL_BENCH_LOG ?? 'warn' },
    // UTL_BENCH_CHILD_OUT: a file for the service's stdout (e.g. with UTL_BENCH_CHILD_ARGS=--trace-gc).
    stdio: ['ignore', process.env.UTL_BENCH_CHILD_OUT === undefined ? 'ignore' : openSync(process.env.UTL_BENCH_CHILD_OUT, 'a'), 'inherit'],
  });
  const exited = new Promise((r) => child.once('exit', r));
  try {
    await waitFor(async () => {
      try {
        return (await fetch(`${base}/readyz`)).ok;
      } catch {
        return false;
      }
    }, 'the service to start', 120_000);
    const rand = mulberry32(1000 + run);
    const prices = new Prices(a.positions, rand);
    const subject = `${n.subjects}.${BOOK}`;

    // 1. Seed.
    const clock = new Clock();
    const seed = { lines: seedLines(a, prices, clock) };
    const before = await counts(base);
    const tSeed = performance.now();
    await publishAll(nc, seed.lines.map((l) => ({ subject, data: Buffer.from(l) })), { timeoutMs: 120_000 });
    await waitFor(async () => {
      const c = await counts(base);
      return c.events + c.refused - before.events - before.refused >= seed.lines.length;
    }, 'the seed to be booked', 300_000);
    const seedMs = performance.now() - tSeed;
    const url = `${base}/positions?book=${BOOK}`;
    // The answer is as of the book's latest update (`seq`), which follows the booking closely.
    let valued = 0;
    let listed = 0;
    await waitFor(async () => {
      const first = (await (await fetch(url)).json()) as { positions: { asset: string; unrealizedPnl: string | null }[] };
      listed = first.positions.length;
      valued = first.positions.filter((p) => p.asset.startsWith('A') && p.unrealizedPnl !== null).length;
      return valued === a.positions;
    }, `GET /positions to list every seeded position valued (${a.positions})`, 30_000).catch((err: unknown) => {
      throw new Error(`seeded book lists ${valued} valued positions, expected ${a.positions}`, { cause: err });
    });
    if ((await counts(base)).refused > 0) throw new Error('the seed had refused events');
    process.stderr.write(`run ${run}: seeded ${seed.lines.length} events in ${Math.round(seedMs)} ms; ${listed} positions\n`);

    // 2. Floor: nothing streaming.
    const floorSamples = await client(url, a.rps, a.floorSeconds);
    const floor = summary(floorSamples);
    process.stderr.write(`run ${run}: floor p50 ${floor.p50.toFixed(1)} ms, p99 ${floor.p99.toFixed(1)} ms, max ${floor.max.toFixed(1)} ms (${floor.requests} requests, ${floor.bodyBytes} B)\n`);

    // 3. Load: the stream, and the client from its second second to its end.
    let fillNo = 0;
    let published = 0;
    const total = a.rate * a.seconds;
    const tStream = performance.now();
    const publisher = (async () => {
      for (let k = 0; k < total; k++) {
        const due = tStream + (k * 1000) / a.rate;
        const wait = due - performance.now();
        if (wait > 1) await new Promise((r) => setTimeout(r, wait));
        const i = Math.floor(rand() * a.positions);
        const venue = VENUES[Math.floor(rand() * a.venues)]!;
        const side = rand() < 0.5 ? 'buy' : 'sell';
        const qty = formatUnits(1 + Math.floor(rand() * 99), 3);
        nc.publish(subject, trade(`f-${++fillNo}`, clock.next(), i, venue, side, qty, prices.move(i)));
        published++;
        if (a.marksEvery > 0 && fillNo % a.marksEvery === 0) nc.publish(subject, priceLine(`m-${fillNo}`, clock.next(), asset(i), prices.price(i)));
      }
      await nc.flush();
    })();
    await new Promise((r) => setTimeout(r, 1000));
    const c0 = await counts(base);
    const cpu0 = cpuSeconds(child.pid!);
    const busy0 = machineBusySeconds();
    const w0 = performance.now();
    const loadSamples = await client(url, a.rps, Math.max(1, a.seconds - 1 - (performance.now() - tStream) / 1000));
    const load = summary(loadSamples);
    const c1 = await counts(base);
    const cpu1 = cpuSeconds(child.pid!);
    const busy1 = machineBusySeconds();
    const window = (performance.now() - w0) / 1000;
    await publisher;
    const tLast = performance.now();
    const publishedPerSec = published / ((tLast - tStream) / 1000);
    const expected = before.events + seed.lines.length + published + (a.marksEvery > 0 ? Math.floor(published / a.marksEvery) : 0);
    await waitFor(async () => {
      const c = await counts(base);
      return c.events + c.refused >= expected;
    }, 'the stream to be booked', 600_000);
    const drainMs = performance.now() - tLast;
    if ((await counts(base)).refused > 0) throw new Error('the stream had refused events');
    const r: ApiRun = {
      floor,
      load,
      ingestFillsPerSec: (c1.trades - c0.trades) / window,
      publishedPerSec,
      drainMs,
      serviceCores: (cpu1 - cpu0) / window,
      machineCores: (busy1 - busy0) / window,
      service: {
        loopP99Ms: c1.loopP99Ms,
        loopMaxMs: c1.loopMaxMs,
        gcMs: (c1.gc.seconds - c0.gc.seconds) * 1000,
        gcPauses: c1.gc.pauses - c0.gc.pauses,
        gcOver10ms: c1.gc.over10ms - c0.gc.over10ms,
        gcOver100ms: c1.gc.over100ms - c0.gc.over100ms,
      },
      seedEvents: seed.lines.length,
      seedMs,
      positions: listed,
    };
    process.stderr.write(
      `run ${run}: under ${a.rate} fills/s: p50 ${load.p50.toFixed(1)} ms, p99 ${load.p99.toFixed(1)} ms, p99.9 ${load.p999.toFixed(1)} ms, max ${load.max.toFixed(1)} ms ` +
        `(${load.requests} requests, ${load.errors} errors, ${load.bodyBytes} B); booked ${Math.round(r.ingestFillsPerSec)} fills/s (published ${Math.round(publishedPerSec)}/s), ` +
        `drained ${Math.round(drainMs)} ms after the last publish; service ${r.serviceCores.toFixed(2)} cores, machine ${r.machineCores.toFixed(2)} of ${cpus().length}; ` +
        `service event loop delay p99 ${r.service.loopP99Ms.toFixed(1)} ms, max ${r.service.loopMaxMs.toFixed(1)} ms; GC ${Math.round(r.service.gcMs)} ms in ${r.service.gcPauses} pauses (${r.service.gcOver10ms} over 10 ms, ${r.service.gcOver100ms} over 100 ms)\n`,
    );
    return { result: r, samples: { floor: floorSamples.lat, load: loadSamples.lat } };
  } finally {
    child.kill('SIGTERM');
    await exited;
    await deleteStream(nc, n.stream);
    await db.drop();
  }
}

/** `floor` … `machineCores`: the medians over the runs of each run's figures. */
export interface ApiResult extends Pick<ApiRun, 'floor' | 'load' | 'ingestFillsPerSec' | 'publishedPerSec' | 'drainMs' | 'serviceCores' | 'machineCores'> {
  args: ApiArgs;
  loadavg: number[];
  positions: number | undefined;
  bodyBytes: number;
  /** Every run's samples together. */
  pooled: { floor: Latencies; load: Latencies };
  runs: ApiRun[];
}

export async function runApiBench(a: ApiArgs): Promise<ApiResult> {
  const nc = await connectNats(NATS, 'utl-bench-api');
  try {
    const runs: ApiRun[] = [];
    const pooled = { floor: [] as number[], load: [] as number[] };
    for (let r = 1; r <= a.runs; r++) {
      const { result, samples } = await oneRun(nc, a, r);
      runs.push(result);
      pooled.floor.push(...samples.floor);
      pooled.load.push(...samples.load);
    }
    const med = (f: (x: ApiRun) => number): number => Math.round(median(runs.map(f)) * 10) / 10;
    const round = (l: Latencies): Latencies => ({ ...l, p50: Math.round(l.p50 * 10) / 10, p99: Math.round(l.p99 * 10) / 10, p999: Math.round(l.p999 * 10) / 10, max: Math.round(l.max * 10) / 10 });
    return {
      args: a,
      loadavg: loadavg(),
      positions: runs[0]?.positions,
      bodyBytes: med((x) => x.load.bodyBytes),
      pooled: { floor: round(summary({ lat: pooled.floor, bodyBytes: 0, errors: 0 })), load: round(summary({ lat: pooled.load, bodyBytes: 0, errors: 0 })) },
      floor: medians(runs.map((x) => x.floor)),
      load: medians(runs.map((x) => x.load)),
      ingestFillsPerSec: med((x) => x.ingestFillsPerSec),
      publishedPerSec: med((x) => x.publishedPerSec),
      drainMs: med((x) => x.drainMs),
      serviceCores: med((x) => x.serviceCores),
      machineCores: med((x) => x.machineCores),
      runs,
    };
  } finally {
    await nc.close();
  }
}

if (isMain(import.meta.url)) {
  const result = await runApiBench(parseArgs(process.argv.slice(2)));
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
}
