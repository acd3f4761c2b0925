/**
 * The ledger-cli comparison: converts the trades of a UTL JSON Lines log into a ledger-cli journal
 * (one transaction per fill) and times `ledger -f JOURNAL bal` on it, as a reference point for
 * what a plain double-entry tool costs on the same input.
 *
 * Every posting carries an explicit amount computed exactly (bigint decimals), so ledger's own
 * balance check verifies each transaction: a conversion error shows up as an error on stderr.
 *
 * CLI: node dist/bench/ledger-cli.js bench/out/fills-100k.jsonl [--runs 3] [--journal FILE]
 *      writes FILE (default: the .jsonl path with .ledger) and prints the timings.
 */
import { spawnSync } from 'node:child_process';
import { createReadStream, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { isMain } from './main.js';
import { bufferedFileWriter } from './generate.js';

export interface LedgerRun {
  seconds: number;
  ok: boolean;
  stderr: string;
}

/** A decimal as an integer count of units and a scale, so qty × price is exact. */
interface Decimal {
  units: bigint;
  scale: number;
}

const DECIMAL_RE = /^-?\d+(\.\d+)?$/;

function parseDecimal(text: string, what: string): Decimal {
  if (!DECIMAL_RE.test(text)) throw new Error(`${what}: not a decimal string: ${JSON.stringify(text)}`);
  const dot = text.indexOf('.');
  if (dot < 0) return { units: BigInt(text), scale: 0 };
  return { units: BigInt(text.slice(0, dot) + text.slice(dot + 1)), scale: text.length - dot - 1 };
}

function formatDecimal(d: Decimal): string {
  const negative = d.units < 0n;
  let digits = (negative ? -d.units : d.units).toString();
  if (d.scale > 0) {
    if (digits.length <= d.scale) digits = '0'.repeat(d.scale - digits.length + 1) + digits;
    const cut = digits.length - d.scale;
    digits = `${digits.slice(0, cut)}.${digits.slice(cut)}`;
  }
  return negative ? `-${digits}` : digits;
}

function negate(d: Decimal): Decimal {
  return { units: -d.units, scale: d.scale };
}

/**
 * ledger reads an unquoted commodity only if it has no digits or operator characters, so names
 * like A07 must be quoted ("A07") or ledger tries to parse them as numbers.
 */
function commodity(name: string): string {
  return /^[A-Za-z]+$/.test(name) ? name : `"${name.replace(/"/g, '')}"`;
}

/** The fields of a trade line this converter uses, checked because the input is external. */
interface Trade {
  id: string;
  ts: string;
  book: string;
  venue: string;
  instrument: string;
  side: 'buy' | 'sell';
  qty: string;
  price: string;
  fee: { asset: string; amount: string } | undefined;
}

function asTrade(value: unknown, lineNo: number): Trade | undefined {
  if (typeof value !== 'object' || value === null) throw new Error(`line ${lineNo}: not a JSON object`);
  const v = value as Record<string, unknown>;
  if (v.type !== 'trade') return undefined;
  const str = (key: string): string => {
    const field = v[key];
    if (typeof field !== 'string') throw new Error(`line ${lineNo}: trade field ${key} is not a string`);
    return field;
  };
  const side = str('side');
  if (side !== 'buy' && side !== 'sell') throw new Error(`line ${lineNo}: bad side ${side}`);
  let fee: Trade['fee'];
  if (v.fee !== undefined) {
    const f = v.fee as Record<string, unknown>;
    if (typeof f.asset !== 'string' || typeof f.amount !== 'string') throw new Error(`line ${lineNo}: bad fee`);
    fee = { asset: f.asset, amount: f.amount };
  }
  return {
    id: str('id'),
    ts: str('ts'),
    book: str('book'),
    venue: str('venue'),
    instrument: str('instrument'),
    side,
    qty: str('qty'),
    price: str('price'),
    fee,
  };
}

/**
 * How a fill's exchange of one commodity for another is written:
 * - 'trading' (default): each commodity balances on its own through an Equity:Trading account
 *   per instrument (the trading-accounts method), so `ledger bal` only sums amounts. This is the
 *   fair "plain double-entry" baseline, and it scales linearly.
 * - 'cost': the asset leg carries `@ PRICE QUOTE`. ledger then balances the two commodities at
 *   that cost and keeps every fill as a separate lot (commodity annotated with price and date),
 *   but never matches sells against buys. Measured superlinear: 100k fills take minutes.
 */
export type LedgerStyle = 'trading' | 'cost';

/** One ledger transaction for one fill: the asset leg, the cash leg, the fee. */
function journalEntry(t: Trade, lineNo: number, style: LedgerStyle): string {
  const slash = t.instrument.indexOf('/');
  if (slash <= 0) throw new Error(`line ${lineNo}: instrument ${t.instrument} is not BASE/QUOTE`);
  const base = t.instrument.slice(0, slash);
  const quote = t.instrument.slice(slash + 1);
  const baseC = commodity(base);
  const quoteC = commodity(quote);
  const qty = parseDecimal(t.qty, `line ${lineNo} qty`);
  const price = parseDecimal(t.price, `line ${lineNo} price`);
  const signedQty = t.side === 'buy' ? qty : negate(qty);
  const cash = negate({ units: signedQty.units * price.units, scale: signedQty.scale + price.scale });
  const account = `Assets:${t.book}:${t.venue}`;
  // ledger dates have day resolution; the fill id is the payee so a failing entry can be traced.
  const date = `${t.ts.slice(0, 4)}/${t.ts.slice(5, 7)}/${t.ts.slice(8, 10)}`;
  let entry = `${date} ${t.id}\n`;
  if (style === 'cost') {
    entry +=
      `    ${account}:${base}  ${formatDecimal(signedQty)} ${baseC} @ ${t.price} ${quoteC}\n` +
      `    ${account}:${quote}  ${formatDecimal(cash)} ${quoteC}\n`;
  } else {
    const trading = `Equity:Trading:${base}-${quote}`;
    entry +=
      `    ${account}:${base}  ${formatDecimal(signedQty)} ${baseC}\n` +
      `    ${account}:${quote}  ${formatDecimal(cash)} ${quoteC}\n` +
      `    ${trading}  ${formatDecimal(negate(signedQty))} ${baseC}\n` +
      `    ${trading}  ${formatDecimal(negate(cash))} ${quoteC}\n`;
  }
  if (t.fee !== undefined) {
    const fee = parseDecimal(t.fee.amount, `line ${lineNo} fee`);
    const feeC = commodity(t.fee.asset);
    entry +=
      `    Expenses:Fees  ${formatDecimal(fee)} ${feeC}\n` +
      `    ${account}:${t.fee.asset}  ${formatDecimal(negate(fee))} ${feeC}\n`;
  }
  // The writer adds the newline that ends the entry's blank separator line.
  return entry;
}

/** Reads the JSON Lines log and writes one ledger transaction per trade line (others are skipped). */
export async function writeLedgerJournal(
  jsonlPath: string,
  journalPath: string,
  style: LedgerStyle = 'trading',
): Promise<{ transactions: number }> {
  // The same 4 MiB buffer writer as the generator: growing one string per chunk made GC dominate.
  const out = bufferedFileWriter(journalPath);
  let transactions = 0;
  let lineNo = 0;
  try {
    out.write(`; ledger-cli journal generated from ${jsonlPath} by bench/ledger-cli.ts (style ${style}): one transaction per fill.\n`);
    const lines = createInterface({ input: createReadStream(jsonlPath, { encoding: 'utf8' }), crlfDelay: Infinity });
    for await (const line of lines) {
      lineNo++;
      if (line.length === 0) continue;
      const trade = asTrade(JSON.parse(line), lineNo);
      if (trade === undefined) continue;
      out.write(journalEntry(trade, lineNo, style));
      transactions++;
    }
  } finally {
    out.close();
  }
  return { transactions };
}

/**
 * Times one `ledger -f JOURNAL bal`, stdout discarded. `--args-only` keeps a ~/.ledgerrc or
 * LEDGER_* variables from changing what is measured. ok: exit 0 and nothing on stderr.
 */
export function runLedgerBal(journalPath: string): LedgerRun {
  const started = process.hrtime.bigint();
  const result = spawnSync('ledger', ['--args-only', '-f', journalPath, 'bal'], {
    stdio: ['ignore', 'ignore', 'pipe'],
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const stderr = result.error !== undefined ? `${result.error.message}\n${result.stderr ?? ''}` : result.stderr;
  return { seconds, ok: result.error === undefined && result.status === 0 && stderr.trim() === '', stderr };
}

/**
 * Peak resident set size (KiB) of one `ledger bal` run, via GNU time writing to a file so that
 * ledger's own stderr stays separate; undefined where /usr/bin/time is not installed.
 */
export function measureLedgerPeakRssKb(journalPath: string): number | undefined {
  if (!existsSync('/usr/bin/time')) return undefined;
  const dir = mkdtempSync(join(tmpdir(), 'utl-ledger-'));
  const out = join(dir, 'time.txt');
  try {
    const result = spawnSync('/usr/bin/time', ['-f', '%M', '-o', out, 'ledger', '--args-only', '-f', journalPath, 'bal'], {
      stdio: ['ignore', 'ignore', 'ignore'],
    });
    if (result.status !== 0 || !existsSync(out)) return undefined;
    const kb = Number(readFileSync(out, 'utf8').trim().split('\n').pop());
    return Number.isFinite(kb) ? kb : undefined;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function ledgerWorks(): boolean {
  const result = spawnSync('ledger', ['--version'], { stdio: 'ignore' });
  return result.error === undefined && result.status === 0;
}

/**
 * Makes sure the `ledger` binary is there, installing Debian's package if not (benchmark only:
 * the product never needs ledger). Retries after `apt-get update` because a fresh machine's
 * package lists may be empty or stale. Returns whether ledger runs afterwards.
 */
export function ensureLedgerInstalled(): boolean {
  if (ledgerWorks()) return true;
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const apt = (args: string[]): boolean => spawnSync('apt-get', args, { stdio: ['ignore', 'inherit', 'inherit'], env }).status === 0;
  if (!apt(['install', '-y', 'ledger'])) {
    process.stderr.write('ledger-cli: apt-get install failed; running apt-get update and retrying\n');
    if (!apt(['update'])) return false;
    if (!apt(['install', '-y', 'ledger'])) return false;
  }
  return ledgerWorks();
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const hi = sorted[mid] ?? NaN;
  const lo = sorted[mid - 1] ?? hi;
  return sorted.length % 2 === 1 ? hi : (lo + hi) / 2;
}

const USAGE = 'usage: ledger-cli.js LOG.jsonl [--style trading|cost] [--runs N] [--journal FILE]';

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  let jsonl: string | undefined;
  let journal: string | undefined;
  let style: LedgerStyle = 'trading';
  let runs = 3;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === '--runs' || arg === '--journal' || arg === '--style') {
      const value = args[++i];
      if (value === undefined) throw new Error(`${arg} needs a value; ${USAGE}`);
      if (arg === '--journal') journal = value;
      else if (arg === '--style') {
        if (value !== 'trading' && value !== 'cost') throw new Error(`--style must be trading or cost, got ${value}`);
        style = value;
      } else if (/^[1-9]\d*$/.test(value)) runs = Number(value);
      else throw new Error(`--runs must be a positive integer, got ${value}`);
    } else if (arg !== undefined && jsonl === undefined && !arg.startsWith('--')) {
      jsonl = arg;
    } else {
      throw new Error(`unexpected argument ${String(arg)}; ${USAGE}`);
    }
  }
  if (jsonl === undefined) throw new Error(USAGE);
  const stem = jsonl.endsWith('.jsonl') ? jsonl.slice(0, -'.jsonl'.length) : jsonl;
  journal ??= style === 'trading' ? `${stem}.ledger` : `${stem}.${style}.ledger`;

  if (!ensureLedgerInstalled()) throw new Error('ledger is not installed and could not be installed');

  const convStarted = process.hrtime.bigint();
  const { transactions } = await writeLedgerJournal(jsonl, journal, style);
  const convSeconds = Number(process.hrtime.bigint() - convStarted) / 1e9;
  console.log(`journal: ${journal} (style ${style}, ${transactions} transactions) written in ${convSeconds.toFixed(2)} s`);

  const times: number[] = [];
  for (let i = 1; i <= runs; i++) {
    const run = runLedgerBal(journal);
    if (!run.ok) throw new Error(`ledger bal failed on run ${i} after ${run.seconds.toFixed(2)} s:\n${run.stderr}`);
    times.push(run.seconds);
    console.log(`ledger bal run ${i}: ${run.seconds.toFixed(3)} s`);
  }
  // A separate run under GNU time: wrapping the timed runs would add its overhead to them.
  const rss = measureLedgerPeakRssKb(journal);
  console.log(`ledger bal median of ${runs}: ${median(times).toFixed(3)} s; peak RSS: ${rss === undefined ? 'none (no /usr/bin/time)' : `${(rss / 1024).toFixed(0)} MiB`}`);
}

if (isMain(import.meta.url)) {
  main().catch((err: unknown) => {
    process.stderr.write(`ledger-cli: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
}
