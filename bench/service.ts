/**
 * The real-time service's benchmarks (issue 3), with PostgreSQL, NATS and UTL on this machine:
 *
 * 1. Drain: N single-fill messages already in the JetStream stream, then the service starts and
 *    commits and books them all: fills/s from its start, and sustained (from the moment it has
 *    taken the first tenth: started and warm, the issue's "sustained"; its start time apart).
 *    Beside it, in the same run: a raw `COPY` of the same rows
 *    into a table shaped like the event log (unique index), and the raw JetStream fetch-and-ack
 *    rate of the same messages (nobody processing them).
 * 2. Live: a publisher sends as fast as it can while the service ingests: fills/s, beside the
 *    publisher's raw rate to a stream nobody consumes.
 * 3. Latency at a steady rate (default 5,000 fills/s): from publish to the book's update that
 *    includes the fill (committed and published): p50, p99, p99.9.
 * 4. Storage per booked fill, and restart-to-serving time with the log of all the above.
 *
 * Flags: --fills N (drain, default 1000000), --live N (default 300000), --rate R (default 5000),
 *        --seconds S (latency run, default 20), --warmup S (its first seconds, reported apart,
 *        default 2), --restart-fills N (extra fills before the restart
 *        measure, default 0; 10M gives the issue's figure), --runs N (drain repeats, default 3),
 *        --acks all,explicit (the service's consumer's ack policies, each drained in every run;
 *        default all), --only drain,live,latency,restart.
 * Uses DATABASE_URL's server (default postgres://root@127.0.0.1:5432/postgres to create a fresh
 * database per run) and NATS_URL (default nats://127.0.0.1:4222).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { jetstreamManager, jetstream, AckPolicy, DeliverPolicy } from '@nats-io/jetstream';
import { createReadStream, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { bufferedFileWriter, generateLog } from './generate.js';
import { isMain } from './main.js';
import { connectNats, ensureEventStream, publishAll, type NatsConnection, type OutboundMessage } from '../src/adapters/nats/jetstream.js';
import { pgSql } from '../src/adapters/pg/sql.js';
import { DEFAULT_SERVICE_CONFIG, type Logger } from '../src/app/service.js';
import { DEFAULT_START, startService, type Running } from '../src/app/start.js';

const ADMIN = process.env.UTL_BENCH_ADMIN_URL ?? 'postgres://root@127.0.0.1:5432/postgres';
const NATS = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const quiet: Logger = { info: () => undefined, warn: () => undefined, error: () => undefined };

interface Args {
  fills: number;
  live: number;
  rate: number;
  seconds: number;
  /** Seconds at the start of the latency run reported apart (a cold process). */
  warmup: number;
  restartFills: number;
  runs: number;
  /** Run only these phases (drain, live, latency, restart); all by default. */
  only: Set<string> | undefined;
  /**
   * The service's consumer's ack policies, each drained in turn within every run (`all`, the
   * default of a new consumer; `explicit`: the consumer is created so before the service starts).
   */
  acks: ('all' | 'explicit')[];
}

function parseArgs(argv: string[]): Args {
  const a: Args = { fills: 1_000_000, live: 300_000, rate: 5000, seconds: 20, warmup: 2, restartFills: 0, runs: 3, only: undefined, acks: ['all'] };
  for (let i = 0; i < argv.length; i++) {
    const f = argv[i];
    if (f === '--only') {
      a.only = new Set(argv[++i]!.split(','));
      continue;
    }
    if (f === '--acks') {
      a.acks = argv[++i]!.split(',').map((p) => {
        if (p !== 'all' && p !== 'explicit') throw new Error(`--acks: all or explicit, not ${p}`);
        return p;
      });
      continue;
    }
    const n = Number(argv[++i]);
    if (f === '--fills') a.fills = n;
    else if (f === '--live') a.live = n;
    else if (f === '--rate') a.rate = n;
    else if (f === '--seconds') a.seconds = n;
    else if (f === '--warmup') a.warmup = n;
    else if (f === '--restart-fills') a.restartFills = n;
    else if (f === '--runs') a.runs = n;
    else throw new Error(`unknown flag ${f}`);
  }
  return a;
}

export const median = (xs: number[]): number => {
  const s = [...xs].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
export const quantile = (sorted: number[], q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;

/** Generated fills, with a mark line per 1,000 fills (so USDT-quoted fills are valued), as message payloads. */
function fills(n: number, seed: number): string[] {
  const out: string[] = [];
  generateLog({ fills: n, seed, instruments: 50, venues: 5, pricesEvery: 1000 }, (l) => out.push(l));
  return out;
}

/** Events the service has taken (booked, or refused by their book). */
const taken = (r: Running): number => r.service.stats.booked + r.service.stats.unbooked;

const subjectOf = (prefix: string, line: string): string => `${prefix}.${/"book":"([^"]+)"/.exec(line)?.[1] ?? 'global'}`;

export async function freshDb(): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `utl_bench_${randomBytes(4).toString('hex')}`;
  const admin = pgSql(ADMIN);
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.close();
  const url = ADMIN.replace(/\/[^/]*$/, `/${name}`);
  return {
    url,
    drop: async () => {
      const a = pgSql(ADMIN);
      await a.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await a.close();
    },
  };
}

export async function waitFor(cond: () => boolean | Promise<boolean>, what: string, ms = 600_000, everyMs = 20): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export function names(): { stream: string; subjects: string; consumer: string; updates: string } {
  const r = randomBytes(4).toString('hex');
  return { stream: `UTL_BENCH_${r.toUpperCase()}`, subjects: `utlbench_${r}.events`, consumer: `bench_${r}`, updates: `utlbench_${r}.updates` };
}

async function start(url: string, n: ReturnType<typeof names>): Promise<Running> {
  return startService(
    { ...DEFAULT_START, port: 0, databaseUrl: url, natsUrl: NATS, stream: n.stream, subjectPrefix: n.subjects, logLevel: 'silent', service: { ...DEFAULT_SERVICE_CONFIG, settings: { method: 'fifo', fees: 'separate', pool: 'book' }, consumer: n.consumer, updatesPrefix: n.updates } },
    quiet,
  );
}

export async function deleteStream(nc: NatsConnection, stream: string): Promise<void> {
  await (await jetstreamManager(nc)).streams.delete(stream).catch(() => undefined);
}

/** The inspector's CPU profiler on this process, from now until `stop(file)` writes the profile there. */
async function startProfile(): Promise<{ stop: (file: string) => Promise<void> }> {
  const { Session } = await import('node:inspector');
  const session = new Session();
  session.connect();
  const post = (method: string, params?: object): Promise<unknown> =>
    new Promise((resolve, reject) => session.post(method, params, (err, res) => (err === null ? resolve(res) : reject(err))));
  await post('Profiler.enable');
  await post('Profiler.setSamplingInterval', { interval: 500 });
  await post('Profiler.start');
  return {
    stop: async (file) => {
      const { profile } = (await post('Profiler.stop')) as { profile: unknown };
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, JSON.stringify(profile));
      session.disconnect();
      process.stderr.write(`drain profile: ${file}\n`);
    },
  };
}

/** 1. Drain a backlog; beside it, raw COPY and raw fetch-and-ack of the same. */
async function drain(nc: NatsConnection, lines: string[], acks: 'all' | 'explicit'): Promise<{ fillsPerSec: number; sustainedFillsPerSec: number; startMs: number; copyRowsPerSec: number; fetchAckPerSec: number; fetchAckAllPerSec: number; bytesPerFill: number }> {
  const n = names();
  const db = await freshDb();
  try {
    await ensureEventStream(nc, { stream: n.stream, subjects: [`${n.subjects}.>`] });
    const msgs: OutboundMessage[] = lines.map((l) => ({ subject: subjectOf(n.subjects, l), data: Buffer.from(l) }));
    await publishAll(nc, msgs, { timeoutMs: 120_000 });

    // Raw fetch-and-ack of the same messages by consumers of their own: every message acked on
    // its own (explicit acks, as the client's examples do), and one cumulative ack per 1,000
    // messages (AckPolicy.All, as the service acks). Nobody processes the messages.
    const rawRate = async (name: string, ackPolicy: AckPolicy, ackEvery: number): Promise<number> => {
      const jsm = await jetstreamManager(nc);
      await jsm.consumers.add(n.stream, { durable_name: name, ack_policy: ackPolicy, deliver_policy: DeliverPolicy.All, max_ack_pending: 20_000 });
      const consumer = await jetstream(nc).consumers.get(n.stream, name);
      let got = 0;
      const t0 = performance.now();
      const it = await consumer.consume({ max_messages: 1000 });
      for await (const m of it) {
        if (++got % ackEvery === 0 || got === msgs.length) m.ack();
        if (got === msgs.length) break;
      }
      const rate = msgs.length / ((performance.now() - t0) / 1000);
      await it.close();
      return rate;
    };
    const fetchAckPerSec = await rawRate('raw', AckPolicy.Explicit, 1);
    const fetchAckAllPerSec = await rawRate('rawall', AckPolicy.All, 1000);

    // The service drains the backlog.
    if (acks === 'explicit') {
      await (await jetstreamManager(nc)).consumers.add(n.stream, { durable_name: n.consumer, ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All });
    }
    // UTL_BENCH_PROFILE=DIR: a CPU profile of this process during the service's drain only.
    const profiler = process.env.UTL_BENCH_PROFILE === undefined ? undefined : await startProfile();
    const t1 = performance.now();
    const running = await start(db.url, n);
    const startMs = performance.now() - t1;
    // Sustained: from the moment the service has taken its first tenth (started, warm) to the end.
    const tenth = Math.ceil(lines.length / 10);
    await waitFor(() => taken(running) >= tenth, 'the first tenth of the drain', 600_000, 5);
    const t10 = performance.now();
    const at10 = taken(running);
    await waitFor(() => taken(running) >= lines.length, 'the drain', 600_000, 5);
    const tEnd = performance.now();
    const fillsPerSec = lines.length / ((tEnd - t1) / 1000);
    const sustainedFillsPerSec = (lines.length - at10) / ((tEnd - t10) / 1000);
    if (profiler !== undefined) await profiler.stop(join(process.env.UTL_BENCH_PROFILE!, `drain-${Date.now()}.cpuprofile`));
    const { rows } = await running.service.store.sql.query<{ bytes: string }>(
      `SELECT (SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c JOIN pg_inherits i ON i.inhrelid = c.oid WHERE i.inhparent = 'utl_events'::regclass)
            + pg_total_relation_size('utl_event_keys') AS bytes`,
    );
    const bytesPerFill = Number(rows[0]!.bytes) / lines.length;

    // Raw COPY of the same rows into a table shaped like the log, with a unique index.
    const sql = running.service.store.sql;
    await sql.exec('CREATE TABLE raw_copy (seq bigint, ts timestamptz, id text, book text, payload text); CREATE UNIQUE INDEX ON raw_copy (id)');
    const client = new (await import('pg')).default.Client({ connectionString: db.url });
    client.on('error', () => undefined); // the COPY's own error rejects below
    await client.connect();
    const { from } = await import('pg-copy-streams');
    const t2 = performance.now();
    await new Promise<void>((resolve, reject) => {
      const stream = client.query(from('COPY raw_copy FROM STDIN'));
      stream.on('finish', resolve);
      stream.on('error', reject);
      let i = 0;
      const write = (): void => {
        let ok = true;
        while (i < lines.length && ok) {
          const l = lines[i]!;
          const id = /"id":"([^"]+)"/.exec(l)![1]!;
          const ts = /"ts":"([^"]+)"/.exec(l)![1]!;
          const book = /"book":"([^"]+)"/.exec(l)?.[1] ?? '\\N';
          ok = stream.write(`${i}\t${ts}\t${id}\t${book}\t${l.replace(/\\/g, '\\\\')}\n`);
          i++;
        }
        if (i < lines.length) stream.once('drain', write);
        else stream.end();
      };
      write();
    });
    const copyRowsPerSec = lines.length / ((performance.now() - t2) / 1000);
    await client.end();
    await running.stop();
    return { fillsPerSec, sustainedFillsPerSec, startMs, copyRowsPerSec, fetchAckPerSec, fetchAckAllPerSec, bytesPerFill };
  } finally {
    await deleteStream(nc, n.stream);
    await db.drop();
  }
}

/** 2. Live ingest while a publisher goes flat out; beside it the publisher alone. */
async function live(nc: NatsConnection, lines: string[]): Promise<{ fillsPerSec: number; publishPerSec: number }> {
  const alone = names();
  await ensureEventStream(nc, { stream: alone.stream, subjects: [`${alone.subjects}.>`] });
  const t0 = performance.now();
  await publishAll(nc, lines.map((l) => ({ subject: subjectOf(alone.subjects, l), data: Buffer.from(l) })), { timeoutMs: 120_000 });
  const publishPerSec = lines.length / ((performance.now() - t0) / 1000);
  await deleteStream(nc, alone.stream);

  const n = names();
  const db = await freshDb();
  try {
    const running = await start(db.url, n);
    const t1 = performance.now();
    await publishAll(nc, lines.map((l) => ({ subject: subjectOf(n.subjects, l), data: Buffer.from(l) })), { timeoutMs: 120_000 });
    await waitFor(() => taken(running) >= lines.length, 'live ingest');
    const fillsPerSec = lines.length / ((performance.now() - t1) / 1000);
    await running.stop();
    return { fillsPerSec, publishPerSec };
  } finally {
    await deleteStream(nc, n.stream);
    await db.drop();
  }
}

/** 3. Latency at a steady rate: publish → the book's update whose seq covers the fill. */
async function latency(nc: NatsConnection, lines: string[], rate: number, seconds: number, warmup: number): Promise<{ p50: number; p99: number; p999: number; samples: number; warmup: { seconds: number; p50: number; p99: number; samples: number } }> {
  const n = names();
  const db = await freshDb();
  // The service in its own process (as deployed), this one publishing and listening.
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  // UTL_BENCH_CHILD_ARGS: node flags for the service (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof").
  const nodeArgs = (process.env.UTL_BENCH_CHILD_ARGS ?? '').split(' ').filter((a) => a.length > 0);
  const child = spawn(process.execPath, [...nodeArgs, 'bin/utl.js', 'start'], {
    env: { ...process.env, UTL_AUTH: 'off', DATABASE_URL: db.url, NATS_URL: NATS, UTL_STREAM: n.stream, UTL_SUBJECTS: n.subjects, UTL_CONSUMER: n.consumer, UTL_UPDATES: n.updates, PORT: String(port), UTL_LOG_LEVEL: process.env.UTL_BENCH_LOG ?? 'warn' },
    stdio: ['ignore', process.env.UTL_BENCH_CHILD_STDOUT === undefined ? 'ignore' : 'inherit', 'inherit'],
  });
  const state = async (): Promise<{ stats: { booked: number; unbooked: number } } | undefined> => {
    try {
      const r = await fetch(`http://127.0.0.1:${port}/state`);
      return r.ok ? ((await r.json()) as { stats: { booked: number; unbooked: number } }) : undefined;
    } catch {
      return undefined;
    }
  };
  const sql = pgSql(db.url);
  try {
    await waitFor(async () => (await state()) !== undefined, 'the service to start', 120_000);
    const updates: { book: string; seq: number; at: number }[] = [];
    // Only the head of each update is read (it starts with its book and seq): parsing the whole
    // book, hundreds of times a second, would make this process a load on the machine it measures
    // and delay the timestamps of the updates queued behind it.
    const head = new TextDecoder();
    const sub = nc.subscribe(`${n.updates}.>`, { callback: (_e, m) => {
      const at = performance.now();
      const h = /^\{"book":"([^"]*)","seq":(\d+)/.exec(head.decode(m.data.subarray(0, 200)));
      const u = h === null ? m.json<{ book: string; seq: number }>() : { book: h[1]!, seq: Number(h[2]) };
      updates.push({ book: u.book, seq: u.seq, at });
    } });
    const total = Math.min(lines.length, rate * seconds);
    const sentAt = new Map<string, { at: number; book: string }>();
    // Plain publishes into the stream's subjects (the stream stores them; no per-message ack
    // round trip to wait for), paced to the rate: the cheapest publisher, so that this process
    // takes as little of the machine as it can.
    const t0 = performance.now();
    for (let i = 0; i < total; i++) {
      const due = t0 + (i * 1000) / rate;
      const wait = due - performance.now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      const l = lines[i]!;
      const id = /"id":"([^"]+)"/.exec(l)![1]!;
      const book = /"book":"([^"]+)"/.exec(l)?.[1];
      if (book !== undefined) sentAt.set(id, { at: performance.now(), book });
      nc.publish(subjectOf(n.subjects, l), l);
    }
    await nc.flush();
    await waitFor(async () => {
      const st = await state();
      return st !== undefined && st.stats.booked + st.stats.unbooked >= total;
    }, 'the latency run');
    await new Promise((r) => setTimeout(r, 200));
    sub.unsubscribe();
    // Each fill's seq, then the first update of its book at or after it.
    const { rows } = await sql.query<{ id: string; seq: string }>('SELECT id, seq::text FROM utl_event_keys');
    const byBook = new Map<string, { seq: number; at: number }[]>();
    for (const u of updates) (byBook.get(u.book) ?? byBook.set(u.book, []).get(u.book)!).push(u);
    // The first `warmup` seconds (a cold process: JIT, the consumer's first pulls) are reported
    // apart: the target is the steady rate's latency.
    const lat: number[] = [];
    const cold: number[] = [];
    for (const r of rows) {
      const s = sentAt.get(r.id);
      if (s === undefined) continue;
      const seq = Number(r.seq);
      const u = byBook.get(s.book)?.find((x) => x.seq >= seq);
      if (u !== undefined) (s.at - t0 < warmup * 1000 ? cold : lat).push(u.at - s.at);
    }
    if (process.env.UTL_BENCH_TRACE !== undefined) {
      const bySecond = new Map<number, number[]>();
      for (const r of rows) {
        const s = sentAt.get(r.id);
        const u = s === undefined ? undefined : byBook.get(s.book)?.find((x) => x.seq >= Number(r.seq));
        if (s === undefined || u === undefined) continue;
        const k = Math.floor((s.at - t0) / 1000);
        (bySecond.get(k) ?? bySecond.set(k, []).get(k)!).push(u.at - s.at);
      }
      for (const [k, v] of [...bySecond].sort((a, b) => a[0] - b[0])) {
        v.sort((a, b) => a - b);
        process.stderr.write(`  second ${k}: p50 ${quantile(v, 0.5).toFixed(1)} ms, p99 ${quantile(v, 0.99).toFixed(1)} ms, max ${v[v.length - 1]!.toFixed(1)} ms (${v.length})\n`);
      }
    }
    lat.sort((a, b) => a - b);
    cold.sort((a, b) => a - b);
    // Where the time goes, from the service's own metrics (the whole run, warm-up included): its
    // batches' mean size, commit and arrival-to-booked time, and its CPU beside the run's length.
    try {
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      const num = (name: string): number => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
      const mean = (h: string): number => num(`${h}_sum`) / num(`${h}_count`);
      const cpu = num('utl_process_cpu_seconds_total');
      process.stderr.write(
        `  the service: ${num('utl_batch_size_count')} batches of ${mean('utl_batch_size').toFixed(1)} inputs on average; ` +
          `commit ${(mean('utl_batch_commit_seconds') * 1000).toFixed(2)} ms, first arrival to booked ${(mean('utl_booking_latency_seconds') * 1000).toFixed(2)} ms (means); ` +
          `${cpu.toFixed(1)} s of CPU in ${((performance.now() - t0) / 1000).toFixed(1)} s; ${[...byBook].map(([b, us]) => `${us.length} updates of ${b}`).join(', ')}\n`,
      );
    } catch {
      // The breakdown is a help, not a result.
    }
    return {
      p50: quantile(lat, 0.5),
      p99: quantile(lat, 0.99),
      p999: quantile(lat, 0.999),
      samples: lat.length,
      warmup: { seconds: warmup, p50: cold.length === 0 ? 0 : quantile(cold, 0.5), p99: cold.length === 0 ? 0 : quantile(cold, 0.99), samples: cold.length },
    };
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    await sql.close();
    await deleteStream(nc, n.stream);
    await db.drop();
  }
}

/** 4. Restart to serving with a log of `count` fills (ingested through the service first). */
async function restart(nc: NatsConnection, count: number): Promise<{ events: number; ms: number; tail: number }> {
  const n = names();
  const db = await freshDb();
  try {
    let running = await start(db.url, n);
    // One log, in time order, published in chunks (a chunk that went back in time would make
    // every fill a late one: a different benchmark). Written to a file first and read back chunk
    // by chunk: 10M lines held as strings would not fit the default heap.
    const dir = mkdtempSync(join(tmpdir(), 'utl-restart-'));
    const file = join(dir, 'log.jsonl');
    const w = bufferedFileWriter(file);
    generateLog({ fills: count, seed: 1000, instruments: 50, venues: 5, pricesEvery: 1000 }, w.write);
    w.close();
    const chunk = 200_000;
    let target = 0;
    let lines: string[] = [];
    const publishChunk = async (): Promise<void> => {
      await publishAll(nc, lines.map((l) => ({ subject: subjectOf(n.subjects, l), data: Buffer.from(l) })), { timeoutMs: 120_000 });
      target += lines.length;
      lines = [];
      await waitFor(() => taken(running) >= target, 'the restart log');
      process.stderr.write(`restart: ${target} events in the log\n`);
    };
    try {
      for await (const l of createInterface({ input: createReadStream(file), crlfDelay: Infinity })) {
        if (l.length > 0) lines.push(l);
        if (lines.length >= chunk) await publishChunk();
      }
      if (lines.length > 0) await publishChunk();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    await running.stop();
    const t0 = performance.now();
    running = await start(db.url, n);
    const ms = performance.now() - t0;
    const events = running.service.stats.lastSeq;
    const tail = running.startup.tail;
    await running.stop();
    return { events, ms, tail };
  } finally {
    await deleteStream(nc, n.stream);
    await db.drop();
  }
}

export async function runServiceBench(args: Args): Promise<Record<string, unknown>> {
  const nc = await connectNats(NATS, 'utl-bench');
  try {
    const on = (phase: string): boolean => args.only === undefined || args.only.has(phase);
    // Only as many lines as the phases run use: a million held as strings is a heap of a
    // gigabyte, whose collections would compete with the service being measured.
    const lines = fills(Math.max(on('drain') ? args.fills : 0, on('live') ? args.live : 0, on('latency') ? args.rate * args.seconds : 0), 42);
    const drains = new Map<string, Awaited<ReturnType<typeof drain>>[]>(args.acks.map((p) => [p, []]));
    for (let r = 0; r < (on('drain') ? args.runs : 0); r++) {
      for (const acks of args.acks) {
        const d = await drain(nc, lines, acks);
        drains.get(acks)!.push(d);
        process.stderr.write(`drain ${r + 1}/${args.runs}, ${acks} acks: ${Math.round(d.fillsPerSec)} fills/s from the start (started in ${Math.round(d.startMs)} ms), ${Math.round(d.sustainedFillsPerSec)} fills/s sustained (COPY ${Math.round(d.copyRowsPerSec)} rows/s, fetch+ack ${Math.round(d.fetchAckPerSec)} msgs/s each acked, ${Math.round(d.fetchAckAllPerSec)} msgs/s acked per 1000; ${(d.fillsPerSec / d.fetchAckAllPerSec).toFixed(2)} of the latter; ${Math.round(d.bytesPerFill)} B/fill)\n`);
      }
    }
    const l = on('live') ? await live(nc, lines.slice(0, args.live)) : undefined;
    if (l !== undefined) process.stderr.write(`live: ${Math.round(l.fillsPerSec)} fills/s (publisher alone ${Math.round(l.publishPerSec)} msgs/s)\n`);
    const lat = on('latency') ? await latency(nc, lines, args.rate, args.seconds, args.warmup) : undefined;
    if (lat !== undefined) {
      process.stderr.write(`latency at ${args.rate}/s after ${args.warmup} s of warm-up: p50 ${lat.p50.toFixed(1)} ms, p99 ${lat.p99.toFixed(1)} ms, p99.9 ${lat.p999.toFixed(1)} ms (${lat.samples} fills)\n`);
      process.stderr.write(`  warm-up (the first ${args.warmup} s): p50 ${lat.warmup.p50.toFixed(1)} ms, p99 ${lat.warmup.p99.toFixed(1)} ms (${lat.warmup.samples} fills)\n`);
    }
    const rs = args.restartFills > 0 && on('restart') ? await restart(nc, args.restartFills) : undefined;
    if (rs !== undefined) process.stderr.write(`restart with ${rs.events} events in the log: serving in ${Math.round(rs.ms)} ms (tail ${rs.tail})\n`);
    return {
      drain: !on('drain') ? undefined : Object.fromEntries([...drains].map(([acks, ds]) => [acks, {
        fills: args.fills,
        fillsPerSec: median(ds.map((d) => d.fillsPerSec)),
        /** From the first tenth taken to the end: the service started and warm. */
        sustainedFillsPerSec: median(ds.map((d) => d.sustainedFillsPerSec)),
        startMs: median(ds.map((d) => d.startMs)),
        copyRowsPerSec: median(ds.map((d) => d.copyRowsPerSec)),
        fetchAckPerSec: median(ds.map((d) => d.fetchAckPerSec)),
        fetchAckAllPerSec: median(ds.map((d) => d.fetchAckAllPerSec)),
        /** Per run, the drain over the raw rates of the same run, then their medians. */
        ofCopy: median(ds.map((d) => d.fillsPerSec / d.copyRowsPerSec)),
        ofFetchAckAll: median(ds.map((d) => d.fillsPerSec / d.fetchAckAllPerSec)),
        bytesPerFill: median(ds.map((d) => d.bytesPerFill)),
        runs: ds,
      }])),
      live: l,
      latency: lat === undefined ? undefined : { rate: args.rate, ...lat },
      restart: rs,
    };
  } finally {
    await nc.close();
  }
}

if (isMain(import.meta.url)) {
  const result = await runServiceBench(parseArgs(process.argv.slice(2)));
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
}
