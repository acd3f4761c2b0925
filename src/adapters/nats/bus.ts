/**
 * An in-process stand-in for NATS, to run the service without a server. It has the JetStream
 * semantics the service relies on, for one durable consumer per bus (state kept for the life of
 * the process):
 * - `publish` stores an event, dropping a repeated `msgId` within the duplicate window;
 * - `source()` delivers in order, at most `maxInFlight` unacked; an unacked message comes again
 *   (`redelivered`) after its nak delay or the ack wait; `term` drops it; messages still unacked
 *   by a closed source come again after the ack wait. Nothing is buffered: a consumer that stops
 *   iterating stops the flow.
 * - `sink()` / `subscribe()` fan updates out to local listeners, like core NATS (nothing stored).
 */
import type { Delivery, EventSource, UpdateSink } from '../../app/ports.js';

export interface InProcessBusOptions {
  /** Delivered and not yet acked, at most. Default 10,000. */
  maxInFlight?: number;
  /** Redelivery after this long without an ack. Default 30 s. */
  ackWaitMs?: number;
  /** The window in which a repeated msgId is dropped. Default 2 min. */
  duplicateWindowMs?: number;
  /** The clock of the duplicate window (tests). */
  now?: () => number;
}

interface Stored {
  readonly seq: number;
  readonly subject: string;
  readonly data: Uint8Array;
  readonly msgId: string | undefined;
  /** Times delivered so far. */
  deliveries: number;
}

/** One delivery of a message: current while `inFlight` maps the message's seq to this object. */
interface InFlight {
  readonly m: Stored;
  /** Redelivery: at the end of the ack wait, or of a nak delay. */
  timer: NodeJS.Timeout;
}

type Listener = (subject: string, payload: Uint8Array) => void;

export class InProcessBus {
  private readonly maxInFlight: number;
  private readonly ackWaitMs: number;
  private readonly duplicateWindowMs: number;
  private readonly now: () => number;

  private lastSeq = 0;
  /** Never delivered, in order, from `head` on. */
  private fresh: Stored[] = [];
  private head = 0;
  /** Due for redelivery, in the order they fell due; delivered before fresh ones. */
  private readonly due: Stored[] = [];
  private readonly inFlight = new Map<number, InFlight>();
  /** msgId → expiry time; insertion order is expiry order (one window for all). */
  private readonly recentIds = new Map<string, number>();
  private waiters: (() => void)[] = [];
  private readonly listeners = new Set<{ prefix: string; cb: Listener }>();

  constructor(opts: InProcessBusOptions = {}) {
    this.maxInFlight = Math.max(1, opts.maxInFlight ?? 10_000);
    this.ackWaitMs = opts.ackWaitMs ?? 30_000;
    this.duplicateWindowMs = opts.duplicateWindowMs ?? 120_000;
    this.now = opts.now ?? Date.now;
  }

  /** Stores an event; a `msgId` seen within the duplicate window is dropped (`duplicate`). */
  publish(subject: string, data: Uint8Array, msgId?: string): { seq: number; duplicate: boolean } {
    if (msgId !== undefined) {
      const now = this.now();
      for (const [id, expires] of this.recentIds) {
        if (expires > now) break;
        this.recentIds.delete(id);
      }
      if (this.recentIds.has(msgId)) return { seq: 0, duplicate: true };
      this.recentIds.set(msgId, now + this.duplicateWindowMs);
    }
    const seq = ++this.lastSeq;
    this.fresh.push({ seq, subject, data, msgId, deliveries: 0 });
    this.wake();
    return { seq, duplicate: false };
  }

  /** Messages never delivered (the consumer's lag). */
  pendingCount(): number {
    return this.fresh.length - this.head;
  }

  /** Messages delivered and not yet acked or termed (nak'd ones count until redelivered). */
  inFlightCount(): number {
    return this.inFlight.size;
  }

  /**
   * A source on the bus's durable consumer. Closing it ends its iteration; what it delivered and
   * was not acked comes again after the ack wait, to whichever source iterates then.
   */
  source(): EventSource {
    const state = { closed: false };
    return {
      deliveries: () => this.run(state),
      pending: () => Promise.resolve(this.pendingCount()),
      close: () => {
        state.closed = true;
        this.wake();
        return Promise.resolve();
      },
    };
  }

  private async *run(state: { readonly closed: boolean }): AsyncGenerator<Delivery> {
    while (!state.closed) {
      const m = this.take();
      if (m === undefined) await new Promise<void>((resolve) => this.waiters.push(resolve));
      else yield this.deliver(m);
    }
  }

  /** An update sink that hands each update to the local listeners whose prefix matches. */
  sink(): UpdateSink {
    return {
      publish: (subject, payload) => {
        for (const l of this.listeners) {
          if (!subject.startsWith(l.prefix)) continue;
          try {
            l.cb(subject, payload);
          } catch {
            // fire and forget, like core NATS: a failing listener does not stop the others
            continue;
          }
        }
      },
      close: () => Promise.resolve(),
    };
  }

  /** Listens to updates on subjects starting with `subjectPrefix`; returns the unsubscribe function. */
  subscribe(subjectPrefix: string, cb: Listener): () => void {
    const l = { prefix: subjectPrefix, cb };
    this.listeners.add(l);
    return () => { this.listeners.delete(l); };
  }

  /** The next message to deliver (redeliveries first), when there is one and room in flight. */
  private take(): Stored | undefined {
    if (this.inFlight.size >= this.maxInFlight) return undefined;
    const again = this.due.shift();
    if (again !== undefined) return again;
    const m = this.fresh[this.head];
    if (m === undefined) return undefined;
    this.head++;
    if (this.head >= 4096 && this.head * 2 >= this.fresh.length) {
      this.fresh = this.fresh.slice(this.head);
      this.head = 0;
    }
    return m;
  }

  private deliver(m: Stored): Delivery {
    m.deliveries++;
    const entry: InFlight = { m, timer: this.redeliverAfter(m.seq, this.ackWaitMs) };
    this.inFlight.set(m.seq, entry);
    let settled = false; // the first of ack, nak and term counts, as with a JetStream message
    const once = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      if (this.inFlight.get(m.seq) === entry) fn(); // else already redelivered: too late
    };
    const drop = (): void => {
      clearTimeout(entry.timer);
      this.inFlight.delete(m.seq);
      this.wake();
    };
    return {
      data: m.data,
      subject: m.subject,
      seq: m.seq,
      msgId: m.msgId,
      redelivered: m.deliveries > 1,
      ack: () => once(drop),
      term: (_reason: string) => once(drop),
      nak: (delayMs: number) => once(() => {
        clearTimeout(entry.timer);
        entry.timer = this.redeliverAfter(m.seq, Math.max(0, delayMs));
      }),
    };
  }

  /** After `ms`, the current delivery of `seq` ends and the message is due again. */
  private redeliverAfter(seq: number, ms: number): NodeJS.Timeout {
    const timer = setTimeout(() => {
      const entry = this.inFlight.get(seq);
      if (entry?.timer !== timer) return;
      this.inFlight.delete(seq);
      this.due.push(entry.m);
      this.wake();
    }, ms);
    timer.unref(); // a bus with messages in flight does not keep the process alive
    return timer;
  }

  private wake(): void {
    const ws = this.waiters;
    this.waiters = [];
    for (const w of ws) w();
  }
}
