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
import { buildReport, stateDocument, unbookedEvents, type Report } from '../domain/report.js';
import type { LedgerEvent } from '../domain/events.js';
import { decodeTradeLine } from '../domain/tradeline.js';
import { validateEvent } from '../domain/validate.js';

export interface ReplayOptions {
  readonly settings: BookSettings;
  readonly reporting: string;
  readonly cashLike: readonly string[];
  readonly until: number | undefined;
  /** Context for ccxt input, which does not say which venue or book it is from. */
  readonly ccxt: Partial<CcxtContext>;
  /** Include each position's lots in the report. */
  readonly lots: boolean;
  /** Called with (bytes read, total bytes) while reading. */
  readonly onProgress?: (bytes: number, total: number) => void;
}

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
}

interface Source {
  readonly file: string;
  readonly line: number;
}

class Pass {
  readonly ledger: Ledger;
  readonly rejected: RejectedEntry[] = [];
  /** Where each event came from: every event when retaining (rebooks move refusals), else only the refused. */
  readonly sources = new Map<string, Source>();
  lines = 0;
  events = 0;
  duplicates = 0;
  bytes = 0;

  constructor(
    readonly opts: ReplayOptions,
    readonly retain: boolean,
    readonly totalBytes: number,
  ) {
    const config: Partial<LedgerConfig> = { reporting: opts.reporting, cashLike: opts.cashLike, defaults: opts.settings, retain, until: opts.until };
    this.ledger = new Ledger(config);
  }

  reject(file: string, line: number | null, id: string | null, code: RejectCode, message: string, raw: string): void {
    this.rejected.push({ file, line, id, code, message, stage: 'validation', raw });
  }

  /** Validates and submits one wire value; records any rejection against its source. */
  submit(value: unknown, file: string, line: number, raw: () => string): void {
    const v = validateEvent(value, this.ledger.instruments);
    if (!v.ok) {
      const type = (value as { type?: unknown }).type;
      const label = `${typeof type === 'string' ? type : 'event'} ${v.id ?? `at line ${line}`}`;
      this.reject(file, line, v.id ?? null, v.issues[0]!.code, describeIssues(label, v.issues), raw());
      return;
    }
    this.book(v.event, file, line, raw);
  }

  /** Submits one valid event. */
  book(event: LedgerEvent, file: string, line: number, raw: () => string): void {
    this.events++;
    const r = this.ledger.submit(event);
    if (r.status === 'duplicate') this.duplicates++;
    else if (r.status === 'rejected') this.reject(file, line, event.id, r.code, r.message, raw());
    else if (this.retain || r.status === 'unbooked') this.sources.set(event.id, { file, line });
  }
}

async function isJsonArray(path: string): Promise<boolean> {
  for await (const batch of readLineBatches(path)) {
    for (const l of batch.lines) {
      const t = l.replace(/^\uFEFF/, '').trimStart();
      if (t.length > 0) return t[0] === '[';
    }
  }
  return false;
}

async function runJsonl(path: string, pass: Pass): Promise<void> {
  const before = pass.bytes;
  for await (const batch of readLineBatches(path)) {
    const lines = batch.lines;
    for (let i = 0; i < lines.length; i++) {
      const text = lines[i]!;
      const line = batch.first + i;
      pass.lines++;
      if (text.length === 0 || text.trim().length === 0) continue;
      const trade = decodeTradeLine(text, pass.ledger.instruments);
      if (trade !== undefined) {
        pass.book(trade, path, line, () => text);
        continue;
      }
      let value: unknown = parseEventLine(text);
      if (value === undefined) {
        try {
          value = JSON.parse(text);
        } catch (e) {
          pass.reject(path, line, null, 'JSON_SYNTAX', `line ${line}: ${(e as Error).message}`, text);
          continue;
        }
      }
      pass.submit(value, path, line, () => text);
    }
    pass.bytes = before + batch.bytes;
    pass.opts.onProgress?.(pass.bytes, pass.totalBytes);
    if (pass.ledger.needsReplay) return;
  }
}

async function runArray(path: string, pass: Pass): Promise<void> {
  const buf = await readFile(path);
  const file = buf.toString('utf8');
  const text = file.charCodeAt(0) === 0xfeff ? file.slice(1) : file;
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
    arrays.push(await isJsonArray(p));
  }
  // A JSON array is read whole anyway: retaining costs nothing more there.
  const retainFirst = arrays.some((a) => a);
  let pass = await runPass(paths, arrays, opts, retainFirst, totalBytes);
  const rebooked = pass.ledger.needsReplay;
  if (rebooked) pass = await runPass(paths, arrays, opts, true, totalBytes);
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
  };
}

/** Books one file. */
export function replayFile(path: string, opts: ReplayOptions): Promise<ReplayResult> {
  return replayFiles([path], opts);
}
