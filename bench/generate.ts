/**
 * Benchmark input generator: a deterministic, seeded UTL event log in canonical JSON Lines
 * (one event per line) with many spot fills across instruments, venues and books, and marks.
 *
 * What the log exercises: positions that go long, short and flip (so closes and lot matching run,
 * not only opens), fees in the quote asset with some negative maker rebates, and price lines
 * that move the marks. Every decimal is built from an integer count of units and formatted as a
 * string, so no generated amount ever passes through float formatting.
 *
 * CLI: node dist/bench/generate.js --fills 1000000 --out bench/out/fills-1m.jsonl [--seed 42]
 *      [--instruments 50] [--venues 5] [--prices-every 100]
 */
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { isMain } from './main.js';

export interface GenerateOptions {
  /** Number of trade lines to emit (price lines are extra). */
  fills: number;
  /** PRNG seed; the same seed and options give the same bytes. Default 42. */
  seed?: number;
  /** Number of spot instruments; even-numbered ones quote in USD, odd ones in USDT. Default 50. */
  instruments?: number;
  /** Number of venues. Default 5. */
  venues?: number;
  /** A price line after every this many fills. Default 100. */
  pricesEvery?: number;
}

const DEFAULT_SEED = 42;
const DEFAULT_INSTRUMENTS = 50;
const DEFAULT_VENUES = 5;
const DEFAULT_PRICES_EVERY = 100;

/** The first event's time; each later event is 1 ms after the previous one (strictly increasing). */
const START_MS = Date.UTC(2026, 0, 1);
const VENUE_NAMES = ['binance', 'okx', 'bybit', 'kraken', 'coinbase'];
const BOOKS = ['b1', 'b2'];
/** USDT's USD mark is kept in units of 0.0001, near 1.0001 (10001 units). */
const USDT_SCALE = 4;
/** Fee amounts are formatted at this scale per quote asset. */
const FEE_SCALE: Record<string, number> = { USD: 4, USDT: 6 };
/** Share of fills that are maker fills with a rebate (a negative fee). */
const REBATE_SHARE = 0.2;
/**
 * Buy probability is 0.5 ± this in a regime: small enough that sides stay balanced overall,
 * large enough that net positions drift away from zero and then back through it (flips).
 */
const SIDE_BIAS = 0.04;

/** mulberry32: a tiny, fast 32-bit PRNG; deterministic from the seed, unlike Math.random. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Formats an integer count of units at `scale` decimal places as a canonical decimal string
 * (no exponent, no trailing fractional zeros, "0" for zero), the way UTL's Dec prints. Pure
 * string work on the integer's digits: the value is never divided as a float.
 */
export function formatUnits(units: number, scale: number): string {
  if (!Number.isSafeInteger(units)) throw new RangeError(`formatUnits: ${units} is not a safe integer`);
  const negative = units < 0;
  let digits = String(negative ? -units : units);
  if (scale > 0) {
    if (digits.length <= scale) digits = '0'.repeat(scale - digits.length + 1) + digits;
    const cut = digits.length - scale;
    let frac = digits.slice(cut);
    let end = frac.length;
    while (end > 0 && frac.charCodeAt(end - 1) === 48 /* '0' */) end--;
    frac = frac.slice(0, end);
    digits = frac.length > 0 ? `${digits.slice(0, cut)}.${frac}` : digits.slice(0, cut);
  }
  return negative && digits !== '0' ? `-${digits}` : digits;
}

interface Instrument {
  readonly symbol: string;
  readonly base: string;
  readonly quote: 'USD' | 'USDT';
  /** Price decimals (2..8); the price is `ticks / 10^priceScale`. */
  readonly priceScale: number;
  ticks: number;
  readonly minTicks: number;
  readonly maxTicks: number;
  /** Quantity decimals (1..4), coarser for cheap assets as venues' lot sizes are. */
  readonly qtyScale: number;
  /** Current side bias (+ favours buys) and how many more of this instrument's fills it lasts. */
  bias: number;
  regimeLeft: number;
}

function makeInstruments(count: number, rand: () => number): Instrument[] {
  const out: Instrument[] = [];
  const width = Math.max(2, String(count - 1).length);
  for (let i = 0; i < count; i++) {
    const base = `A${String(i).padStart(width, '0')}`;
    const quote = i % 2 === 0 ? 'USD' : 'USDT';
    const priceScale = 2 + Math.floor(rand() * 7);
    // 5 to 7 significant digits: with 2..8 decimals this spans prices from ~0.001 to ~100000.
    const ticks = Math.floor(10 ** (5 + 2 * rand()));
    const price = ticks / 10 ** priceScale;
    const qtyScale = price >= 1000 ? 4 : price >= 10 ? 3 : price >= 0.1 ? 2 : 1;
    out.push({
      symbol: `${base}/${quote}`,
      base,
      quote,
      priceScale,
      ticks,
      // The walk is kept within [1/4, 4] × the start so prices stay positive and plausible.
      minTicks: Math.max(100, Math.floor(ticks / 4)),
      maxTicks: ticks * 4,
      qtyScale,
      bias: rand() < 0.5 ? SIDE_BIAS : -SIDE_BIAS,
      regimeLeft: 100 + Math.floor(rand() * 900),
    });
  }
  return out;
}

/**
 * Writes the log line by line to `write` (each line without its trailing newline). The order is:
 * one USD mark per asset (USDT first), then fills with a price line after every `pricesEvery`.
 */
export function generateLog(opts: GenerateOptions, write: (line: string) => void): void {
  const fills = opts.fills;
  const seed = opts.seed ?? DEFAULT_SEED;
  const instrumentCount = opts.instruments ?? DEFAULT_INSTRUMENTS;
  const venueCount = opts.venues ?? DEFAULT_VENUES;
  const pricesEvery = opts.pricesEvery ?? DEFAULT_PRICES_EVERY;
  if (!Number.isSafeInteger(fills) || fills < 0) throw new RangeError(`fills must be a non-negative integer, got ${fills}`);
  if (!Number.isSafeInteger(instrumentCount) || instrumentCount < 1) throw new RangeError(`instruments must be ≥ 1, got ${instrumentCount}`);
  if (!Number.isSafeInteger(venueCount) || venueCount < 1) throw new RangeError(`venues must be ≥ 1, got ${venueCount}`);
  if (!Number.isSafeInteger(pricesEvery) || pricesEvery < 1) throw new RangeError(`pricesEvery must be ≥ 1, got ${pricesEvery}`);

  const rand = mulberry32(seed);
  const instruments = makeInstruments(instrumentCount, rand);
  const venues = Array.from({ length: venueCount }, (_, i) => VENUE_NAMES[i] ?? `venue${i}`);
  let usdtUnits = 10001;

  let ms = START_MS;
  // ISO-8601 with ms, built from a per-second prefix: a Date per line was ~10% of the run time.
  let prefixSecond = -1;
  let prefix = '';
  const isoTs = (t: number): string => {
    const second = t - (t % 1000);
    if (second !== prefixSecond) {
      prefixSecond = second;
      prefix = new Date(second).toISOString().slice(0, 20); // "2026-01-01T00:00:00."
    }
    const milli = t - second;
    return `${prefix}${milli < 10 ? '00' : milli < 100 ? '0' : ''}${milli}Z`;
  };
  let priceSeq = 0;
  const priceLine = (asset: string, price: string): void => {
    priceSeq++;
    // `id` too: every canonical event has one, and (ts, id) is the booking order.
    write(`{"type":"price","id":"p${priceSeq}","ts":"${isoTs(ms)}","asset":"${asset}","quote":"USD","price":"${price}"}`);
    ms++;
  };
  /** The asset's USD mark: the USDT price times USDT's own mark, exact in integer units. */
  const usdMark = (ins: Instrument): string =>
    ins.quote === 'USD'
      ? formatUnits(ins.ticks, ins.priceScale)
      : formatUnits(ins.ticks * usdtUnits, ins.priceScale + USDT_SCALE);

  priceLine('USDT', formatUnits(usdtUnits, USDT_SCALE));
  for (const ins of instruments) priceLine(ins.base, usdMark(ins));

  for (let n = 1; n <= fills; n++) {
    const ins = instruments[Math.floor(rand() * instruments.length)];
    const venue = venues[Math.floor(rand() * venues.length)];
    if (ins === undefined || venue === undefined) throw new Error('generateLog: index out of range');
    const book = rand() < 0.7 ? BOOKS[0] : BOOKS[1];

    // Random walk of ±0.1% per fill on the integer ticks; the price string is formatted from them.
    const step = Math.round(ins.ticks * (rand() - 0.5) * 0.002);
    ins.ticks = Math.min(ins.maxTicks, Math.max(ins.minTicks, ins.ticks + step));

    if (--ins.regimeLeft <= 0) {
      ins.bias = -ins.bias;
      ins.regimeLeft = 100 + Math.floor(rand() * 900);
    }
    const side = rand() < 0.5 + ins.bias ? 'buy' : 'sell';

    // Notional log-uniform in [20, 20000] quote units; floats only size the integer quantity,
    // which is then formatted exactly.
    const price = ins.ticks / 10 ** ins.priceScale;
    const notional = 20 * 1000 ** rand();
    const qtyUnits = Math.max(1, Math.round((notional / price) * 10 ** ins.qtyScale));

    // Fee: 2-10 bp charged, or a 0.5-1 bp maker rebate; an integer count of fee units, never 0.
    const feeScale = FEE_SCALE[ins.quote] ?? 6;
    const rebate = rand() < REBATE_SHARE;
    const bp = rebate ? -(0.5 + rand() * 0.5) : 2 + rand() * 8;
    const approxNotional = (qtyUnits / 10 ** ins.qtyScale) * price;
    let feeUnits = Math.round(approxNotional * bp * 10 ** (feeScale - 4));
    if (feeUnits === 0) feeUnits = rebate ? -1 : 1;

    write(
      `{"type":"trade","id":"f${n}","ts":"${isoTs(ms)}","book":"${book}","venue":"${venue}","account":"main",` +
        `"instrument":"${ins.symbol}","side":"${side}","qty":"${formatUnits(qtyUnits, ins.qtyScale)}",` +
        `"price":"${formatUnits(ins.ticks, ins.priceScale)}","fee":{"asset":"${ins.quote}","amount":"${formatUnits(feeUnits, feeScale)}"}}`,
    );
    ms++;

    if (n % pricesEvery === 0) {
      priceLine(ins.base, usdMark(ins));
      // USDT's mark moves too, rarely and within ±0.1% of 1, as a stablecoin's does.
      if ((n / pricesEvery) % 10 === 0) {
        usdtUnits = Math.min(10010, Math.max(9990, usdtUnits + Math.floor(rand() * 5) - 2));
        priceLine('USDT', formatUnits(usdtUnits, USDT_SCALE));
      }
    }
  }
}

/**
 * Copies lines into a 4 MiB buffer and writes it when full, so 1M lines cost ~60 syscalls, not
 * 1M. (Appending to one big string and converting it was 3× slower than generating the lines.)
 */
export function bufferedFileWriter(path: string): { write: (line: string) => void; close: () => { lines: number; bytes: number } } {
  const fd = openSync(path, 'w');
  const buf = Buffer.allocUnsafe(4 << 20);
  let used = 0;
  let lines = 0;
  let bytes = 0;
  const flush = (): void => {
    // writeSync may write fewer bytes than asked; loop so no line is ever cut.
    for (let off = 0; off < used; ) off += writeSync(fd, buf, off, used - off);
    bytes += used;
    used = 0;
  };
  return {
    write: (line: string) => {
      // 3 bytes per UTF-16 unit is the UTF-8 worst case, so the line surely fits after a flush.
      const worst = line.length * 3 + 1;
      if (used + worst > buf.length) {
        flush();
        if (worst > buf.length) {
          const data = Buffer.from(line + '\n', 'utf8');
          for (let off = 0; off < data.length; ) off += writeSync(fd, data, off, data.length - off);
          bytes += data.length;
          lines++;
          return;
        }
      }
      used += buf.write(line, used, 'utf8');
      buf[used++] = 10; // '\n'
      lines++;
    },
    close: () => {
      flush();
      closeSync(fd);
      return { lines, bytes };
    },
  };
}

function parseArgs(argv: readonly string[]): { opts: GenerateOptions; out: string } {
  const values = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const key = argv[i];
    const value = argv[i + 1];
    if (key === undefined || !key.startsWith('--') || value === undefined) {
      throw new Error(`bad argument near ${JSON.stringify(key)}; usage: --fills N --out FILE [--seed S] [--instruments N] [--venues N] [--prices-every N]`);
    }
    values.set(key.slice(2), value);
    i++;
  }
  const int = (name: string): number | undefined => {
    const text = values.get(name);
    if (text === undefined) return undefined;
    if (!/^\d+$/.test(text)) throw new Error(`--${name} must be a non-negative integer, got ${JSON.stringify(text)}`);
    return Number(text);
  };
  const fills = int('fills');
  const out = values.get('out');
  if (fills === undefined || out === undefined) throw new Error('--fills and --out are required');
  for (const name of values.keys()) {
    if (!['fills', 'out', 'seed', 'instruments', 'venues', 'prices-every'].includes(name)) throw new Error(`unknown option --${name}`);
  }
  return {
    opts: { fills, seed: int('seed'), instruments: int('instruments'), venues: int('venues'), pricesEvery: int('prices-every') },
    out,
  };
}

function main(): void {
  const { opts, out } = parseArgs(process.argv.slice(2));
  const path = resolve(out);
  mkdirSync(dirname(path), { recursive: true });
  const started = process.hrtime.bigint();
  const writer = bufferedFileWriter(path);
  generateLog(opts, writer.write);
  const { lines, bytes } = writer.close();
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  process.stderr.write(`wrote ${lines} lines (${opts.fills} fills), ${bytes} bytes to ${out} in ${seconds.toFixed(2)} s\n`);
}

if (isMain(import.meta.url)) {
  try {
    main();
  } catch (err) {
    process.stderr.write(`generate: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  }
}
