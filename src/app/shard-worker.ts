/**
 * One shard of a sharded replay, in a worker thread: books the JSONL files' events of its books
 * (and every event without a book) in streaming mode, then hands back its books as snapshots.
 * The main thread merges the shards (replay.ts); anything a shard cannot do alone (late events,
 * corrections, repeated ids) sends the whole replay back to one thread.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { snapshotBook, snapshotMarks } from '../domain/snapshot.js';
import { Pass, runJsonl, type ReplayOptions, type Shard, type ShardResult } from './replay.js';

interface Input {
  readonly paths: string[];
  readonly opts: Omit<ReplayOptions, 'onProgress'>;
  readonly shard: Shard;
  readonly totalBytes: number;
}

const input = workerData as Input;
const port = parentPort!;
const opts: ReplayOptions = {
  ...input.opts,
  onProgress: input.shard.index === 0 ? (bytes: number) => port.postMessage({ progress: bytes }) : undefined,
};
const pass = new Pass(opts, false, input.totalBytes, input.shard);
for (const p of input.paths) {
  await runJsonl(p, pass);
  if (pass.ledger.needsReplay) break;
}
const ledger = pass.ledger;
const ids = pass.ownIds.tables();
const result: ShardResult = {
  needsReplay: ledger.needsReplay,
  rejected: pass.rejected,
  sources: [...pass.sources.entries()],
  lines: pass.lines,
  events: pass.events,
  duplicates: pass.duplicates,
  books: ledger.needsReplay ? [] : ledger.bookNames().map((b) => snapshotBook(ledger.bookState(b)!)),
  marks: input.shard.index === 0 ? snapshotMarks(ledger.marks) : [],
  instruments: ledger.instruments.entries().map((i) => [i.symbol, i.venue, i.multiplier.toString()]),
  reports: ledger.reports.map((r) => [r.id, r.ts, r.book ?? null, r.venue, r.account, r.asset, r.total.toString(), r.free?.toString() ?? null, r.used?.toString() ?? null]),
  ids,
};
port.postMessage({ result }, [ids.h1.buffer as ArrayBuffer, ids.h2.buffer as ArrayBuffer]);
