/**
 * One shard of a sharded replay, in a worker thread: books the lines the router (router.ts) sends
 * it, in streaming mode, then hands back its books as snapshots. Lines every shard gets (marks,
 * terms) are counted and reported by shard 0 alone. Anything a shard cannot do alone (late
 * events, corrections, repeated ids) is reported at once, and the whole replay goes back to one
 * thread.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { decode, splitLines } from '../adapters/file/lines.js';
import { snapshotBook, snapshotMarks } from '../domain/snapshot.js';
import { Pass, type ReplayOptions, type Shard, type ShardResult } from './replay.js';

interface Input {
  readonly opts: ReplayOptions;
  readonly shard: Shard;
  readonly totalBytes: number;
}

interface Message {
  batch?: { file: string; buf: ArrayBuffer; lines: Int32Array };
  done?: true;
}

const input = workerData as Input;
const port = parentPort!;
const pass = new Pass(input.opts, false, input.totalBytes, input.shard);
let told = false;

port.on('message', (m: Message) => {
  if (m.batch !== undefined) {
    const { file, buf, lines } = m.batch;
    const texts = splitLines(decode(Buffer.from(buf)));
    for (let i = 0; i < texts.length; i++) {
      if (pass.ledger.needsReplay) break;
      const n = lines[i]!;
      const text = texts[i]!;
      if (text.trim().length === 0) continue; // blank lines are skipped, as in the single-threaded pass
      pass.line(text, file, n < 0 ? -n : n, n < 0);
    }
    port.postMessage({ ack: 1 });
    if (pass.ledger.needsReplay && !told) {
      told = true;
      port.postMessage({ needsReplay: true });
    }
  }
  if (m.done === true) {
    const ledger = pass.ledger;
    const ids = pass.ownIds.tables();
    const result: ShardResult = {
      needsReplay: ledger.needsReplay,
      rejected: pass.rejected,
      sources: [...pass.sources.entries()],
      events: pass.events,
      duplicates: pass.duplicates,
      books: ledger.needsReplay ? [] : ledger.bookNames().map((b) => snapshotBook(ledger.bookState(b)!)),
      marks: input.shard.index === 0 ? snapshotMarks(ledger.marks) : [],
      instruments: ledger.instruments.entries().map((i) => [i.symbol, i.venue, i.multiplier.toString()]),
      reports: ledger.reports.map((r) => [r.id, r.ts, r.book ?? null, r.venue, r.account, r.asset, r.total.toString(), r.free?.toString() ?? null, r.used?.toString() ?? null]),
      ids,
    };
    port.postMessage({ result }, [ids.slots.buffer as ArrayBuffer]);
  }
});
