/**
 * The replay service: a file of events (JSON Lines, a JSON array of events, or ccxt's unified
 * structures) in, positions, PnL, exposure and every rejection out.
 *
 * It streams: a sorted file is booked as it is read, keeping only ids (memory stays flat for
 * 10M fills). If a late event or a correction of an already booked event shows up, streaming
 * cannot rebook, so the file is read again with retained timelines, which handle any order.
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
  /** True when the input needed the second, retaining pass (late events or corrections). */
  readonly rebooked: boolean;
}

export interface ReplayResult {
  readonly report: Report;
  readonly rejected: RejectedEntry[];
  readonly counts: ReplayCounts;
  readonly digest: string;
}

interface Pass {
  readonly ledger: Ledger;
  readonly rejected: RejectedEntry[];
  /** Line of each event that the ledger could not book when it arrived. */
  readonly unbookedLines: Map<string, number>;
  lines: number;
  events: number;
  duplicates: number;
}

function newPass(opts: ReplayOptions, retain: boolean): Pass {
  const config: Partial<LedgerConfig> = {
    reporting: opts.reporting,
    cashLike: opts.cashLike,
    defaults: opts.settings,
    retain,
    until: opts.until,
  };
  return { ledger: new Ledger(config), rejected: [], unbookedLines: new Map(), lines: 0, events: 0, duplicates: 0 };
}

/** Validates and submits one wire value; records any rejection against its line. */
function submit(pass: Pass, value: unknown, line: number, raw: () => string): void {
  const v = validateEvent(value, pass.ledger.instruments);
  if (!v.ok) {
    const label = `${typeof (value as { type?: unknown }).type === 'string' ? String((value as { type: string }).type) : 'event'} ${v.id ?? `at line ${line}`}`;
    pass.rejected.push({ line, id: v.id ?? null, code: v.issues[0]!.code, message: describeIssues(label, v.issues), stage: 'validation', raw: raw() });
    return;
  }
  pass.events++;
  const r = pass.ledger.submit(v.event);
  if (r.status === 'duplicate') pass.duplicates++;
  else if (r.status === 'rejected') pass.rejected.push({ line, id: v.event.id, code: r.code, message: r.message, stage: 'validation', raw: raw() });
  else if (r.status === 'unbooked') pass.unbookedLines.set(v.event.id, line);
}

async function firstChar(path: string): Promise<string> {
  for await (const batch of readLineBatches(path)) {
    for (const l of batch.lines) {
      const t = l.replace(/^\uFEFF/, '').trimStart();
      if (t.length > 0) return t[0]!;
    }
  }
  return '';
}

async function runJsonl(path: string, pass: Pass, opts: ReplayOptions, total: number): Promise<void> {
  for await (const batch of readLineBatches(path)) {
    const lines = batch.lines;
    for (let i = 0; i < lines.length; i++) {
      const text = lines[i]!;
      const line = batch.first + i;
      pass.lines = line;
      if (text.length === 0 || text.trim().length === 0) continue;
      let value: unknown = parseEventLine(text);
      if (value === undefined) {
        try {
          value = JSON.parse(text);
        } catch (e) {
          pass.rejected.push({ line, id: null, code: 'JSON_SYNTAX', message: `line ${line}: ${(e as Error).message}`, stage: 'validation', raw: text });
          continue;
        }
      }
      submit(pass, value, line, () => text);
    }
    opts.onProgress?.(batch.bytes, total);
    if (pass.ledger.needsReplay) return;
  }
}

async function runArray(path: string, pass: Pass, opts: ReplayOptions): Promise<void> {
  const file = await readFile(path, 'utf8');
  const text = file.charCodeAt(0) === 0xfeff ? file.slice(1) : file;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    pass.rejected.push({ line: null, id: null, code: 'JSON_SYNTAX', message: `${path}: ${(e as Error).message}`, stage: 'validation', raw: text.slice(0, 200) });
    return;
  }
  const items = Array.isArray(value) ? value : [value];
  pass.lines = items.length;
  if (isCcxtPayload(value)) {
    const ctx: CcxtContext = { venue: opts.ccxt.venue ?? 'unknown', book: opts.ccxt.book ?? 'default', ...opts.ccxt };
    const mapped = fromCcxt(value, ctx);
    for (const p of mapped.problems) {
      pass.rejected.push({ line: p.index + 1, id: p.id ?? null, code: 'CCXT_UNMAPPED', message: `ccxt ${p.kind} #${p.index + 1}: ${p.message}`, stage: 'validation', raw: show(items[p.index]) });
    }
    mapped.events.forEach((e, i) => submit(pass, e, i + 1, () => JSON.stringify(e)));
  } else {
    items.forEach((e, i) => submit(pass, e, i + 1, () => JSON.stringify(e)));
  }
  opts.onProgress?.(text.length, text.length);
}

async function runPass(path: string, opts: ReplayOptions, retain: boolean, array: boolean, total: number): Promise<Pass> {
  const pass = newPass(opts, retain);
  if (array) await runArray(path, pass, opts);
  else await runJsonl(path, pass, opts, total);
  return pass;
}

export async function replayFile(path: string, opts: ReplayOptions): Promise<ReplayResult> {
  const total = (await stat(path)).size;
  const array = (await firstChar(path)) === '[';
  let pass = await runPass(path, opts, array, array, total);
  const rebooked = pass.ledger.needsReplay;
  if (rebooked) pass = await runPass(path, opts, true, array, total);
  const ledger = pass.ledger;
  const booking: RejectedEntry[] = unbookedEvents(ledger).map((u) => ({
    line: pass.unbookedLines.get(u.id) ?? null,
    id: u.id,
    code: u.code as RejectCode,
    message: u.message,
    stage: 'booking',
  }));
  const rejected = [...pass.rejected, ...booking];
  const digest = createHash('sha256').update(JSON.stringify(stateDocument(ledger))).digest('hex');
  return {
    report: buildReport(ledger, { lots: opts.lots }),
    rejected,
    counts: { lines: pass.lines, events: pass.events, duplicates: pass.duplicates, rejected: rejected.length, rebooked },
    digest,
  };
}
