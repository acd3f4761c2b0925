/**
 * The `utl` command line. Commands parse their options once, call an app service, and print.
 *
 * Exit codes (docs/cli.md): 0 everything booked; 3 some events were rejected (the rest booked);
 * 2 bad usage or unreadable input; 1 an internal error (a bug: please report it).
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import cliProgress from 'cli-progress';
import { readFileSync } from 'node:fs';
import { parseBooksFile, type BookOverrides } from '../app/config.js';
import { replayFiles, type ReplayOptions } from '../app/replay.js';
import { DEFAULT_SERVICE_CONFIG } from '../app/service.js';
import type { DemoFlags } from './demo.js';
import { COST_METHODS, type CostMethod } from '../domain/lots.js';
import { formatTimestamp, parseTimestamp } from '../domain/time.js';
import { ASSET_RE } from '../domain/instrument.js';
import { renderCheck, renderReport } from './format.js';
import { checkFiles } from '../app/check.js';
import { DEFAULT_RECON, loadReconConfig } from '../app/recon-config.js';
import { loadAlertConfig } from '../app/alert-config.js';
import { addKeysCommand } from './keys.js';
// start.js and demo.js (fastify, PGlite, NATS) are imported by their commands only: every other
// command, `utl replay` included, would pay half a second of start-up for them.
import { DEFAULT_WRITE_LIMIT } from '../app/start-defaults.js';
import { DEFAULT_SNAPSHOTS } from '../app/snapshots.js';

export const EXIT_OK = 0;
export const EXIT_INTERNAL = 1;
export const EXIT_USAGE = 2;
export const EXIT_REJECTED = 3;
/** `utl check`: a break is open, a transfer is overdue, trades differ, or a consistency check failed. */
export const EXIT_CHECK_FAILED = 4;

/** Progress is drawn only for files this large on an interactive terminal. */
const PROGRESS_MIN_BYTES = 8 << 20;

function parseAt(text: string): number {
  const t = parseTimestamp(text);
  if (t === undefined) throw new InvalidArgumentError('expected an ISO-8601 instant such as 2026-01-02T10:00:00Z');
  return t;
}

function parseAsset(text: string): string {
  if (!ASSET_RE.test(text)) throw new InvalidArgumentError('expected an asset code such as USD');
  return text;
}

function parseThreads(text: string): number {
  const n = Number.parseInt(text, 10);
  if (!/^\d+$/.test(text) || n < 1 || n > 16) throw new InvalidArgumentError('expected a whole number of threads from 1 to 16');
  return n;
}

function parseAssets(text: string): string[] {
  return text === '' ? [] : text.split(',').map((a) => parseAsset(a.trim()));
}

interface ReplayFlags {
  method: CostMethod;
  fees: 'separate' | 'capitalise';
  pool: 'book' | 'venue';
  reporting: string;
  cash: string[];
  at?: number;
  json?: boolean;
  lots?: boolean;
  venue?: string;
  book?: string;
  account?: string;
  asOf?: string;
  progress: boolean;
  threads: number;
  books?: string;
}

export async function main(argv: string[], out: NodeJS.WritableStream = process.stdout, err: NodeJS.WritableStream = process.stderr): Promise<number> {
  let code = EXIT_OK;
  const program = new Command()
    .name('utl')
    .description('UTL, a universal transaction ledger: exact positions, cost basis, PnL and exposure.')
    .exitOverride()
    .configureOutput({ writeOut: (s) => out.write(s), writeErr: (s) => err.write(s) });

  bookingOptions(
    program
      .command('replay')
      .description('book a file of events (JSON Lines, a JSON array, or ccxt output) and print positions, PnL and exposure')
      .argument('<files...>', 'events: JSON Lines, or JSON arrays (canonical events or ccxt unified structures), booked together in the order given'),
  )
    .option('--at <ts>', 'as-of: the state at this instant (events after it are left out)', parseAt)
    .option('--json', 'print JSON (full precision) instead of tables')
    .option('--lots', 'include each position\'s open lots (JSON)')
    .option('--venue <venue>', 'ccxt input: the venue it came from')
    .option('--book <book>', 'ccxt input: the book to book it into')
    .option('--account <account>', 'ccxt input: the account at the venue')
    .option('--as-of <ts>', 'ccxt input: the time of balances that carry none', (t: string) => formatTimestamp(parseAt(t)))
    .option('--threads <n>', 'threads to book on, one shard of books each (files of 16 MB or more; default 1: see docs/cli.md)', parseThreads, 1)
    .option('--no-progress', 'never draw a progress bar')
    .action(async (files: string[], flags: ReplayFlags) => {
      code = await runReplay(files, flags, out, err);
    });

  bookingOptions(
    program
      .command('check')
      .description('reconcile a log: venue balance reports as of their instant, transfers, a venue\'s trade history, consistency checks')
      .argument('<files...>', 'JSONL event files (or JSON arrays), booked in the order given'),
  )
    .option('--recon <file>', 'reconciliation settings (YAML: tolerances, lending venues, transfer matching)')
    .option('--trades <file>', 'a venue\'s trade history to hold against the fills booked there (canonical trades or ccxt fetchMyTrades)')
    .option('--trades-venue <venue>', 'the venue of --trades')
    .option('--venue <venue>', 'ccxt input in FILES: the venue it came from')
    .option('--book <book>', 'ccxt input in FILES: the book to book it into')
    .option('--account <account>', 'ccxt input in FILES: the account at the venue')
    .option('--as-of <ts>', 'ccxt input in FILES: the time of balances that carry none', (t: string) => formatTimestamp(parseAt(t)))
    .option('--from <ts>', 'trade window start (default: the first venue trade)', parseAt)
    .option('--to <ts>', 'trade window end (default: the last venue trade)', parseAt)
    .option('--json', 'print JSON instead of text')
    .action(async (files: string[], flags: CheckFlags) => {
      code = await runCheck(files, flags, out, err);
    });

  program
    .command('demo')
    .description('run the service on the embedded defaults with a simulated desk streaming into it (docs/demo.md)')
    .addOption(new Option('--host <host>', 'HTTP address to listen on').default('127.0.0.1'))
    .addOption(new Option('--port <port>', 'HTTP port (0: any free port)').env('PORT').argParser(parsePort).default(8080))
    .option('--data <dir>', 'keep the embedded PostgreSQL in this new folder (default: a temporary folder, removed at exit)')
    .addOption(new Option('--seed <n>', 'the simulation\'s seed: the same seed, the same desk').argParser(parseCount).default(1))
    .addOption(new Option('--rate <n>', 'events per second, about').argParser(parseCount).default(300))
    .addOption(new Option('--duration <seconds>', 'stop after this long (default: until Ctrl-C)').argParser(parseCount))
    .addOption(new Option('--log-level <level>', 'pino log level (the service\'s log, to stderr)').default('warn'))
    .action(async (flags: DemoFlags) => {
      const { runDemo } = await import('./demo.js');
      code = await runDemo(flags, out, err);
    });

  bookingOptions(program.command('start').description('run the real-time service: events from NATS JetStream and HTTP, committed to PostgreSQL, booked, published'))
    .addOption(new Option('--host <host>', 'HTTP address to listen on').env('UTL_HOST').default('127.0.0.1'))
    .addOption(new Option('--port <port>', 'HTTP port (0: any free port)').env('PORT').argParser(parsePort).default(8080))
    .addOption(new Option('--data <dir>', 'data folder of the embedded PostgreSQL (when no DATABASE_URL)').env('UTL_DATA_DIR').default('.utl'))
    .addOption(new Option('--database-url <url>', 'PostgreSQL server (default: the embedded one)').env('DATABASE_URL'))
    .addOption(new Option('--nats-url <url>', 'NATS server with JetStream (default: an in-process bus)').env('NATS_URL'))
    .addOption(new Option('--stream <name>', 'JetStream stream of inbound events').env('UTL_STREAM').default('UTL_EVENTS'))
    .addOption(new Option('--subjects <prefix>', 'subject prefix of inbound events (<prefix>.<book>)').env('UTL_SUBJECTS').default('utl.events'))
    .addOption(new Option('--consumer <name>', 'durable consumer name').env('UTL_CONSUMER').default('utl'))
    .addOption(new Option('--updates <prefix>', 'subject prefix of the updates published (<prefix>.<book>)').env('UTL_UPDATES').default('utl.updates'))
    .addOption(new Option('--batch-max <n>', 'most messages per commit').env('UTL_BATCH_MAX').argParser(parseCount).default(1000))
    .addOption(new Option('--batch-wait-ms <ms>', 'while a batch is being committed, longest the next one fills (an idle service commits at once)').env('UTL_BATCH_WAIT_MS').argParser(parseCount).default(5))
    .addOption(new Option('--ack-wait-ms <ms>', 'JetStream redelivers a message not acknowledged within this time').env('UTL_ACK_WAIT_MS').argParser(parseCount).default(10_000))
    .addOption(new Option('--checkpoint-every <n>', 'events between checkpoints').env('UTL_CHECKPOINT_EVERY').argParser(parseCount).default(DEFAULT_SERVICE_CONFIG.checkpointEvery))
    .addOption(new Option('--update-interval-ms <ms>', "a book's updates (NATS, WebSocket) at most once per this many ms (and per ten times their build cost)").env('UTL_UPDATE_INTERVAL_MS').argParser(parseCount).default(DEFAULT_SERVICE_CONFIG.updateIntervalMs))
    .addOption(new Option('--update-snapshot-ms <ms>', "a book's NATS update is its whole state (when it fits one message) at least once per this many ms; deltas between").env('UTL_UPDATE_SNAPSHOT_MS').argParser(parseCount).default(DEFAULT_SERVICE_CONFIG.updateSnapshotMs))
    .addOption(new Option('--log-level <level>', 'pino log level').env('UTL_LOG_LEVEL').default('info'))
    .addOption(new Option('--recon <file>', 'reconciliation settings (YAML: tolerances, lending venues, transfer matching, intervals)').env('UTL_RECON'))
    .addOption(new Option('--alerts <file>', 'alert rules and sinks (YAML, docs/alerts.md; default: the built-in rules, to the log and NATS)').env('UTL_ALERTS'))
    .addOption(new Option('--auth <mode>', 'API keys: required, or off (default: required with a DATABASE_URL, off on the embedded store)').choices(['required', 'off']).env('UTL_AUTH'))
    .addOption(new Option('--write-limit <n>', 'POST requests per minute per API key (or address); 0: no limit').env('UTL_WRITE_LIMIT').argParser(parseCount).default(DEFAULT_WRITE_LIMIT.max))
    .addOption(new Option('--eod-delay-s <s>', 'seconds after midnight UTC before the closed day\'s end-of-day snapshot is taken (late events)').env('UTL_EOD_DELAY_S').argParser(parseCount).default(DEFAULT_SNAPSHOTS.delayMs / 1000))
    .addOption(new Option('--front <mode>', 'the HTTP front: on (a thread answers GET /positions from the book updates, passes the rest on) or off (one thread serves everything)').choices(['on', 'off']).env('UTL_FRONT').default('on'))
    .action(async (flags: StartFlags) => {
      code = await runStart(flags, err);
    });

  addKeysCommand(program, out, err, (c) => {
    code = c;
  });

  try {
    await program.parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    throw e;
  }
  return code;
}

/** The booking settings both commands take: method, fees, pooling, per-book file, R and cash. */
function bookingOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--method <method>', 'cost method').choices(COST_METHODS).default('fifo'))
    .addOption(new Option('--fees <convention>', 'fee convention').choices(['separate', 'capitalise']).default('separate'))
    .addOption(new Option('--pool <pool>', 'lots pooled per book, or per venue').choices(['book', 'venue']).default('book'))
    .option('--books <file>', 'per-book settings (JSON: {"books": {"<book>": {"method", "fees", "pool"}}}), overriding --method/--fees/--pool')
    .option('--reporting <asset>', 'reporting currency', parseAsset, 'USD')
    .option('--cash <assets>', 'comma-separated assets valued at 1 reporting unit and kept as cash (e.g. USDT,USDC)', parseAssets, []);
}

function parsePort(text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n > 65535) throw new InvalidArgumentError('expected a port number from 0 to 65535');
  return n;
}

function parseCount(text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 1) throw new InvalidArgumentError('expected a whole number of at least 1');
  return n;
}

interface StartFlags {
  recon?: string;
  alerts?: string;
  method: CostMethod;
  fees: 'separate' | 'capitalise';
  pool: 'book' | 'venue';
  books?: string;
  reporting: string;
  cash: string[];
  host: string;
  port: number;
  data: string;
  databaseUrl?: string;
  natsUrl?: string;
  stream: string;
  subjects: string;
  consumer: string;
  updates: string;
  batchMax: number;
  batchWaitMs: number;
  checkpointEvery: number;
  updateIntervalMs: number;
  updateSnapshotMs: number;
  ackWaitMs: number;
  logLevel: string;
  auth?: 'required' | 'off';
  writeLimit: number;
  eodDelayS: number;
  front: 'on' | 'off';
}

function readBooks(path: string | undefined, command: string, err: NodeJS.WritableStream): BookOverrides | undefined {
  if (path === undefined) return {};
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    err.write(`utl ${command}: cannot read --books ${path}: ${(e as Error).message}\n`);
    return undefined;
  }
  const parsed = parseBooksFile(text);
  if (!parsed.ok) {
    err.write(`utl ${command}: --books ${path}:\n${parsed.problems.map((p) => `  ${p}`).join('\n')}\n`);
    return undefined;
  }
  return parsed.books;
}

interface CheckFlags {
  method: CostMethod;
  fees: 'separate' | 'capitalise';
  pool: 'book' | 'venue';
  reporting: string;
  cash: string[];
  books?: string;
  recon?: string;
  trades?: string;
  tradesVenue?: string;
  venue?: string;
  book?: string;
  account?: string;
  asOf?: string;
  from?: number;
  to?: number;
  json?: boolean;
}

async function runCheck(files: string[], flags: CheckFlags, out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  const books = readBooks(flags.books, 'check', err);
  if (books === undefined) return EXIT_USAGE;
  if ((flags.trades === undefined) !== (flags.tradesVenue === undefined)) {
    err.write('utl check: --trades and --trades-venue go together\n');
    return EXIT_USAGE;
  }
  let recon = DEFAULT_RECON;
  let run;
  try {
    if (flags.recon !== undefined) recon = await loadReconConfig(flags.recon);
    run = await checkFiles(
      files,
      {
        settings: { method: flags.method, fees: flags.fees, pool: flags.pool },
        books,
        reporting: flags.reporting,
        cashLike: flags.cash,
        until: undefined,
        lots: false,
        ccxt: {
          ...(flags.venue === undefined ? {} : { venue: flags.venue }),
          ...(flags.book === undefined ? {} : { book: flags.book }),
          ...(flags.account === undefined ? {} : { account: flags.account }),
          ...(flags.asOf === undefined ? {} : { asOf: flags.asOf }),
        },
      },
      recon,
      flags.trades === undefined ? undefined : { venue: flags.tradesVenue!, path: flags.trades, ...(flags.from === undefined ? {} : { from: flags.from }), ...(flags.to === undefined ? {} : { to: flags.to }) },
    );
  } catch (e) {
    const error = e as NodeJS.ErrnoException;
    if (error.code === 'ENOENT' || error.code === 'EISDIR' || error.code === 'EACCES' || error.name === 'ReconConfigError' || error instanceof SyntaxError || /^.+ #\d+: /.test(error.message)) {
      err.write(`utl check: ${error.message}\n`);
      return EXIT_USAGE;
    }
    throw e;
  }
  if (flags.json === true) {
    out.write(`${JSON.stringify({ ok: run.ok, reports: run.reports, breaks: run.breaks, transfers: run.transfers, trades: run.trades ?? null, checks: run.checks, rejected: run.replay.rejected, counts: run.replay.counts })}\n`);
  } else {
    out.write(`${renderCheck(run)}\n`);
  }
  return run.ok ? EXIT_OK : EXIT_CHECK_FAILED;
}

/** Runs the service until SIGINT or SIGTERM, then stops it cleanly (last checkpoint). */
async function runStart(flags: StartFlags, err: NodeJS.WritableStream): Promise<number> {
  const books = readBooks(flags.books, 'start', err);
  if (books === undefined) return EXIT_USAGE;
  const databaseUrl = flags.databaseUrl === '' ? undefined : flags.databaseUrl;
  const natsUrl = flags.natsUrl === '' ? undefined : flags.natsUrl;
  let recon = DEFAULT_RECON;
  let alerts;
  try {
    if (flags.recon !== undefined && flags.recon !== '') recon = await loadReconConfig(flags.recon);
    if (flags.alerts !== undefined && flags.alerts !== '') alerts = await loadAlertConfig(flags.alerts);
  } catch (e) {
    err.write(`utl start: ${(e as Error).message}\n`);
    return EXIT_USAGE;
  }
  const { DEFAULT_START, startService } = await import('../app/start.js');
  let running;
  try {
    running = await startService({
    ...DEFAULT_START,
    service: {
      ...DEFAULT_SERVICE_CONFIG,
      settings: { method: flags.method, fees: flags.fees, pool: flags.pool },
      books,
      reporting: flags.reporting,
      cashLike: flags.cash,
      consumer: flags.consumer,
      updatesPrefix: flags.updates,
      batchMax: flags.batchMax,
      batchWaitMs: flags.batchWaitMs,
      checkpointEvery: flags.checkpointEvery,
      updateIntervalMs: flags.updateIntervalMs,
      updateSnapshotMs: flags.updateSnapshotMs,
    },
    databaseUrl,
    natsUrl,
    dataDir: flags.data,
    stream: flags.stream,
    subjectPrefix: flags.subjects,
    ackWaitMs: flags.ackWaitMs,
    host: flags.host,
    port: flags.port,
    logLevel: flags.logLevel,
    recon,
    alerts,
    // Keys are required where a real server holds the book of record; the embedded store is
    // the one-command local run and the demo, which stay one command (docs/config.md).
    auth: flags.auth ?? (databaseUrl === undefined ? 'off' : 'required'),
    writeLimit: { max: flags.writeLimit, timeWindowMs: 60_000 },
    snapshots: { delayMs: flags.eodDelayS * 1000 },
    front: flags.front === 'on',
  });
  } catch (e) {
    // What the operator can fix (a server that does not answer, a data folder in use) is not a bug.
    const name = (e as Error).name;
    if (name === 'DatabaseUnreachableError' || name === 'DataDirInUseError' || (e as NodeJS.ErrnoException).code === 'ECONNREFUSED' || (e as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      err.write(`utl start: ${(e as Error).message}\n`);
      return EXIT_USAGE;
    }
    throw e;
  }
  err.write(`utl: serving on ${running.url} (store: ${databaseUrl === undefined ? `embedded, ${flags.data}` : 'PostgreSQL'}, inbound: ${natsUrl === undefined ? 'HTTP POST /events' : `NATS ${flags.subjects}.<book>`}, API keys: ${flags.auth ?? (databaseUrl === undefined ? 'off' : 'required')})\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await running.stop();
  return EXIT_OK;
}

async function runReplay(files: string[], flags: ReplayFlags, out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  let bar: cliProgress.SingleBar | undefined;
  const tty = (err as { isTTY?: boolean }).isTTY === true;
  const books = readBooks(flags.books, 'replay', err);
  if (books === undefined) return EXIT_USAGE;
  const opts: ReplayOptions = {
    settings: { method: flags.method, fees: flags.fees, pool: flags.pool },
    books,
    reporting: flags.reporting,
    cashLike: flags.cash,
    until: flags.at,
    lots: flags.lots === true,
    threads: flags.threads,
    ccxt: {
      ...(flags.venue === undefined ? {} : { venue: flags.venue }),
      ...(flags.book === undefined ? {} : { book: flags.book }),
      ...(flags.account === undefined ? {} : { account: flags.account }),
      ...(flags.asOf === undefined ? {} : { asOf: flags.asOf }),
    },
    onProgress: (bytes, total) => {
      if (!flags.progress || !tty || total < PROGRESS_MIN_BYTES) return;
      if (bar === undefined) {
        bar = new cliProgress.SingleBar({ stream: err, format: 'replay [{bar}] {percentage}% | {value}/{total} MB | eta {eta}s', hideCursor: true }, cliProgress.Presets.shades_classic);
        bar.start(Math.ceil(total / 1e6), 0);
      }
      bar.update(Math.floor(bytes / 1e6));
    },
  };
  let result;
  try {
    result = await replayFiles(files, opts);
  } catch (e) {
    const error = e as NodeJS.ErrnoException;
    if (error.code === 'ENOENT' || error.code === 'EISDIR' || error.code === 'EACCES') {
      err.write(`utl replay: cannot read ${error.path ?? files.join(', ')}: ${error.message}\n`);
      return EXIT_USAGE;
    }
    throw e;
  } finally {
    bar?.stop();
  }
  if (flags.json === true) {
    const r = result.report;
    out.write(
      `${JSON.stringify({
        positions: r.positions,
        exposure: r.exposure,
        books: r.books,
        balances: r.balances,
        venueBalances: r.venueBalances,
        rejected: result.rejected,
        counts: result.counts,
        asOf: r.asOf,
        digest: result.digest,
      })}\n`,
    );
  } else {
    out.write(`${renderReport(result, { color: (out as { isTTY?: boolean }).isTTY === true })}\n`);
  }
  return result.rejected.length > 0 ? EXIT_REJECTED : EXIT_OK;
}
