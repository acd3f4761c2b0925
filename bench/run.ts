/**
 * `npm run bench`: the booking core's benchmarks (issue 2), with medians over repeated runs on
 * this noisy 2-core machine. Writes bench/out/results.json and prints a Markdown table for
 * bench/README.md.
 *
 * 1. In memory: events parsed and validated beforehand, then booked (FIFO) into a fresh ledger:
 *    fills/s, streaming (what `utl replay` uses on a sorted file) and retaining (late events and
 *    corrections possible); the median of warm runs, each from a collected heap, and the first
 *    (cold) run apart. Alone: `node --expose-gc dist/bench/run.js --in-memory FILE --runs N`.
 * 2. End to end: `utl replay FILE --json` as a child process: fills/s and peak RSS.
 * 3. 10M fills end to end: peak RSS (the bound is 1 GB).
 * 4. ledger-cli on the same fills (`ledger bal`): the ratio to UTL's end-to-end time.
 *
 * 5. `--only api`: the API under ingest (issue 5, bench/api.ts: GET /positions of a book with
 *    5,000 positions while 5,000 fills/s stream in; needs PostgreSQL and NATS, see there). Writes
 *    bench/out/api.json.
 *
 * Flags: --fills N (default 1000000), --runs N (default 5; the API bench's default is 3),
 *        --big N (default 10000000; 0 skips), --no-ledger, --only core,api (default core: 1-4).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execSync } from 'node:child_process';
import type { LedgerEvent } from '../src/domain/events.js';
import { InstrumentRegistry } from '../src/domain/instrument.js';
import { Ledger } from '../src/domain/ledger.js';
import { validateEvent } from '../src/domain/validate.js';
import { API_DEFAULTS, runApiBench, type Latencies } from './api.js';
import { bufferedFileWriter, generateLog } from './generate.js';
import { ensureLedgerInstalled, runLedgerBal, writeLedgerJournal } from './ledger-cli.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const OUT = join(ROOT, 'bench', 'out');

interface Args {
  fills: number;
  runs: number;
  /** --runs given (else each bench has its own default). */
  runsGiven: boolean;
  big: number;
  ledger: boolean;
  /** Which benches: `core` (1-4 above), `api`. */
  only: Set<string>;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { fills: 1_000_000, runs: 5, runsGiven: false, big: 10_000_000, ledger: true, only: new Set(['core']) };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = (): number => Number(argv[++i]);
    if (a === '--fills') args.fills = next();
    else if (a === '--runs') {
      args.runs = next();
      args.runsGiven = true;
    } else if (a === '--big') args.big = next();
    else if (a === '--no-ledger') args.ledger = false;
    else if (a === '--only') {
      args.only = new Set(argv[++i]!.split(','));
      for (const b of args.only) if (b !== 'core' && b !== 'api') throw new Error(`--only: core or api, not ${b}`);
    } else throw new Error(`unknown flag ${a}`);
  }
  return args;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function logFile(fills: number): string {
  const path = join(OUT, `fills-${fills}.jsonl`);
  if (!existsSync(path)) {
    mkdirSync(OUT, { recursive: true });
    process.stderr.write(`generating ${fills} fills into ${path}\n`);
    const w = bufferedFileWriter(path);
    generateLog({ fills }, w.write);
    w.close();
  }
  return path;
}

/**
 * The in-memory benchmark runs in a child process of its own: its million retained events make a
 * heap of over a gigabyte, and collecting it must not compete with the end-to-end runs.
 */
function inMemoryIsolated(path: string, runs: number): { fills: number; events: number; streaming: number; retaining: number; streamingCold: number; streamingRuns: number[] } {
  const r = spawnSync(process.execPath, [...process.execArgv, '--expose-gc', fileURLToPath(import.meta.url), '--in-memory', path, '--runs', String(runs)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 20 });
  if (r.status !== 0) throw new Error(`in-memory benchmark failed (${r.status})`);
  return JSON.parse(r.stdout) as { fills: number; events: number; streaming: number; retaining: number; streamingCold: number; streamingRuns: number[] };
}

/**
 * Each mode books the whole log `runs` times into a fresh ledger after one run of its own that
 * is not counted (the code is compiled as it first runs: that run is reported apart, `cold`), and
 * each run starts from a collected heap (with --expose-gc, which the parent passes): a run pays
 * for the collection of its own garbage, not for the previous run's ledger. Without both, runs of
 * the same build alternated 0.72M and 1.2M fills/s as a run did or did not pay for the one before.
 */
function inMemory(path: string, runs: number): { fills: number; events: number; streaming: number; retaining: number; streamingCold: number; streamingRuns: number[] } {
  const registry = new InstrumentRegistry();
  const events: LedgerEvent[] = [];
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (line.length === 0) continue;
    const v = validateEvent(JSON.parse(line), registry);
    if (!v.ok) throw new Error(`bench input invalid: ${JSON.stringify(v.issues)}`);
    events.push(v.event);
  }
  const fills = events.filter((e) => e.type === 'trade').length;
  const collect = (globalThis as { gc?: () => void }).gc;
  if (collect === undefined) process.stderr.write('in-memory: node runs without --expose-gc: runs also pay for collecting the run before theirs\n');
  const rates = (retain: boolean): { cold: number; runs: number[] } => {
    const samples: number[] = [];
    for (let r = 0; r <= runs; r++) {
      const ledger = new Ledger({ retain, defaults: { method: 'fifo', fees: 'separate', pool: 'book' } }, registry);
      collect?.();
      const t0 = process.hrtime.bigint();
      for (const e of events) ledger.submit(e);
      const s = Number(process.hrtime.bigint() - t0) / 1e9;
      if (ledger.needsReplay) throw new Error('bench input is not a sorted log');
      samples.push(fills / s);
    }
    return { cold: samples[0]!, runs: samples.slice(1) };
  };
  const streaming = rates(false);
  const retaining = rates(true);
  return { fills, events: events.length, streaming: median(streaming.runs), retaining: median(retaining.runs), streamingCold: streaming.cold, streamingRuns: streaming.runs.map(Math.round) };
}

interface E2e {
  seconds: number;
  peakRssMb: number;
}

/** One `utl replay FILE --json` under GNU time: wall seconds and peak RSS. */
function endToEnd(path: string): E2e {
  const r = spawnSync('/usr/bin/time', ['-f', '%e %M', process.execPath, join(ROOT, 'bin', 'utl.js'), 'replay', path, '--json', '--no-progress'], {
    stdio: ['ignore', 'ignore', 'pipe'],
    encoding: 'utf8',
  });
  if (r.status !== 0 && r.status !== 3) throw new Error(`utl replay failed (${r.status}): ${r.stderr}`);
  const last = r.stderr.trim().split('\n').pop() ?? '';
  const [secs, kb] = last.split(' ');
  return { seconds: Number(secs), peakRssMb: Number(kb) / 1024 };
}

function main(): void {
  if (process.argv[2] === '--in-memory') {
    process.stdout.write(JSON.stringify(inMemory(process.argv[3]!, Number(process.argv[5] ?? 5))));
    return;
  }
  const args = parseArgs(process.argv.slice(2));
  if (args.only.has('api')) {
    api(args).then(
      () => {
        if (args.only.has('core')) core(args);
      },
      (err: unknown) => {
        throw err;
      },
    );
    return;
  }
  core(args);
}

/** 5. The API under ingest (bench/api.ts): bench/out/api.json and a table of its medians. */
async function api(args: Args): Promise<void> {
  const r = await runApiBench({ ...API_DEFAULTS, runs: args.runsGiven ? args.runs : API_DEFAULTS.runs });
  mkdirSync(OUT, { recursive: true });
  const commit = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).stdout.trim();
  writeFileSync(join(OUT, 'api.json'), `${JSON.stringify({ commit, ...r }, null, 2)}\n`);
  const row = (name: string, l: Latencies): string => `| ${name} | ${l.requests} | ${l.p50} | ${l.p99} | ${l.p999} | ${l.max} |`;
  process.stdout.write(
    [
      '| GET /positions?book=big (ms) | requests | p50 | p99 | p99.9 | max |',
      '|---|---:|---:|---:|---:|---:|',
      row('no stream (floor), median of runs', r.floor),
      row('5,000 fills/s streaming, median of runs', r.load),
      row('no stream, all runs pooled', r.pooled.floor),
      row('5,000 fills/s streaming, all runs pooled', r.pooled.load),
      '',
      `ingest ${r.ingestFillsPerSec} fills/s booked (published ${r.publishedPerSec}/s); body ${r.bodyBytes} B; service ${r.serviceCores} cores, machine ${r.machineCores}`,
    ].join('\n') + '\n',
  );
}

function core(args: Args): void {
  const machine = `${execSync('nproc').toString().trim()} cores, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}`;
  const commit = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).stdout.trim();
  const path = logFile(args.fills);
  const sizeMb = statSync(path).size / 1e6;
  process.stderr.write(`in-memory booking (${args.runs} runs)…\n`);
  const mem = inMemoryIsolated(path, args.runs);
  process.stderr.write(`end to end (${args.runs} runs)…\n`);
  const e2eRuns = Array.from({ length: args.runs }, () => endToEnd(path));
  const e2eSeconds = median(e2eRuns.map((r) => r.seconds));
  const e2ePeak = Math.max(...e2eRuns.map((r) => r.peakRssMb));
  const results: Record<string, unknown> = {
    machine,
    commit,
    fills: mem.fills,
    events: mem.events,
    fileMb: Math.round(sizeMb),
    inMemoryStreamingFillsPerSec: Math.round(mem.streaming),
    inMemoryStreamingRuns: mem.streamingRuns,
    inMemoryStreamingColdFillsPerSec: Math.round(mem.streamingCold),
    inMemoryRetainingFillsPerSec: Math.round(mem.retaining),
    endToEndSeconds: e2eSeconds,
    endToEndFillsPerSec: Math.round(mem.fills / e2eSeconds),
    endToEndPeakRssMb: Math.round(e2ePeak),
  };
  if (args.big > 0) {
    const bigPath = logFile(args.big);
    process.stderr.write(`end to end, ${args.big} fills (1 run)…\n`);
    const big = endToEnd(bigPath);
    results.bigFills = args.big;
    results.bigSeconds = big.seconds;
    results.bigFillsPerSec = Math.round(args.big / big.seconds);
    results.bigPeakRssMb = Math.round(big.peakRssMb);
  }
  if (args.ledger && ensureLedgerInstalled()) {
    const journal = path.replace(/\.jsonl$/, '.ledger');
    if (!existsSync(journal)) {
      process.stderr.write('writing the ledger-cli journal…\n');
      writeLedgerJournal(path, journal, 'trading').then(
        () => finishLedger(results, journal, e2eSeconds),
        (e: unknown) => {
          throw e;
        },
      );
      return;
    }
    finishLedger(results, journal, e2eSeconds);
    return;
  }
  report(results);
}

function finishLedger(results: Record<string, unknown>, journal: string, utlSeconds: number): void {
  // One run: ledger takes over a minute on 1M fills (bench/README.md), far above UTL's noise.
  process.stderr.write('ledger bal (1 run)…\n');
  const runs = [runLedgerBal(journal)];
  if (!runs.every((r) => r.ok)) throw new Error(`ledger failed: ${runs.map((r) => r.stderr).join('\n')}`);
  const secs = median(runs.map((r) => r.seconds));
  results.ledgerSeconds = secs;
  results.ledgerOverUtl = Math.round((secs / utlSeconds) * 10) / 10;
  report(results);
}

function report(results: Record<string, unknown>): void {
  mkdirSync(OUT, { recursive: true });
  writeFileSync(join(OUT, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  const rows = Object.entries(results).map(([k, v]) => `| ${k} | ${String(v)} |`);
  process.stdout.write(['| measure | value |', '|---|---|', ...rows].join('\n') + '\n');
}

main();
