/**
 * The sharded replay's router, on the main thread: reads JSONL files as bytes (it never decodes
 * them), and sends each line to the one shard that books its book (read from the canonical
 * trade prefix `{"type":"trade","id":…,"ts":…,"book":…`) or, when it has no such prefix, to every
 * shard (marks, terms, other event types: cheap, and rare in a fill log). Shards are worker
 * threads (shard-worker.ts) that decode, validate and book their lines; the main thread merges
 * them (replay.ts). Bounded: at most MAX_BATCHES_IN_FLIGHT batches of BATCH_BYTES per shard.
 */
import { readLineChunks } from '../adapters/file/lines.js';
import { Worker } from 'node:worker_threads';
import type { ReplayOptions, Shard, ShardResult } from './replay.js';

const BATCH_BYTES = 1 << 20;
const MAX_BATCHES_IN_FLIGHT = 8;
const NEWLINE = 10;
const QUOTE = 0x22;
const PREFIX = Buffer.from('{"type":"trade","id":"');
const TS_KEY = Buffer.from('","ts":"');
const BOOK_KEY = Buffer.from('","book":"');

/** The shard of a line's book, or -1 when the line has no canonical trade prefix. */
export function routeOf(buf: Buffer, start: number, end: number, count: number): number {
  if (end - start < PREFIX.length || buf.compare(PREFIX, 0, PREFIX.length, start, start + PREFIX.length) !== 0) return -1;
  const idEnd = buf.indexOf(QUOTE, start + PREFIX.length);
  if (idEnd < 0 || idEnd >= end || buf.compare(TS_KEY, 0, TS_KEY.length, idEnd, idEnd + TS_KEY.length) !== 0) return -1;
  const tsEnd = buf.indexOf(QUOTE, idEnd + TS_KEY.length);
  if (tsEnd < 0 || tsEnd >= end || buf.compare(BOOK_KEY, 0, BOOK_KEY.length, tsEnd, tsEnd + BOOK_KEY.length) !== 0) return -1;
  const bookStart = tsEnd + BOOK_KEY.length;
  const bookEnd = buf.indexOf(QUOTE, bookStart);
  if (bookEnd < 0 || bookEnd >= end) return -1;
  let h = 0x811c9dc5;
  for (let i = bookStart; i < bookEnd; i++) h = Math.imul(h ^ buf[i]!, 0x01000193);
  return (h >>> 0) % count;
}

/** A shard's outgoing batch: line bytes, and each line's number (negative: every shard gets it). */
class Batch {
  buf = Buffer.allocUnsafe(BATCH_BYTES);
  used = 0;
  lines: number[] = [];

  add(src: Buffer, start: number, end: number, lineNo: number): void {
    const len = end - start + 1;
    if (this.used + len > this.buf.length) {
      const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.used + len));
      this.buf.copy(bigger, 0, 0, this.used);
      this.buf = bigger;
    }
    src.copy(this.buf, this.used, start, end);
    this.buf[this.used + len - 1] = NEWLINE;
    this.used += len;
    this.lines.push(lineNo);
  }
}

class ShardLink {
  readonly worker: Worker;
  private inFlight = 0;
  private wake: (() => void) | undefined;
  needsReplay = false;
  readonly result: Promise<ShardResult>;

  constructor(opts: Omit<ReplayOptions, 'onProgress'>, shard: Shard, totalBytes: number) {
    this.worker = new Worker(new URL('./shard-worker.js', import.meta.url), { workerData: { opts, shard, totalBytes } });
    this.result = new Promise((resolve, reject) => {
      this.worker.on('message', (m: { ack?: number; needsReplay?: boolean; result?: ShardResult }) => {
        if (m.ack !== undefined) {
          this.inFlight--;
          this.wake?.();
          this.wake = undefined;
        }
        if (m.needsReplay === true) this.needsReplay = true;
        if (m.result !== undefined) resolve(m.result);
      });
      this.worker.on('error', reject);
      this.worker.on('exit', (code) => {
        if (code !== 0) reject(new Error(`replay shard ${shard.index} exited with code ${code}`));
      });
    });
  }

  async send(file: string, batch: Batch): Promise<void> {
    while (this.inFlight >= MAX_BATCHES_IN_FLIGHT) await new Promise<void>((r) => (this.wake = r));
    this.inFlight++;
    const buf = batch.buf.buffer.slice(batch.buf.byteOffset, batch.buf.byteOffset + batch.used);
    const lines = Int32Array.from(batch.lines);
    this.worker.postMessage({ batch: { file, buf, lines } }, [buf, lines.buffer]);
  }

  finish(): Promise<ShardResult> {
    this.worker.postMessage({ done: true });
    return this.result;
  }
}

export interface Routed {
  readonly results: ShardResult[];
  readonly lines: number;
  readonly needsReplay: boolean;
}

/** Routes every line of the files to `count` shards; returns what they booked. */
export async function routeFiles(paths: readonly string[], opts: ReplayOptions, totalBytes: number, count: number): Promise<Routed> {
  const { onProgress, ...plain } = opts;
  const links = Array.from({ length: count }, (_, index) => new ShardLink(plain, { index, count }, totalBytes));
  let lines = 0;
  let bytesBefore = 0;
  let stopped = false;
  try {
    for (const path of paths) {
      let batches = links.map(() => new Batch());
      const flush = async (i: number): Promise<void> => {
        const b = batches[i]!;
        if (b.lines.length === 0) return;
        batches[i] = new Batch();
        await links[i]!.send(path, b);
      };
      let lineNo = 0;
      let read = 0;
      for await (const chunk of readLineChunks(path)) {
        const buf = chunk.buf;
        read = chunk.bytes;
        let start = 0;
        while (start < buf.length) {
          const nl = buf.indexOf(NEWLINE, start);
          const end = nl < 0 ? buf.length : nl;
          lineNo++;
          lines++;
          if (end > start && !(end === start + 1 && buf[start] === 13)) {
            const shard = routeOf(buf, start, end, count);
            if (shard >= 0) batches[shard]!.add(buf, start, end, lineNo);
            else for (const b of batches) b.add(buf, start, end, -lineNo);
          }
          start = end + 1;
        }
        for (let i = 0; i < count; i++) if (batches[i]!.used >= BATCH_BYTES) await flush(i);
        onProgress?.(bytesBefore + read, totalBytes);
        if (links.some((l) => l.needsReplay)) {
          stopped = true;
          break;
        }
      }
      bytesBefore += read;
      for (let i = 0; i < count; i++) await flush(i);
      batches = [];
      if (stopped) break;
    }
    const results = await Promise.all(links.map((l) => l.finish()));
    return { results, lines, needsReplay: stopped || results.some((r) => r.needsReplay) };
  } finally {
    await Promise.all(links.map((l) => l.worker.terminate()));
  }
}
