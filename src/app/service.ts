/**
 * The real-time service (`utl start`): events in from a durable source (JetStream, or the
 * in-process bus) and over HTTP, committed to the store, then booked; position/PnL updates out.
 *
 * The order of things for every batch, which is what makes a crash lose and double nothing:
 *   1. decode and validate each message (bad ones become rejections with their raw bytes);
 *   2. commit the batch in ONE transaction: new events (idempotent by id), rejections, the
 *      consumer's position, the HTTP idempotency answer;
 *   3. only then book the new events, in commit order, into the in-memory ledger;
 *   4. only then publish the touched books' updates and acknowledge the messages (poison ones
 *      are terminated: they are parked in the store).
 * A crash before 2 redelivers the batch; between 2 and 4 the events are in the store, the
 * restart books them from there, and their redelivery is a duplicate. The ledger is never ahead
 * of the store, so the state after a restart is the state of the committed log.
 *
 * One writer: batches (from every source) go through one lane, one at a time.
 */
import { createHash } from 'node:crypto';
import { TextDecoder } from 'node:util';
import type { BookSettings } from '../domain/book.js';
import { describeIssues, type RejectCode } from '../domain/errors.js';
import type { LedgerEvent, TsUs } from '../domain/events.js';
import type { JournalEntry, Key, Marks } from '../domain/marks.js';
import { Ledger, type LedgerConfig, type SubmitResult } from '../domain/ledger.js';
import { Dec } from '../domain/decimal.js';
import { bookUpdateSteps, buildPositions, buildReport, reportSteps, stateDocument, unbookedEvents, type BookSummary, type PositionReport, type Report, type ReportOptions, type UnbookedReport } from '../domain/report.js';
import { restoreBook, restoreMarks, snapshotBalances, snapshotBookJson, type MarksSnapshot } from '../domain/snapshot.js';
import { decodeTradeLine } from '../domain/tradeline.js';
import { validateEvent } from '../domain/validate.js';
import { decodeStored, type Incoming, type Outcome, type PgStore, type Rejection, type SerializedCheckpointBook } from '../adapters/pg/store.js';
import { submitInMemory, submitWithHistory } from './history.js';
import { diffPositions, type PositionRef } from './book-diff.js';
import { withPositions } from './positions-json.js';
import { runSliced } from './slices.js';
import { EventTally, type ServiceObserver } from './observer.js';
import type { Delivery, EventSource, UpdateSink } from './ports.js';

/**
 * One book's update, as the service tells its listeners (the WebSocket hub): its state after the
 * batches booked up to `seq`, and what changed since the book's previous update (`prevSeq`; 0:
 * none before, from this process). What goes on NATS is built from it (`publishUpdate`).
 */
export interface BookUpdate {
  readonly book: string;
  readonly seq: number;
  readonly prevSeq: number;
  readonly at: string;
  readonly summary: BookSummary | undefined;
  /** Every position of the book now. */
  readonly positions: PositionReport[];
  /** Positions new or different since the update `prevSeq` (all of them when it is 0). */
  readonly changed: PositionReport[];
  /** Positions in the update `prevSeq` and gone since. */
  readonly removed: PositionRef[];
}

/** What a book's last update on the sink (NATS) held: the base of the next delta. */
interface SinkBase {
  readonly seq: number;
  readonly positions: readonly PositionReport[];
  /** When the last whole-book update (`snapshot`) went (ms since the epoch). */
  readonly fullAt: number;
}

export interface Logger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface ServiceConfig {
  readonly reporting: string;
  readonly cashLike: readonly string[];
  readonly settings: BookSettings;
  readonly books: Readonly<Record<string, Partial<BookSettings>>>;
  /** Most messages in one commit. */
  readonly batchMax: number;
  /**
   * While a batch is being committed, longest the next one fills before it goes too (ms). With
   * nothing being committed a batch goes at once.
   */
  readonly batchWaitMs: number;
  /** A checkpoint after this many booked events… */
  readonly checkpointEvery: number;
  /** …or this long (ms) after the last one, whichever first. */
  readonly checkpointIntervalMs: number;
  /** Events this much older (µs of event time) than the newest stay in memory for cheap rebooks… */
  readonly lateWindowUs: number;
  /** …but at most about this many per book (a busy book's hour can be millions of events). */
  readonly windowMaxEvents: number;
  /** Name of the inbound consumer (its position is kept in the store). */
  readonly consumer: string;
  /** Subject prefix of the updates: `<prefix>.<book>`. */
  readonly updatesPrefix: string;
  /** A book's updates are coalesced: at most one per this many ms. */
  readonly updateIntervalMs: number;
  /** A book's NATS updates are its whole state (`snapshot`) at least this often (ms), when it fits; deltas between. */
  readonly updateSnapshotMs: number;
  /** Delay before a message is redelivered after a transient fault (ms). */
  readonly retryDelayMs: number;
}

export const DEFAULT_SERVICE_CONFIG: Omit<ServiceConfig, 'settings'> = {
  reporting: 'USD',
  cashLike: [],
  books: {},
  batchMax: 1000,
  batchWaitMs: 5,
  checkpointEvery: 150_000,
  checkpointIntervalMs: 30_000,
  lateWindowUs: 3_600_000_000,
  windowMaxEvents: 50_000,
  consumer: 'utl',
  updatesPrefix: 'utl.updates',
  updateIntervalMs: 2,
  updateSnapshotMs: 60_000,
  retryDelayMs: 1000,
};

/**
 * A book's updates are at least this many times what its last one took to build and send apart
 * (and at least `updateIntervalMs`): updates take at most about a tenth of the service's time.
 */
const UPDATE_COST_RATIO = 10;

/** Events booked between two pauses of a large batch's booking (see book). */
const BOOK_SLICE = 256;

/** Ids a trim let go of, forgotten per slice (see forgetSliced). */
const FORGET_SLICE = 16_384;

/**
 * Joins text pieces (a large serialization), yielding to the event loop every few milliseconds
 * so that HTTP requests and batches go on meanwhile. The pieces are joined into chunks of
 * JOIN_CHUNK characters as they come: a chunk that large is allocated outside V8's young
 * generation, and the small pieces die young, so the collector never copies a checkpoint's
 * megabytes piece by piece from one scavenge to the next (pauses of hundreds of ms for a book of
 * 5,000 positions with their lots).
 */
async function joinSliced(pieces: Iterable<string>, sliceMs = 4): Promise<string> {
  const chunks: string[] = [];
  let part: string[] = [];
  let partLength = 0;
  let from = performance.now();
  for (const piece of pieces) {
    part.push(piece);
    partLength += piece.length;
    if (partLength >= JOIN_CHUNK) {
      chunks.push(part.join(''));
      part = [];
      partLength = 0;
    }
    if (performance.now() - from >= sliceMs) {
      await new Promise((resolve) => setImmediate(resolve));
      from = performance.now();
    }
  }
  chunks.push(part.join(''));
  return chunks.length === 1 ? chunks[0]! : chunks.join('');
}

/** Characters per chunk of `joinSliced`: over V8's largest regular object (128 KiB), so a chunk is a large object. */
const JOIN_CHUNK = 256 * 1024;

/** One event's fate in a batch, as the HTTP API reports it. */
export interface EventResult {
  readonly index: number;
  readonly id: string | null;
  readonly status: 'accepted' | 'duplicate' | 'rejected';
  readonly code?: RejectCode;
  readonly message?: string;
}

export interface ServiceStats {
  /** Events committed and booked into their book. */
  booked: number;
  /** Events committed that their book could not book (UNVALUED…): listed by GET /unbooked. */
  unbooked: number;
  duplicates: number;
  /** Inputs refused: invalid, a conflicting repeat of an id, or refused by the ledger. */
  rejected: number;
  batches: number;
  historyLoads: number;
  lastSeq: number;
  checkpoints: number;
  commitErrors: number;
}

interface Decoded {
  readonly incoming: Incoming[];
  readonly rejected: Rejection[];
  /** For each input: its index in `incoming`, or its rejection. */
  readonly slots: ({ kind: 'event'; at: number } | { kind: 'rejected'; code: RejectCode; message: string; id: string | null })[];
  /** The batch's outcomes by label, for the observer (none without one). */
  readonly tally: EventTally | undefined;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The bytes a text was decoded from (`utf8`), when they are exactly its UTF-8: not a string
 * (nothing to reuse), nor bytes that open with a byte order mark (the decoder drops it).
 */
function exactBytes(raw: Uint8Array | string): Uint8Array | undefined {
  if (typeof raw === 'string' || (raw.length >= 3 && raw[0] === 0xef && raw[1] === 0xbb && raw[2] === 0xbf)) return undefined;
  return raw;
}

export class Service {
  ledger!: Ledger;
  readonly stats: ServiceStats = { booked: 0, unbooked: 0, duplicates: 0, rejected: 0, batches: 0, historyLoads: 0, lastSeq: 0, checkpoints: 0, commitErrors: 0 };
  ready = false;
  /** Commits, one batch at a time, in order. */
  private lane: Promise<unknown> = Promise.resolve();
  /** Booking (and everything that reads the ledger), one batch at a time, in commit order. */
  private bookLane: Promise<unknown> = Promise.resolve();
  /** Batches committed and not yet booked: the commit lane waits when this grows past 2. */
  private pendingBooks = 0;
  private sinceCheckpoint = 0;
  private lastCheckpointAt = Date.now();
  private readonly checkpointDirty = new Set<string>();
  private checkpointing: Promise<void> | undefined;
  /**
   * The marks' journal entries taken by a checkpoint and not yet written (its write failed, or is
   * in flight): the next checkpoint writes them first. See utl_marks_journal.
   */
  private unwrittenMarks: JournalEntry[] = [];
  /**
   * While a batch from the source is booked: its updates, sent to the sink together with the
   * batch's acknowledgements once it is booked (one write to the broker, not one per update and
   * one for the acks: each write wakes the broker).
   */
  private outbox: BookUpdate[] | undefined;
  /** Whether forgetSliced is at work. */
  private forgetting = false;
  private readonly lastPublished = new Map<string, number>();
  /** The books with changes not in an update yet, each with the seq of its first such change. */
  private readonly toPublish = new Map<string, number>();
  /** Books in `toPublish` for new marks alone: no update when none of their valuations changed. */
  private readonly marksOnly = new Set<string>();
  /** The marks' clock when the last batch was booked. */
  private marksSeen = -1;
  private publishTimer: NodeJS.Timeout | undefined;
  /** When the publish timer fires (ms since the epoch), while it is set. */
  private publishTimerAt = 0;
  /** What each book's last update took to build and send (ms). */
  private readonly updateCost = new Map<string, number>();
  /** When an update of each book was last refused by the sink and logged. */
  private readonly updateWarned = new Map<string, number>();
  /** Each book's last update (its seq and positions): what the next one is a delta of. */
  private readonly lastUpdate = new Map<string, { seq: number; positions: readonly PositionReport[] }>();
  /** Each book's last update taken by the sink. */
  private readonly sinkBase = new Map<string, SinkBase>();
  private maxTs: TsUs = Number.MIN_SAFE_INTEGER;
  private stopping = false;
  private readonly sources: EventSource[] = [];
  private readonly loops: Promise<void>[] = [];

  constructor(
    readonly store: PgStore,
    private readonly sink: UpdateSink | undefined,
    readonly config: ServiceConfig,
    private readonly log: Logger,
    /** Told of every committed batch (the metrics); nothing per event. */
    private readonly observer?: ServiceObserver,
  ) {
    this.ledger = this.newLedger();
  }

  private readonly countLoad = (): void => {
    this.stats.historyLoads++;
  };

  private newLedger(until?: TsUs): Ledger {
    const c: Partial<LedgerConfig> = { reporting: this.config.reporting, cashLike: this.config.cashLike, defaults: this.config.settings, books: this.config.books, until };
    return new Ledger(c);
  }

  // ---- start-up: the latest checkpoint, then the tail of the log ----

  async start(): Promise<{ restoredSeq: number; tail: number; ms: number }> {
    const t0 = Date.now();
    await this.store.migrate();
    const r = await this.restore();
    this.ready = true;
    const ms = Date.now() - t0;
    this.log.info({ restoredSeq: r.restoredSeq, tail: r.tail, ms }, 'ready');
    if (r.tail >= this.config.checkpointEvery) await this.inBookLane(() => this.checkpoint());
    return { ...r, ms };
  }

  /** Rebuilds the ledger from the store: latest checkpoint plus the tail after it. */
  private async restore(): Promise<{ restoredSeq: number; tail: number }> {
    const ledger = this.newLedger();
    this.ledger = ledger;
    const store = this.store;
    store.instruments = ledger.instruments;
    const cp = await store.latestCheckpoint();
    let seq = 0;
    if (cp !== undefined) {
      const doc = JSON.parse(cp.ledger) as CheckpointDoc;
      // A checkpoint from before the marks journal holds every mark; the journal's parts up to
      // this checkpoint are the marks otherwise.
      if (doc.marks !== undefined) restoreMarks(ledger.marks, doc.marks);
      for (const body of await store.marksJournal(cp.seq)) applyMarksJournal(ledger.marks, JSON.parse(body) as SerializedJournal);
      // The next checkpoint's journal starts from here (all of them, when they came whole).
      this.unwrittenMarks = doc.marks === undefined ? [] : journalOf(ledger.marks);
      ledger.marks.journal();
      for (const i of doc.instruments) ledger.instruments.register(i.symbol, i.venue === '*' ? undefined : i.venue, Dec.of(i.multiplier));
      for (const b of cp.books) ledger.restoreBook(b.book, b.last, b.consulted, restoreBook(b.state));
      this.maxTs = doc.maxTs;
      seq = cp.seq;
      store.horizon = seq;
      for (const e of await store.eventsById([...doc.reports, ...doc.pending])) await submitWithHistory(ledger, e, store);
    }
    if (cp === undefined) {
      this.unwrittenMarks = [];
      ledger.marks.journal();
    }
    let tail = 0;
    for (;;) {
      const rows = await store.tail(seq, 10_000);
      if (rows.length === 0) break;
      for (const row of rows) {
        const booking = this.bookCommitted(decodeStored(row.payload, ledger.instruments), row.seq);
        if (booking instanceof Promise) await booking;
        seq = row.seq;
        tail++;
      }
    }
    store.horizon = seq;
    this.stats.lastSeq = seq;
    for (const b of ledger.takeChanged()) this.checkpointDirty.add(b);
    this.sinceCheckpoint = tail;
    return { restoredSeq: cp?.seq ?? 0, tail };
  }

  /**
   * Rebuilds the state from the store until that succeeds (the store may be down: then every
   * later batch waits here, unacknowledged, and nothing is booked on a half-built ledger).
   */
  private async recover(): Promise<void> {
    this.ready = false;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.restore();
        this.ready = true;
        return;
      } catch (err) {
        this.log.error({ err: String(err), attempt }, 'rebuilding from the store failed: retrying');
        await new Promise((r) => setTimeout(r, Math.min(30_000, this.config.retryDelayMs * attempt)));
      }
    }
  }

  // ---- sources ----

  /** Consumes a source until `stop()`: batches by size and wait, one commit per batch. */
  attach(source: EventSource): void {
    this.sources.push(source);
    this.loops.push(this.consume(source));
  }

  /**
   * Batches by size and wait. A full batch is decoded at once and queued for the lane; the loop
   * goes on filling the next one while the lane commits (at most two batches ahead), so
   * PostgreSQL's work overlaps this process's. With the lanes idle a batch goes without waiting
   * (group commit: under load, what arrives during a commit is the next batch).
   */
  private async consume(source: EventSource): Promise<void> {
    let batch: Delivery[] = [];
    let firstAt = 0;
    let timer: NodeJS.Timeout | undefined;
    let soon: NodeJS.Immediate | undefined;
    const queued: Promise<void>[] = [];
    const flush = (): void => {
      if (timer !== undefined) clearTimeout(timer);
      if (soon !== undefined) clearImmediate(soon);
      timer = undefined;
      soon = undefined;
      if (batch.length === 0) return;
      const b = batch;
      batch = [];
      const decoded = this.decodeDeliveries(b, firstAt);
      const p = this.inLane(() => this.processDeliveries(b, decoded));
      queued.push(p);
      void p.finally(() => {
        void queued.splice(queued.indexOf(p), 1);
        // What arrived while the lanes were busy goes as one batch now, without waiting for the
        // rest of `batchWaitMs` (a timer set while they were busy is cleared by the flush).
        if (batch.length > 0 && soon === undefined && queued.length < 2) flush();
      });
    };
    // The wait is up: flush, unless two batches are still in the lanes. Then the batch keeps
    // filling and goes when one of them is done: under load batches grow (up to batchMax), so
    // their fixed costs (a commit, the updates) are shared by more events instead of queueing.
    const due = (): void => {
      timer = undefined;
      if (queued.length < 2) flush();
    };
    try {
      for await (const d of source.deliveries()) {
        if (batch.push(d) === 1) firstAt = performance.now();
        if (batch.length >= this.config.batchMax) {
          flush();
          while (queued.length >= 2) await queued[0];
        } else if (batch.length === 1 && timer === undefined && soon === undefined) {
          // Lanes idle: the batch goes as soon as this read from the source is consumed (what
          // arrived together goes together, and nothing waits for a timer). Lanes busy: it fills
          // until one is free, or for `batchWaitMs` while only one batch is in them.
          if (queued.length === 0) soon = setImmediate(flush);
          else timer = setTimeout(due, this.config.batchWaitMs);
        }
        if (this.stopping) break;
      }
    } catch (err) {
      if (!this.stopping) this.log.error({ err }, 'source failed');
    } finally {
      flush();
      await Promise.all([...queued]);
    }
  }

  private inLane<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lane.then(fn, fn);
    this.lane = run.catch(() => undefined);
    return run;
  }

  private inBookLane<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.bookLane.then(fn, fn);
    this.bookLane = run.catch(() => undefined);
    return run;
  }

  /**
   * Books a committed batch after the batches committed before it, while the commit lane goes
   * on with the next one (PostgreSQL commits batch N+1 while this process books batch N).
   */
  private async afterCommit<T>(fn: () => Promise<T>): Promise<{ booked: Promise<T> }> {
    while (this.pendingBooks >= 2) await this.bookLane;
    this.pendingBooks++;
    // Wrapped: a promise returned from an async function would be awaited, not handed over.
    const booked = this.inBookLane(async () => {
      try {
        return await fn();
      } finally {
        this.pendingBooks--;
      }
    });
    return { booked };
  }

  private decodeDeliveries(batch: readonly Delivery[], arrivedAtMs: number): Decoded {
    const texts: (string | undefined)[] = batch.map((d) => {
      try {
        return utf8.decode(d.data);
      } catch {
        return undefined;
      }
    });
    return this.decode(
      texts.map((t, i) => ({ text: t, raw: batch[i]!.data })),
      (i) => `${batch[i]!.subject}#${batch[i]!.seq}`,
      'nats',
      arrivedAtMs,
    );
  }

  private async processDeliveries(batch: readonly Delivery[], decoded: Decoded): Promise<void> {
    const position = batch.reduce((m, d) => Math.max(m, d.seq), 0);
    let outcomes: Outcome[];
    const t0 = performance.now();
    try {
      ({ outcomes } = await this.store.commit({ events: decoded.incoming, rejected: decoded.rejected, consumer: { name: this.config.consumer, position } }));
    } catch (err) {
      this.stats.commitErrors++;
      this.log.warn({ err: String(err), messages: batch.length }, 'commit failed: batch will be redelivered');
      for (const d of batch) d.nak(this.config.retryDelayMs);
      return;
    }
    this.observer?.committed((performance.now() - t0) / 1000, batch.length);
    const { booked } = await this.afterCommit(async () => {
      this.outbox = [];
      try {
        await this.book(decoded.incoming, outcomes, decoded.tally);
      } finally {
        // The updates, then the acks, in one synchronous run: the broker client sends them in one write.
        const out = this.outbox;
        this.outbox = undefined;
        for (const update of out) this.publishUpdate(update);
      }
      for (let i = 0; i < batch.length; i++) {
        const d = batch[i]!;
        const slot = decoded.slots[i]!;
        if (slot.kind === 'rejected') d.term(`${slot.code}: ${slot.message}`.slice(0, 200));
        else d.ack();
      }
      batch[batch.length - 1]?.flushAcks?.();
    });
    booked.catch((err: unknown) => this.log.error({ err: String(err) }, 'booking a batch failed'));
  }

  // ---- HTTP: the same path ----

  /** Commits and books a batch of wire events (parsed JSON values, or raw text lines). */
  async submit(values: readonly unknown[], source: string, idempotency?: { key: string; request: string }): Promise<{ status: number; body: string; results: EventResult[] }> {
    const arrivedAtMs = performance.now();
    const { booked } = await this.inLane(async () => {
      const decoded = this.decode(
        values.map((v) => (typeof v === 'string' ? { text: v, raw: v } : { value: v, raw: JSON.stringify(v) ?? 'undefined' })),
        (i) => `${source}[${i}]`,
        source,
        arrivedAtMs,
      );
      let results: EventResult[] = [];
      const answer = (outcomes: readonly Outcome[]): { status: number; body: string } => {
        results = decoded.slots.map((slot, index) => {
          if (slot.kind === 'rejected') return { index, id: slot.id, status: 'rejected', code: slot.code, message: slot.message };
          const o = outcomes[slot.at]!;
          const id = decoded.incoming[slot.at]!.event.id;
          if (o.kind === 'new') return { index, id, status: 'accepted' };
          if (o.kind === 'duplicate') return { index, id, status: 'duplicate' };
          return { index, id, status: 'rejected', code: 'DUPLICATE_CONFLICT', message: o.message };
        });
        const counts = { accepted: 0, duplicate: 0, rejected: 0 };
        for (const r of results) counts[r.status]++;
        return { status: 200, body: JSON.stringify({ ...counts, results }) };
      };
      const t0 = performance.now();
      const r = await this.store.commit({
        events: decoded.incoming,
        rejected: decoded.rejected,
        ...(idempotency === undefined ? {} : { idempotency: { key: idempotency.key, request: idempotency.request, answer } }),
      });
      this.observer?.committed((performance.now() - t0) / 1000, values.length);
      const a = r.answer ?? answer(r.outcomes);
      // Answered once booked: a read after the response sees the events.
      return this.afterCommit(async () => {
        await this.book(decoded.incoming, r.outcomes, decoded.tally);
        return { ...a, results };
      });
    });
    return booked;
  }

  // ---- the shared steps ----

  private decode(inputs: readonly { text?: string | undefined; value?: unknown; raw: Uint8Array | string }[], ref: (i: number) => string, source: string, arrivedAtMs: number): Decoded {
    const tally = this.observer === undefined ? undefined : new EventTally(arrivedAtMs, inputs.length);
    const incoming: Incoming[] = [];
    const rejected: Rejection[] = [];
    const slots: Decoded['slots'] = [];
    const instruments = this.ledger.instruments;
    const reject = (i: number, code: RejectCode, message: string, id: string | null, value?: unknown): void => {
      this.stats.rejected++;
      tally?.rejectedInput(code, value);
      rejected.push({ source, ref: ref(i), id, code, message, raw: inputs[i]!.raw });
      slots.push({ kind: 'rejected', code, message, id });
    };
    for (let i = 0; i < inputs.length; i++) {
      const input = inputs[i]!;
      let value = input.value;
      if (input.text !== undefined) {
        const trade = decodeTradeLine(input.text, instruments);
        if (trade !== undefined) {
          slots.push({ kind: 'event', at: incoming.length });
          incoming.push({ event: trade, payload: input.text, source, ref: ref(i), bytes: exactBytes(input.raw) });
          continue;
        }
        try {
          value = JSON.parse(input.text);
        } catch (err) {
          reject(i, 'JSON_SYNTAX', `${ref(i)}: ${(err as Error).message}`, null);
          continue;
        }
      } else if (!('value' in input)) {
        reject(i, 'JSON_SYNTAX', `${ref(i)}: not UTF-8 text`, null);
        continue;
      }
      const v = validateEvent(value, instruments);
      if (!v.ok) {
        const type = (value as { type?: unknown } | null)?.type;
        reject(i, v.issues[0]!.code, describeIssues(`${typeof type === 'string' ? type : 'event'} ${v.id ?? ref(i)}`, v.issues), v.id ?? null, value);
        continue;
      }
      // Terms count from here for the rest of the batch (validation of later derivative events).
      if (v.event.type === 'instrument') instruments.register(v.event.symbol, v.event.venue, v.event.multiplier);
      slots.push({ kind: 'event', at: incoming.length });
      const text = input.text;
      incoming.push({ event: v.event, payload: text ?? JSON.stringify(value), source, ref: ref(i), bytes: text === undefined ? undefined : exactBytes(input.raw) });
    }
    return { incoming, rejected, slots, tally };
  }

  /**
   * Told, in the booking lane, of each batch's newly booked events once the whole batch is booked
   * (reconciliation): it reads the ledger synchronously and must not throw into the booking.
   */
  onBooked: ((events: readonly LedgerEvent[]) => void) | undefined;

  /** Told of each book update as it is published (the WebSocket hub); it must not throw. */
  onUpdate: ((update: BookUpdate) => void) | undefined;

  /**
   * Told, after a batch and after the updates a timer sent, that the updates told so far
   * (`onUpdate`) hold every event up to `seq`: every book's later changes are still pending (the
   * HTTP front's copy of the positions is as current as the ledger up to there). Never goes back.
   * It must not throw.
   */
  onCaughtUp: ((seq: number) => void) | undefined;

  private tellBooked(events: readonly LedgerEvent[]): void {
    try {
      this.onBooked?.(events);
    } catch (err) {
      this.log.error({ err: String(err) }, 'a listener of booked events failed');
    }
  }

  private tellCaughtUp(): void {
    if (this.onCaughtUp === undefined) return;
    let seq = this.stats.lastSeq;
    for (const first of this.toPublish.values()) if (first - 1 < seq) seq = first - 1;
    try {
      this.onCaughtUp(seq);
    } catch (err) {
      this.log.error({ err: String(err) }, 'a listener of caught-up updates failed');
    }
  }

  /** Runs `fn` in the booking lane: the ledger holds still while it runs (no batch half booked). */
  withLedger<T>(fn: () => Promise<T>): Promise<T> {
    return this.inBookLane(fn);
  }

  /**
   * A ledger holding `books` as of `until` from the store (each book's nearest base before `from`
   * and its log after it), with today's marks and terms: for reading the past beyond the windows.
   * Call it in the booking lane (`withLedger`).
   */
  async historyLedger(books: readonly string[], from: TsUs, until: TsUs): Promise<Ledger> {
    const l = this.newLedger(until);
    // The marks up to `until` (a later one is never read), as they are: no text round trip.
    for (const [asset, quote, points] of this.ledger.marks.series()) {
      for (const p of points) {
        if (p.ts > until) break; // points are in (ts, id) order
        l.marks.add(asset, quote, p.ts, p.id, p.price);
      }
    }
    for (const i of this.ledger.instruments.entries()) l.instruments.register(i.symbol, i.venue === '*' ? undefined : i.venue, i.multiplier);
    for (const book of books) {
      const base = await this.store.baseBefore(book, { ts: from, id: '' });
      const events: LedgerEvent[] = await this.store.bookEvents(book, base?.key, until);
      l.rebase(book, base, events);
    }
    return l;
  }

  /** Books the batch's new events in commit order; a failure here rebuilds from the store. */
  private async book(incoming: readonly Incoming[], outcomes: readonly Outcome[], tally: EventTally | undefined): Promise<void> {
    let last = this.stats.lastSeq;
    /** The batch's changes are of events after this. */
    const first = last + 1;
    const fresh: LedgerEvent[] = [];
    try {
      for (let i = 0; i < incoming.length; i++) {
        const x = incoming[i]!;
        const o = outcomes[i]!;
        if (o.kind === 'duplicate') {
          this.stats.duplicates++;
          tally?.duplicateEvent(x.event);
        }
        if (o.kind === 'conflict') {
          this.stats.rejected++;
          tally?.rejectedEvent('DUPLICATE_CONFLICT', x.event);
        }
        if (o.kind !== 'new' || o.seq <= this.stats.lastSeq) continue; // booked already by a restore
        const booking = this.bookCommitted(x.event, o.seq);
        const r = booking instanceof Promise ? await booking : booking;
        last = o.seq;
        if (r.status === 'rejected') {
          this.stats.rejected++;
          tally?.rejectedEvent(r.code, x.event);
        } else if (r.status === 'unbooked') {
          this.stats.unbooked++;
          tally?.unbookedEvent(r.code, x.event);
        } else {
          this.stats.booked++;
          tally?.bookedEvent(x.event);
        }
        if (r.status !== 'rejected' && this.onBooked !== undefined) fresh.push(x.event);
        this.sinceCheckpoint++;
        if (incoming.length > 2 * BOOK_SLICE && (i + 1) % BOOK_SLICE === 0 && i + 1 < incoming.length) {
          // A large batch (a backlog) pauses every BOOK_SLICE events: what arrived meanwhile is
          // read (the next batch's commit answer, so PostgreSQL gets the one after it at once; an
          // HTTP request). Reads meanwhile see a prefix of the log, and `seq` says which. Not a
          // small batch: there the pause let the next one in first (a latency of 5,000 fills/s
          // grew p99.9 17-35 -> 40-72 ms).
          this.stats.lastSeq = Math.max(this.stats.lastSeq, last);
          await new Promise<void>((resolve) => setImmediate(resolve));
        }
      }
    } catch (err) {
      // The events are committed: the state is rebuilt from the store, which books them.
      this.log.error({ err: String(err) }, 'booking failed: rebuilding from the store');
      await this.recover();
      last = this.stats.lastSeq;
    }
    this.stats.lastSeq = Math.max(this.stats.lastSeq, last);
    this.stats.batches++;
    if (fresh.length > 0) this.tellBooked(fresh);
    if (tally !== undefined) this.observer?.booked(tally, performance.now());
    const changed = this.ledger.takeChanged();
    for (const b of changed) this.checkpointDirty.add(b);
    // New marks move the valuations of books the batch did not touch: each is looked at, and
    // updated only if one of its positions' valuations changed (`send`).
    const marksMoved = this.ledger.marks.clock !== this.marksSeen;
    this.marksSeen = this.ledger.marks.clock;
    if (changed.length > 0 || marksMoved) {
      // The batch is booked and must be acknowledged whatever becomes of its updates.
      try {
        await this.publish(changed, first, marksMoved ? this.ledger.bookNames() : []);
      } catch (err) {
        this.log.error({ err: String(err) }, 'building the updates failed');
      }
    }
    this.tellCaughtUp();
    if (this.sinceCheckpoint >= this.config.checkpointEvery || (this.sinceCheckpoint > 0 && Date.now() - this.lastCheckpointAt >= this.config.checkpointIntervalMs)) {
      await this.checkpoint();
    }
  }

  /**
   * Books one committed event: history, when it needs any, comes from the events committed
   * before it (`seq` is its place in the log), never from the rest of its batch. Synchronous
   * when the ledger books it in memory (nearly always): no promise, no turn per event.
   */
  private bookCommitted(e: LedgerEvent, seq: number): SubmitResult | Promise<SubmitResult> {
    this.store.horizon = seq - 1;
    const r = submitInMemory(this.ledger, e);
    if (r !== undefined) return this.booked(e, seq, r);
    return submitWithHistory(this.ledger, e, this.store, this.countLoad).then((h) => this.booked(e, seq, h));
  }

  private booked(e: LedgerEvent, seq: number, r: SubmitResult): SubmitResult {
    this.store.horizon = seq;
    if (e.ts > this.maxTs) this.maxTs = e.ts;
    return r;
  }

  /**
   * Publishes each touched book's positions and PnL, coalesced: a book is published at most once
   * per `updateIntervalMs`, and at most once per UPDATE_COST_RATIO times what its last update
   * took to build and send; what changes meanwhile goes in one update when the interval is up.
   * Building an update values the whole book, so at high rates this saves most of that work, and
   * a large book's updates (5,000 positions: milliseconds each) take a bounded share of the
   * service's time instead of holding up the booking and the HTTP API.
   */
  private async publish(books: readonly string[], first: number, marked: readonly string[]): Promise<void> {
    if (this.sink === undefined) return;
    for (const b of books) {
      if (!this.toPublish.has(b)) this.toPublish.set(b, first);
      this.marksOnly.delete(b);
    }
    for (const b of marked) {
      if (this.toPublish.has(b)) continue;
      this.toPublish.set(b, first);
      this.marksOnly.add(b);
    }
    await this.publishDue();
  }

  /** Sends the pending books whose interval is up (in the booking lane); the timer is set for the next one. */
  private async publishDue(): Promise<void> {
    const now = Date.now();
    const due: string[] = [];
    let next = Number.POSITIVE_INFINITY;
    for (const b of this.toPublish.keys()) {
      const at = (this.lastPublished.get(b) ?? 0) + Math.max(this.config.updateIntervalMs, UPDATE_COST_RATIO * (this.updateCost.get(b) ?? 0));
      if (at <= now) due.push(b);
      else next = Math.min(next, at);
    }
    if (due.length > 0) await this.send(due);
    if (next === Number.POSITIVE_INFINITY || (this.publishTimer !== undefined && this.publishTimerAt <= next)) return;
    clearTimeout(this.publishTimer);
    this.publishTimerAt = next;
    this.publishTimer = setTimeout(() => {
      this.publishTimer = undefined;
      // In the booking lane: an update never shows a batch half booked.
      this.inBookLane(() => this.publishDue())
        .then(() => this.tellCaughtUp())
        .catch((err: unknown) => this.log.error({ err: String(err) }, 'building the updates failed'));
    }, next - now);
  }

  /**
   * Builds and sends each book's update. A large book's valuation is spread over slices of a few
   * ms (the booking lane is held meanwhile, so the update is of one instant; HTTP requests are
   * answered between the slices). Its cost, for the spacing of the book's updates, is the time
   * spent building and sending, not the time others ran between the slices.
   */
  private async send(books: readonly string[]): Promise<void> {
    if (this.sink === undefined || books.length === 0) return;
    const at = new Date().toISOString();
    for (const book of books) {
      const busy = { ms: 0 };
      this.toPublish.delete(book);
      const marksOnly = this.marksOnly.delete(book);
      this.lastPublished.set(book, Date.now());
      const r = await runSliced(bookUpdateSteps(this.ledger, book), 4, busy);
      const t0 = performance.now();
      const positions = r?.positions ?? [];
      const prev = this.lastUpdate.get(book);
      const diff = diffPositions(prev?.positions, positions);
      // New marks that moved none of its valuations: nothing to tell (its summary is their sum).
      if (marksOnly && prev !== undefined && diff.changed.length === 0 && diff.removed.length === 0) {
        this.updateCost.set(book, busy.ms + performance.now() - t0);
        continue;
      }
      const seq = this.stats.lastSeq;
      const update: BookUpdate = { book, seq, prevSeq: prev?.seq ?? 0, at, summary: r?.summary, positions, ...diff };
      this.lastUpdate.set(book, { seq, positions });
      if (this.outbox !== undefined) this.outbox.push(update);
      else this.publishUpdate(update);
      this.onUpdate?.(update);
      this.updateCost.set(book, busy.ms + performance.now() - t0);
    }
  }

  /**
   * Sends one update to the sink (NATS `<updatesPrefix>.<book>`): a JSON object whose first fields
   * are `book`, `seq`, `prevSeq` and `type` (docs/api.md "Updates on NATS"), then `at`, `summary`:
   * - `snapshot`: `positions` is the whole book. A book's first update from this process, and then
   *   one every `updateSnapshotMs`, when it fits the sink's max payload.
   * - `delta`: `positions` are those new or different since the update `prevSeq`, `removed` those
   *   gone: the update of a book's activity, not of its size.
   * - `reset`: neither fits (a book too large for one message, or a delta as large after a
   *   rebook): no positions. A consumer reads the book from `GET /positions?book=` (whose `seq`
   *   says where it stands) and applies the deltas after it; deltas chain from here.
   * Each is a delta of the last update the sink took, so an update the sink refuses is logged
   * (once a minute per book) and the next one covers it; never a failure of the batch, whose
   * events are booked and must be acknowledged. The positions' bytes are kept from earlier
   * updates (`withPositions`).
   */
  private publishUpdate(update: BookUpdate): void {
    const t0 = performance.now();
    try {
      this.publishUpdateNow(update);
    } finally {
      // Part of what the update cost (send() counted the rest): the spacing of the book's updates.
      this.updateCost.set(update.book, (this.updateCost.get(update.book) ?? 0) + performance.now() - t0);
    }
  }

  private publishUpdateNow(update: BookUpdate): void {
    const sink = this.sink!;
    const book = update.book;
    const base = this.sinkBase.get(book);
    const now = Date.now();
    const head = (type: 'snapshot' | 'delta' | 'reset'): Record<string, unknown> => ({ book, seq: update.seq, prevSeq: base?.seq ?? 0, type, at: update.at, summary: update.summary ?? null });
    let body: Buffer | undefined;
    // Whether this update resets the snapshot timing: a snapshot sent, or tried and too large
    // (then the next try is a snapshot interval later, not at every update).
    let full = false;
    if (base === undefined || now - base.fullAt >= this.config.updateSnapshotMs) {
      body = withPositions(head('snapshot'), update.positions, sink.maxPayload);
      full = true;
    }
    if (body === undefined && base !== undefined) {
      // The common case: the sink took the previous update, so its delta is the update's.
      const d = base.seq === update.prevSeq ? update : diffPositions(base.positions, update.positions);
      body = withPositions({ ...head('delta'), removed: d.removed }, d.changed, sink.maxPayload);
    }
    // A reset counts as a snapshot for the timing: a book too large for one is not tried at every update.
    if (body === undefined) {
      body = withPositions(head('reset'), [], sink.maxPayload);
      full = true;
    }
    let err: unknown = `larger than the sink's max payload (${sink.maxPayload} bytes)`;
    if (body !== undefined) {
      try {
        sink.publish(`${this.config.updatesPrefix}.${book}`, body);
        this.sinkBase.set(book, { seq: update.seq, positions: update.positions, fullAt: full ? now : base!.fullAt });
        return;
      } catch (e) {
        err = e;
      }
    }
    if (now - (this.updateWarned.get(book) ?? 0) < 60_000) return;
    this.updateWarned.set(book, now);
    this.log.warn({ err: String(err), book, positions: update.positions.length }, 'update not published');
  }

  /**
   * A restart point, then the windows trimmed (their new bases stored for late events). Here, in
   * the booking lane, only what it writes is frozen: the marks' series and the books' states
   * copied (the state moves on once this returns), the bases taken (snapshots, which nothing
   * changes). Serializing that (a book of 5,000 positions and their lots: hundreds of ms) and the
   * writes run beside the booking and the API, the serialization a slice of a few ms at a time
   * (one checkpoint in flight at a time), so a checkpoint stalls neither. `flushCheckpoint` waits.
   */
  private checkpoint(): Promise<void> {
    if (this.checkpointing !== undefined) return this.checkpointing; // the next one comes later
    const t0 = performance.now();
    const seq = this.stats.lastSeq;
    // The marks added or removed since the last checkpoint written (not every mark every time).
    const journal = [...this.unwrittenMarks, ...this.ledger.marks.takeJournal()];
    this.unwrittenMarks = journal;
    const rest: Omit<CheckpointDoc, 'marks'> = {
      instruments: this.ledger.instruments.entries().map((i) => ({ symbol: i.symbol, venue: i.venue, multiplier: i.multiplier.toString() })),
      pending: [...new Set([...this.ledger.pendingCorrections(), ...this.ledger.invalidCorrections().map((c) => c.id)])],
      reports: this.ledger.reports.map((r) => r.id),
      maxTs: this.maxTs,
    };
    const dirty = [...this.checkpointDirty];
    const books = this.ledger.checkpoint().filter((b) => this.checkpointDirty.has(b.book)).map((b) => ({ ...b, state: b.state.clone() }));
    this.checkpointDirty.clear();
    const bases = this.ledger.trim(this.maxTs - this.config.lateWindowUs, this.config.windowMaxEvents, { deferForget: true });
    this.forgetSliced();
    this.sinceCheckpoint = 0;
    this.lastCheckpointAt = Date.now();
    const frozenMs = performance.now() - t0;
    let serializeMs = 0;
    const write = async (): Promise<void> => {
      const t1 = performance.now();
      // JSON.stringify(doc), CheckpointDoc's fields in order.
      const ledger = JSON.stringify(rest);
      const marksJournal = await joinSliced(journalJson(journal));
      const rows: SerializedCheckpointBook[] = [];
      for (const b of books) rows.push({ book: b.book, last: b.last, consulted: b.consulted, state: await joinSliced(snapshotBookJson(b.state)), balances: snapshotBalances(b.state) });
      const baseRows: { book: string; key: Key; state: string }[] = [];
      for (const b of bases) baseRows.push({ book: b.book, key: b.base.key, state: await joinSliced(snapshotBookJson(b.base.state)) });
      serializeMs = performance.now() - t1;
      await Promise.all([this.store.saveCheckpointJson(seq, ledger, rows, marksJournal), this.store.saveBasesJson(baseRows)]);
      // Written: the next journal starts after these (what came meanwhile is in the marks' own).
      // (A rebuild from the store meanwhile set its own: left as it is.)
      if (this.unwrittenMarks === journal) this.unwrittenMarks = [];
      await this.store.pruneCheckpoints(2);
    };
    const done = write()
      .then(
        () => {
          this.stats.checkpoints++;
          this.log.info({ seq, books: books.length, frozenMs: Math.round(frozenMs), serializeMs: Math.round(serializeMs), totalMs: Math.round(performance.now() - t0) }, 'checkpoint');
        },
        (err: unknown) => {
          // Not written: those books go into the next checkpoint again.
          for (const b of dirty) this.checkpointDirty.add(b);
          this.log.warn({ err: String(err) }, 'checkpoint failed: will retry');
        },
      )
      .finally(() => {
        this.checkpointing = undefined;
      });
    this.checkpointing = done;
    return Promise.resolve();
  }

  /**
   * The ids the trim let go of, forgotten FORGET_SLICE at a time between other work (a window of
   * the 5,000-position book under load is ~150,000 events: tens of ms at once).
   */
  private forgetSliced(): void {
    if (this.forgetting) return;
    this.forgetting = true;
    const step = (): void => {
      if (this.ledger.forgetSome(FORGET_SLICE)) setImmediate(step);
      else this.forgetting = false;
    };
    setImmediate(step);
  }

  /** Waits for the checkpoint being written, if any. */
  async flushCheckpoint(): Promise<void> {
    while (this.checkpointing !== undefined) await this.checkpointing;
  }

  // ---- reading ----

  report(options: ReportOptions = {}): Report {
    return buildReport(this.ledger, options);
  }

  /**
   * `report`, spread over slices of a few ms (HTTP requests and batches go on between them) and
   * not in the booking lane: what is booked meanwhile may show in the positions valued after it.
   * For monitors that look every few seconds (the alert rules), not for a figure of one instant.
   */
  reportSliced(options: ReportOptions = {}): Promise<Report> {
    return runSliced(reportSteps(this.ledger, options));
  }

  /** The positions of `report` alone, without its aggregates (much cheaper for a large book). */
  positions(options: ReportOptions = {}): Pick<Report, 'asOf' | 'reporting' | 'positions'> {
    return buildPositions(this.ledger, options);
  }

  unbooked(): UnbookedReport[] {
    return unbookedEvents(this.ledger);
  }

  /** The state digest, computed as `utl replay` computes it. */
  digest(): string {
    return createHash('sha256').update(JSON.stringify(stateDocument(this.ledger))).digest('hex');
  }

  /** The state as of `ts`: each book from its stored base before `ts` and the log after it. */
  async reportAt(ts: TsUs, options: ReportOptions = {}): Promise<Report> {
    return this.inBookLane(async () => buildReport(await this.historyLedger(options.books ?? this.ledger.bookNames(), ts + 1, ts), options));
  }

  /** Messages not yet delivered from the attached sources (the consumer lag); undefined when unknown. */
  async pending(): Promise<number | undefined> {
    const counts = await Promise.all(this.sources.map((s) => s.pending()));
    return counts.length === 0 || counts.includes(undefined) ? undefined : counts.reduce<number>((a, n) => a + (n ?? 0), 0);
  }

  /** Stops the sources, finishes the batch in hand, takes a last checkpoint. */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.sources.map((s) => s.close()));
    await Promise.all(this.loops);
    await this.lane;
    await this.inBookLane(async () => {
      if (this.publishTimer !== undefined) clearTimeout(this.publishTimer);
      this.publishTimer = undefined;
      await this.send([...this.toPublish.keys()]);
      await this.flushCheckpoint();
      if (this.sinceCheckpoint > 0 || this.checkpointDirty.size > 0) {
        await this.checkpoint();
        await this.flushCheckpoint();
      }
    });
  }
}

interface CheckpointDoc {
  /** Every mark: checkpoints written before the marks journal (utl_marks_journal) only. */
  marks?: MarksSnapshot;
  instruments: { symbol: string; venue: string; multiplier: string }[];
  /** Corrections that wait for their target, or that target what they cannot correct (reported). */
  pending: string[];
  /** Venue-reported balances the ledger holds (the latest per venue, account and asset, and recent ones). */
  reports: string[];
  maxTs: TsUs;
}

/** A marks journal as stored: [asset, quote, ts, id, price text or null (removed)] per entry. */
type SerializedJournal = [string, string, TsUs, string, string | null][];

/** `JSON.stringify` of a journal, in pieces of up to 256 entries (for `joinSliced`). */
function* journalJson(journal: readonly JournalEntry[]): Generator<string, void, undefined> {
  yield '[';
  for (let i = 0; i < journal.length; i += 256) {
    const part = journal.slice(i, i + 256).map(([asset, quote, ts, id, price]) => [asset, quote, ts, id, price === null ? null : price.toString()]);
    const text = JSON.stringify(part);
    yield `${i === 0 ? '' : ','}${text.slice(1, -1)}`;
  }
  yield ']';
}

/** Applies a stored journal part to the marks, in order. */
function applyMarksJournal(marks: Marks, part: SerializedJournal): void {
  for (const [asset, quote, ts, id, price] of part) {
    if (price === null) marks.remove(asset, quote, { ts, id });
    else marks.add(asset, quote, ts, id, Dec.of(price));
  }
}

/** Every mark as a journal of additions (a checkpoint after one from before the journal). */
function journalOf(marks: Marks): JournalEntry[] {
  const out: JournalEntry[] = [];
  for (const [asset, quote, points] of marks.series()) for (const p of points) out.push([asset, quote, p.ts, p.id, p.price]);
  return out;
}
