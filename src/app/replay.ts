/**
 * The replay service: files of events (JSON Lines, a JSON array of events, or ccxt's unified
 * structures) in, positions, PnL, exposure and every rejection out.
 *
 * It streams: a sorted log is booked as it is read, keeping only a compact set of id hashes, so
 * memory stays flat for 10M fills. A late event, a correction, or a repeated id cannot be handled
 * without the events, so then the files are read again with retained timelines, which handle
 * any order exactly. Either way every input line ends up booked, a duplicate, or rejected.
 */
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { fromCcxt, isCcxtPayload, type CcxtContext } from '../adapters/ccxt/ccxt.js';
import { parseEventLine } from '../adapters/file/fastjson.js';
import { readLineBatches } from '../adapters/file/lines.js';
import type { BookSettings } from '../domain/book.js';
import { describeIssues, show, type RejectCode } from '../domain/errors.js';
import { Ledger, type LedgerConfig } from '../domain/ledger.js';
import { Dec } from '../domain/decimal.js';
import { IdHashSet, intersects } from '../domain/idset.js';
import { restoreBook, restoreMarks, type BookSnapshot, type MarksSnapshot } from '../domain/snapshot.js';
import { buildReport, stateDocument, unbookedEvents, type Report } from '../domain/report.js';
import type { LedgerEvent } from '../domain/events.js';
import { decodeTradeLine } from '../domain/tradeline.js';
import { validateEvent } from '../domain/validate.js';
import { routeFiles } from './router.js';

export interface ReplayOptions {
  readonly settings: BookSettings;
  /** Per-book overrides of `settings`. */
  readonly books?: Readonly<Record<string, Partial<BookSettings>>>;
  readonly reporting: string;
  readonly cashLike: readonly string[];
  readonly until: number | undefined;
  /** Context for ccxt input, which does not say which venue or book it is from. */
  readonly ccxt: Partial<CcxtContext>;
  /** Include each position's lots in the report. */
  readonly lots: boolean;
  /** Keep timelines from the first pass (reading the past afterwards: `utl check`). */
  readonly retain?: boolean;
  /** Called with (bytes read, total bytes) while reading. */
  readonly onProgress?: ((bytes: number, total: number) => void) | undefined;
  /** Threads to book on (one shard of books each); 1 by default. */
  readonly threads?: number;
}

/** Sharding pays for its threads only on large inputs. */
const SHARDED_MIN_BYTES = 16 << 20;
const MAX_THREADS = 16;

export interface RejectedEntry {
  readonly file: string;
  /** Line of the file (JSONL) or 1-based position in a JSON array; null when not known. */
  readonly line: number | null;
  readonly id: string | null;
  readonly code: RejectCode;
  readonly message: string;
  readonly stage: 'validation' | 'booking';
  readonly raw?: string;
}

export interface ReplayCounts {
  readonly lines: number;
  readonly events: number;
  readonly duplicates: number;
  readonly rejected: number;
  /** True when the input needed the second, retaining pass (late events, corrections, repeats). */
  readonly rebooked: boolean;
}

export interface ReplayResult {
  readonly report: Report;
  readonly rejected: RejectedEntry[];
  readonly counts: ReplayCounts;
  readonly digest: string;
  /** The ledger the report was built from (timelines kept when retained). */
  readonly ledger: Ledger;
}

interface Source {
  readonly file: string;
  readonly line: number;
}

/** One of `count` threads of a sharded replay; the router (router.ts) decides which lines it gets. */
export interface Shard {
  readonly index: number;
  readonly count: number;
}

/** An event's text, or a function that makes it: a line is text already (no closure per line). */
type Raw = string | (() => string);

function rawText(raw: Raw): string {
  return typeof raw === 'string' ? raw : raw();
}

/**
 * Bytes of input per event assumed when the id set is sized from the input's size. A canonical
 * trade line is ~220 bytes. Shorter lines than this leave a growth or two to do (as without a
 * hint); longer ones make the set larger than it needs (by their ratio to this, at most).
 */
const BYTES_PER_EVENT_GUESS = 256;

export class Pass {
  readonly ledger: Ledger;
  readonly rejected: RejectedEntry[] = [];
  /** Ids of the events this shard books alone: another shard holding one of them means a shared id. */
  readonly ownIds = new IdHashSet();
  /** Where each event came from: every event when retaining (rebooks move refusals), else only the refused. */
  readonly sources = new Map<string, Source>();
  lines = 0;
  events = 0;
  duplicates = 0;
  bytes = 0;
  /** Lines every shard books (marks, terms, events whose book the router could not read) count and report on shard 0 alone. */
  private quiet = false;

  constructor(
    readonly opts: ReplayOptions,
    readonly retain: boolean,
    readonly totalBytes: number,
    readonly shard: Shard | undefined = undefined,
  ) {
    // Without shards one ledger books every line: its id set is sized for the input at once.
    const expectedEvents = shard === undefined ? Math.floor(totalBytes / BYTES_PER_EVENT_GUESS) : 0;
    const config: Partial<LedgerConfig> = { reporting: opts.reporting, cashLike: opts.cashLike, defaults: opts.settings, books: opts.books ?? {}, retain, until: opts.until, expectedEvents };
    this.ledger = new Ledger(config);
  }

  reject(file: string, line: number | null, id: string | null, code: RejectCode, message: string, raw: string): void {
    if (!this.quiet) this.rejected.push({ file, line, id, code, message, stage: 'validation', raw });
  }

  /** Parses (or declines) and submits one JSONL line; `shared` when every shard gets it. */
  line(text: string, file: string, line: number, shared = false): void {
    this.quiet = shared && this.shard !== undefined && this.shard.index !== 0;
    const trade = decodeTradeLine(text, this.ledger.instruments);
    if (trade !== undefined) {
      this.book(trade, file, line, text);
      return;
    }
    let value: unknown = parseEventLine(text);
    if (value === undefined) {
      try {
        value = JSON.parse(text);
      } catch (e) {
        this.reject(file, line, null, 'JSON_SYNTAX', `line ${line}: ${(e as Error).message}`, text);
        return;
      }
    }
    this.submit(value, file, line, text);
  }

  /**
   * Validates and submits one wire value; records any rejection against its source. `raw` is its
   * text, or makes it (only a rejection needs it).
   */
  submit(value: unknown, file: string, line: number, raw: Raw): void {
    const v = validateEvent(value, this.ledger.instruments);
    if (!v.ok) {
      const type = (value as { type?: unknown }).type;
      const label = `${typeof type === 'string' ? type : 'event'} ${v.id ?? `at line ${line}`}`;
      this.reject(file, line, v.id ?? null, v.issues[0]!.code, describeIssues(label, v.issues), rawText(raw));
      return;
    }
    this.book(v.event, file, line, raw);
  }

  /** Submits one valid event. */
  book(event: LedgerEvent, file: string, line: number, raw: Raw): void {
    if (!this.quiet) this.events++;
    if (this.shard !== undefined && !this.quiet) this.ownIds.add(event.id);
    const r = this.ledger.submit(event);
    if (r.status === 'duplicate') {
      if (!this.quiet) this.duplicates++;
    }
    else if (r.status === 'rejected') this.reject(file, line, event.id, r.code, r.message, rawText(raw));
    else if (this.retain || r.status === 'unbooked') this.sources.set(event.id, { file, line });
  }
}

/**
 * Whether a file is one JSON document (an array of events or ccxt structures, or one pretty-printed
 * ccxt object such as fetchBalance's) rather than JSON Lines: it starts with `[`, or its first
 * line is not JSON on its own while the whole file is.
 */
async function isJsonDocument(path: string): Promise<boolean> {
  for await (const batch of readLineBatches(path)) {
    for (const l of batch.lines) {
      const t = l.trim();
      if (t.length === 0) continue;
      if (t[0] === '[') return true;
      if (t[0] !== '{' || parseEventLine(t) !== undefined || parsesAsJson(t)) return false;
      return parsesAsJson(stripBom((await readFile(path)).toString('utf8')));
    }
  }
  return false;
}

function parsesAsJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch (e) {
    if (e instanceof SyntaxError) return false;
    throw e;
  }
}

function stripBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

export async function runJsonl(path: string, pass: Pass): Promise<void> {
  const before = pass.bytes;
  for await (const batch of readLineBatches(path)) {
    const lines = batch.lines;
    for (let i = 0; i < lines.length; i++) {
      const text = lines[i]!;
      pass.lines++;
      // A line that opens an object is not blank (no trim of every line).
      if (text.charCodeAt(0) !== 123 && text.trim().length === 0) continue;
      pass.line(text, path, batch.first + i);
    }
    pass.bytes = before + batch.bytes;
    pass.opts.onProgress?.(pass.bytes, pass.totalBytes);
    if (pass.ledger.needsReplay) return;
  }
}

async function runArray(path: string, pass: Pass): Promise<void> {
  const buf = await readFile(path);
  const text = stripBom(buf.toString('utf8'));
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    pass.reject(path, null, null, 'JSON_SYNTAX', `${path}: ${(e as Error).message}`, text.slice(0, 200));
    return;
  }
  const items = Array.isArray(value) ? value : [value];
  pass.lines += items.length;
  if (isCcxtPayload(value)) {
    const ctx: CcxtContext = { venue: pass.opts.ccxt.venue ?? 'unknown', book: pass.opts.ccxt.book ?? 'default', ...pass.opts.ccxt };
    const mapped = fromCcxt(value, ctx);
    for (const p of mapped.problems) {
      pass.reject(path, p.index + 1, p.id ?? null, 'CCXT_UNMAPPED', `ccxt ${p.kind} #${p.index + 1}: ${p.message}`, JSON.stringify(items[p.index]) ?? show(items[p.index]));
    }
    mapped.events.forEach((e, i) => pass.submit(e, path, mapped.sources[i]! + 1, () => JSON.stringify(e)));
  } else {
    items.forEach((e, i) => pass.submit(e, path, i + 1, () => JSON.stringify(e)));
  }
  pass.bytes += buf.length;
  pass.opts.onProgress?.(pass.bytes, pass.totalBytes);
}

/** What a shard hands back (plain data: it crosses threads). */
export interface ShardResult {
  readonly needsReplay: boolean;
  readonly rejected: RejectedEntry[];
  readonly sources: [string, Source][];
  readonly events: number;
  readonly duplicates: number;
  readonly books: BookSnapshot[];
  readonly marks: MarksSnapshot;
  readonly instruments: [symbol: string, venue: string, multiplier: string][];
  readonly reports: [string, number, string | null, string, string, string, string, string | null, string | null][];
  readonly ids: { slots: Uint32Array; count: number };
}

/**
 * Books the files on `count` threads, one shard of books each, and merges the shards into one
 * pass; undefined when the input needs the single-threaded retaining replay instead.
 */
async function shardedPass(paths: readonly string[], opts: ReplayOptions, totalBytes: number, count: number): Promise<Pass | undefined> {
  const routed = await routeFiles(paths, opts, totalBytes, count);
  if (routed.needsReplay) return undefined;
  const results = routed.results;
  // An id in two shards may be a duplicate (or a conflict) only one thread can judge.
  const idSets = results.map((r) => IdHashSet.fromTables(r.ids));
  for (let i = 0; i < idSets.length; i++) for (let j = i + 1; j < idSets.length; j++) if (intersects(idSets[i]!, idSets[j]!)) return undefined;
  const books = results.flatMap((r) => r.books);
  if (new Set(books.map((b) => b.book)).size !== books.length) return undefined;
  const merged = new Pass(opts, false, totalBytes);
  const ledger = merged.ledger;
  for (const [symbol, venue, multiplier] of results[0]!.instruments) ledger.instruments.register(symbol, venue === '*' ? undefined : venue, Dec.of(multiplier));
  restoreMarks(ledger.marks, results[0]!.marks);
  for (const b of books) ledger.adoptBook(restoreBook(b));
  for (const r of results) {
    for (const [id, ts, book, venue, account, asset, total, free, used] of r.reports) {
      ledger.reports.push({ type: 'balance', id, ts, book: book ?? undefined, venue, account, asset, total: Dec.of(total), free: free === null ? undefined : Dec.of(free), used: used === null ? undefined : Dec.of(used) });
    }
    merged.rejected.push(...r.rejected);
    for (const [id, src] of r.sources) merged.sources.set(id, src);
    merged.events += r.events;
    merged.duplicates += r.duplicates;
  }
  merged.lines = routed.lines;
  return merged;
}

async function runPass(paths: readonly string[], arrays: readonly boolean[], opts: ReplayOptions, retain: boolean, totalBytes: number): Promise<Pass> {
  const pass = new Pass(opts, retain, totalBytes);
  for (let i = 0; i < paths.length; i++) {
    if (arrays[i] === true) await runArray(paths[i]!, pass);
    else await runJsonl(paths[i]!, pass);
    if (pass.ledger.needsReplay) break;
  }
  return pass;
}

/** Books the files, in the order given, into one ledger. */
export async function replayFiles(paths: readonly string[], opts: ReplayOptions): Promise<ReplayResult> {
  let totalBytes = 0;
  const arrays: boolean[] = [];
  for (const p of paths) {
    totalBytes += (await stat(p)).size;
    arrays.push(await isJsonDocument(p));
  }
  // A JSON array is read whole anyway: retaining costs nothing more there.
  const retainFirst = opts.retain === true || arrays.some((a) => a);
  const threads = Math.max(1, Math.min(opts.threads ?? 1, MAX_THREADS));
  let first: Pass | undefined;
  if (threads > 1 && !retainFirst && totalBytes >= SHARDED_MIN_BYTES) first = await shardedPass(paths, opts, totalBytes, threads);
  else first = await runPass(paths, arrays, opts, retainFirst, totalBytes);
  const rebooked = first === undefined || first.ledger.needsReplay;
  const pass = rebooked ? await runPass(paths, arrays, opts, true, totalBytes) : first!;
  // Rejections in input order whatever the threads: files in the order given, then lines.
  const fileOrder = new Map(paths.map((p, i) => [p, i]));
  pass.rejected.sort((a, b) => (fileOrder.get(a.file) ?? 0) - (fileOrder.get(b.file) ?? 0) || (a.line ?? 0) - (b.line ?? 0));
  const ledger = pass.ledger;
  const booking: RejectedEntry[] = unbookedEvents(ledger).map((u) => {
    const src = pass.sources.get(u.id);
    return { file: src?.file ?? '', line: src?.line ?? null, id: u.id, code: u.code as RejectCode, message: u.message, stage: 'booking' };
  });
  const rejected = [...pass.rejected, ...booking];
  const digest = createHash('sha256').update(JSON.stringify(stateDocument(ledger))).digest('hex');
  return {
    report: buildReport(ledger, { lots: opts.lots }),
    rejected,
    counts: { lines: pass.lines, events: pass.events, duplicates: pass.duplicates, rejected: rejected.length, rebooked },
    digest,
    ledger,
  };
}

/** Books one file. */
export function replayFile(path: string, opts: ReplayOptions): Promise<ReplayResult> {
  return replayFiles([path], opts);
}
