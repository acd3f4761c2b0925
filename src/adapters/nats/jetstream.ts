/**
 * NATS JetStream adapters of the service's messaging ports (src/app/ports.ts), on the v3 client
 * (@nats-io/transport-node, @nats-io/jetstream):
 * - `connectNats`: a connection that reconnects forever, so a NATS restart mid-stream is survived;
 * - `ensureEventStream`: the events stream (file storage, limits retention, Nats-Msg-Id dedup window);
 * - `jetStreamSource`: an `EventSource` on a durable pull consumer, through `consumer.consume()`,
 *   which re-pulls by itself after a reconnect or missed heartbeats. A new consumer acks
 *   cumulatively (`AckPolicy.All`: one +ACK per event-loop turn covers every message settled
 *   before it, see `CumulativeAcks`); one created earlier with explicit acks keeps them, batched
 *   once per event-loop turn;
 * - `natsUpdateSink`: an `UpdateSink` on core NATS (fire and forget, no JetStream);
 * - `publishAll`: a fast JetStream publisher with a bounded number of outstanding acks (tests, benchmarks).
 *
 * Server 2.9 quirk: it ignores `+TERM <reason>` (the message stays pending and is redelivered after
 * the ack wait, forever), so `term(reason)` sends a bare `+TERM` to servers older than 2.10.
 */
import { connect } from '@nats-io/transport-node';
import { createInbox, headers } from '@nats-io/nats-core';
import type { MsgHdrs, NatsConnection } from '@nats-io/nats-core';
import {
  AckPolicy,
  DeliverPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  RetentionPolicy,
  StorageType,
  jetstream,
  jetstreamManager,
} from '@nats-io/jetstream';
import type { ConsumerConfig, ConsumerInfo, ConsumerMessages, JetStreamManager, JsMsg } from '@nats-io/jetstream';
import type { Delivery, EventSource, UpdateSink } from '../../app/ports.js';

export type { NatsConnection } from '@nats-io/nats-core';

const NS_PER_MS = 1_000_000;

/**
 * Connects to NATS (`url` is `host:port` or `nats://host:port`, several comma-separated) and
 * reconnects forever, every 250 ms, after the server goes away; messages published while
 * disconnected are buffered by the client and sent on reconnect.
 */
export function connectNats(url: string, name = 'utl'): Promise<NatsConnection> {
  return connect({
    servers: url.split(',').map((s) => s.trim()).filter((s) => s !== ''),
    name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    reconnectJitter: 100,
    // a dead peer that did not close the socket is noticed within ~30 s
    pingInterval: 10_000,
    maxPingOut: 3,
  });
}

export interface EventStreamOptions {
  stream: string;
  subjects: string[];
  /** The window in which a repeated `Nats-Msg-Id` is dropped as a duplicate. Default 2 min. */
  duplicateWindowMs?: number;
}

/** Creates the stream, or updates its subjects and duplicate window when it exists. */
export async function ensureEventStream(nc: NatsConnection, opts: EventStreamOptions): Promise<void> {
  const jsm = await jetstreamManager(nc);
  const duplicate_window = (opts.duplicateWindowMs ?? 120_000) * NS_PER_MS;
  const exists = await jsm.streams.info(opts.stream).then(
    () => true,
    (err: unknown) => {
      if (isApiError(err, JetStreamApiCodes.StreamNotFound)) return false;
      throw err;
    },
  );
  if (exists) {
    await jsm.streams.update(opts.stream, { subjects: opts.subjects, duplicate_window });
  } else {
    await jsm.streams.add({
      name: opts.stream,
      subjects: opts.subjects,
      storage: StorageType.File,
      retention: RetentionPolicy.Limits,
      duplicate_window,
    });
  }
}

export interface JetStreamSourceOptions {
  stream: string;
  /** The durable name of the pull consumer: its position survives restarts of the service and of NATS. */
  consumer: string;
  /** Only subjects matching this filter (default: the whole stream). */
  filterSubject?: string;
  /** The consumer's `max_ack_pending`: delivered and not yet acked, at most. Default 10,000. */
  maxInFlight?: number;
  /** Redelivery after this long without an ack. Default 30 s. */
  ackWaitMs?: number;
  /** Messages per pull request (the client's buffer). Default 1000, never above `maxInFlight`. */
  batch?: number;
  /**
   * The ack policy of a consumer created here: `all` (default), cumulative acks, or `explicit`,
   * one ack per message. An existing consumer keeps the policy it was created with (the server
   * cannot change it): delete it to switch (it is then created again from the stream's start, and
   * what was already committed comes as duplicates).
   */
  ackPolicy?: 'all' | 'explicit';
  /**
   * The client's notifications on the consumer, except its routine `next` and `heartbeat` ones:
   * `heartbeats_missed`, `consumer_not_found`, `consumer_deleted`, `stream_not_found`, `no_responders`, ...
   */
  onStatus?: (event: { type: string }) => void;
}

/**
 * An `EventSource` on a durable pull consumer, created or updated here (deliver all).
 * Each `deliveries()` iteration runs its own `consume()`; the client buffers at most one pull
 * batch, re-pulls only as the iteration advances, and the server stops at `maxInFlight` unacked.
 * If the consumer or the stream disappears, the client keeps trying (`consumer_not_found`,
 * `stream_not_found` through `onStatus`) and resumes once they are back.
 *
 * Acks: with `AckPolicy.All` (a consumer created here), `ack()` and `term()` settle a message and
 * one +ACK per event-loop turn goes out for the highest message below which everything delivered
 * is settled (`CumulativeAcks`); with `AckPolicy.Explicit` (a consumer created so before), each
 * message is acked, nak'd or termed on its own, once per event-loop turn together.
 *
 * `close()` stops pulling and flushes the acks; the iteration ends at its next step, nak-ing what
 * the client still buffered so that it comes again at once. Messages the server sent while the
 * client was unsubscribing, or still buffered by an iteration the caller broke out of, come again
 * after the ack wait.
 */
export async function jetStreamSource(nc: NatsConnection, opts: JetStreamSourceOptions): Promise<EventSource> {
  const maxInFlight = opts.maxInFlight ?? 10_000;
  const batch = Math.max(1, Math.min(opts.batch ?? 1000, maxInFlight));
  const ackWaitMs = opts.ackWaitMs ?? 30_000;
  const config: DurableConfig = {
    durable_name: opts.consumer,
    ack_policy: opts.ackPolicy === 'explicit' ? AckPolicy.Explicit : AckPolicy.All,
    deliver_policy: DeliverPolicy.All,
    max_ack_pending: maxInFlight,
    ack_wait: ackWaitMs * NS_PER_MS,
    ...(opts.filterSubject !== undefined ? { filter_subject: opts.filterSubject } : {}),
  };
  const jsm = await jetstreamManager(nc);
  const info = await ensureConsumer(jsm, opts.stream, config);
  const consumer = await jetstream(nc).consumers.get(opts.stream, opts.consumer);

  const active = new Set<ConsumerMessages>();
  const acks = new AckBatcher();
  const cumulative = info.config.ack_policy === AckPolicy.All
    ? new CumulativeAcks(info, () => jsm.consumers.info(opts.stream, opts.consumer).then((i) => i.num_ack_pending), Math.max(100, Math.min(1000, ackWaitMs >> 2)))
    : undefined;
  let closed = false;
  const watch = async (messages: ConsumerMessages, onStatus: (event: { type: string }) => void): Promise<void> => {
    for await (const event of messages.status()) {
      if (event.type !== 'next' && event.type !== 'heartbeat') onStatus(event);
    }
  };

  /**
   * One `consume()` per iteration, read through its own iterator (one await per message: an
   * async generator around it cost a few microseconds per message more).
   */
  function deliveries(): AsyncIterable<Delivery> {
    let messages: ConsumerMessages | undefined;
    let inner: AsyncIterator<JsMsg> | undefined;
    let ended = false;
    const end = (): IteratorResult<Delivery> => {
      if (!ended) {
        ended = true;
        if (messages !== undefined) {
          active.delete(messages);
          void messages.close(); // when the caller broke out of its loop
        }
      }
      return { done: true, value: undefined };
    };
    const iterator: AsyncIterator<Delivery> = {
      async next() {
        if (ended) return { done: true, value: undefined };
        if (inner === undefined) {
          if (closed) return end();
          messages = await consumer.consume({ max_messages: batch });
          active.add(messages);
          if (opts.onStatus) watch(messages, opts.onStatus).catch(() => undefined); // ends with the messages
          inner = messages[Symbol.asyncIterator]();
        }
        try {
          for (;;) {
            const r = await inner.next();
            if (r.done === true) return end();
            const msg = r.value;
            // after close(), what the client still holds goes back at once instead of after the ack wait
            if (closed) msg.nak();
            else return { done: false, value: cumulative !== undefined ? cumulative.receive(msg) : new JsDelivery(msg, nc, acks) };
          }
        } catch (err) {
          end();
          throw err;
        }
      },
      return() {
        return Promise.resolve(end());
      },
    };
    return { [Symbol.asyncIterator]: () => iterator };
  }

  return {
    deliveries,
    async pending() {
      try {
        return (await jsm.consumers.info(opts.stream, opts.consumer)).num_pending;
      } catch {
        return undefined;
      }
    },
    async close() {
      closed = true;
      acks.flush();
      cumulative?.close();
      // stops pulling at once; an iteration in progress ends at its next step (not awaited here,
      // so close() may be called from inside the loop body)
      for (const messages of active) void messages.close();
      if (!nc.isClosed()) await nc.flush().catch(() => undefined);
    },
  };
}

type DurableConfig = Partial<ConsumerConfig> & { durable_name: string };

/** The consumer as it is now: created with `config`, or updated (it keeps its ack policy). */
async function ensureConsumer(
  jsm: JetStreamManager,
  stream: string,
  config: DurableConfig,
): Promise<ConsumerInfo> {
  const exists = await jsm.consumers.info(stream, config.durable_name).then(
    () => true,
    (err: unknown) => {
      if (isApiError(err, JetStreamApiCodes.ConsumerNotFound)) return false;
      throw err;
    },
  );
  if (exists) {
    const { max_ack_pending, ack_wait, filter_subject } = config;
    return jsm.consumers.update(stream, config.durable_name, {
      max_ack_pending,
      ack_wait,
      ...(filter_subject !== undefined ? { filter_subject } : {}),
    });
  }
  return jsm.consumers.add(stream, config);
}

/**
 * Acks, naks and terms go out once per event-loop turn, together: the client flushes its socket
 * on a microtask, and an iteration over buffered messages lets that microtask run between
 * messages, so acking inline costs one socket write per message (a third of the consumer's CPU).
 */
class AckBatcher {
  private queued: (() => void)[] = [];
  private scheduled = false;

  add(fn: () => void): void {
    this.queued.push(fn);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  flush(): void {
    this.scheduled = false;
    const q = this.queued;
    this.queued = [];
    for (const fn of q) fn();
  }
}

class JsDelivery implements Delivery {
  readonly data: Uint8Array;
  readonly subject: string;
  readonly seq: number;
  readonly redelivered: boolean;

  constructor(private readonly msg: JsMsg, private readonly nc: NatsConnection, private readonly acks: AckBatcher) {
    this.data = msg.data;
    this.subject = msg.subject;
    const at = deliveryOf(msg);
    this.seq = at.seq;
    this.redelivered = at.count > 1;
  }

  get msgId(): string | undefined {
    return msgIdOf(this.msg);
  }

  ack(): void {
    this.acks.add(() => this.msg.ack());
  }

  nak(delayMs: number): void {
    this.acks.add(() => this.msg.nak(delayMs > 0 ? delayMs : undefined));
  }

  term(reason: string): void {
    // server 2.9 ignores `+TERM <reason>` (the message would come back after every ack wait)
    const withReason = serverAtLeast(this.nc, 2, 10);
    this.acks.add(() => (withReason ? this.msg.term(reason) : this.msg.term()));
  }
}

/** The publisher's `Nats-Msg-Id` (headers are parsed only when asked for, and only when present). */
function msgIdOf(msg: JsMsg): string | undefined {
  const id = msg.headers?.get('Nats-Msg-Id');
  return id === undefined || id === '' ? undefined : id;
}

/**
 * Cumulative acks (`AckPolicy.All`). The server takes `+ACK` on message S as the ack of every
 * message at or below S still pending, delivered to this process or not; a `+TERM` does the
 * same, and a nak'd message below S is dropped too (checked against nats-server 2.9). So one ack
 * per turn is sent, for the highest S below which every message delivered here is settled, and
 * never while a message the server counts as delivered may not have reached this process:
 *
 * - `ack()` and `term()` settle (a poison message is parked in the store in the batch's commit,
 *   then covered by this ack or a later one: the same end as a +TERM, never redelivered);
 * - `nak()` (the commit failed) sends a -NAK for that message alone, which holds every ack above
 *   it until a redelivery of it is settled; batches committed meanwhile wait, unacked (and come
 *   again after the ack wait if it lasts: duplicates, harmless);
 * - a delivery that never arrived (messages pending at start from an earlier process, or a gap
 *   in the consumer's delivery sequence: lost in a reconnect, or sent to an iteration that was
 *   closed) holds all acks, because it cannot be told apart from the others; they resume when the
 *   server's count of pending messages is no more than the count of those delivered here above
 *   the last ack (it counts all of those, so it can only be higher while one is unseen or in
 *   flight). The unseen ones come again after the ack wait, so the stall lasts at most about that
 *   long (up to `maxInFlight` messages go on being committed meanwhile);
 * - the server ignores an ack whose delivery sequence is not above that of the last ack it took,
 *   so an ack is only sent on a delivery newer than the last one acked (a settled message
 *   delivered before a redelivery that was acked waits for a newer ack, or its own redelivery).
 *   An ack on a redelivery that would leave such a message behind a gap waits until the gap is
 *   settled (`wouldStrand`): the nak'd batch's redeliveries, settled one turn at a time, then
 *   end in one ack over the later batches too, instead of their coming again after the ack wait.
 *
 * The deliveries themselves are the bookkeeping: one object per message, kept in stream order
 * from `head` until an ack covers them.
 */
class CumulativeAcks {
  private order: CumulativeDelivery[] = [];
  private head = 0;
  /** The consumer sequence of the latest delivery received. */
  private lastDseq: number;
  /** The last ack sent: its stream and consumer sequences. */
  private ackedSeq: number;
  private ackedDseq: number;
  /** A delivery may exist that never reached this process: no ack goes out. */
  private unseen = false;
  private checkTimer: NodeJS.Timeout | undefined;
  private checking = false;
  private scheduled = false;
  private naks: (() => void)[] = [];
  private closed = false;
  private readonly flushNow = (): void => this.flush();

  constructor(
    info: ConsumerInfo,
    private readonly serverPending: () => Promise<number>,
    private readonly checkEveryMs: number,
  ) {
    this.lastDseq = info.delivered.consumer_seq;
    this.ackedSeq = info.ack_floor.stream_seq;
    this.ackedDseq = info.ack_floor.consumer_seq;
    if (info.num_ack_pending > 0) this.suspect();
  }

  receive(msg: JsMsg): CumulativeDelivery {
    const d = new CumulativeDelivery(msg, this);
    if (d.dseq !== this.lastDseq + 1) this.suspect();
    this.lastDseq = d.dseq;
    const o = this.order;
    const last = o.length > this.head ? o[o.length - 1]! : undefined;
    if (last === undefined || d.seq > last.seq) {
      o.push(d);
      return d;
    }
    // a redelivery, or an unseen one arriving late: in stream order
    d.late = true;
    let lo = this.head;
    let hi = o.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (o[mid]!.seq < d.seq) lo = mid + 1;
      else hi = mid;
    }
    const same = lo < o.length && o[lo]!.seq === d.seq ? o[lo]! : undefined;
    if (same === undefined) o.splice(lo, 0, d);
    else {
      // the newer delivery of it takes its place (an ack is sent on the newest); settled stays settled
      d.settled = same.settled;
      same.replacedBy = d;
      o[lo] = d;
    }
    return d;
  }

  settle(d: CumulativeDelivery): void {
    let x: CumulativeDelivery = d;
    while (x.replacedBy !== undefined) x = x.replacedBy;
    x.settled = true;
    if (!this.scheduled) this.schedule();
  }

  nak(d: CumulativeDelivery, delayMs: number): void {
    let x: CumulativeDelivery = d;
    while (x.replacedBy !== undefined) x = x.replacedBy;
    if (x.settled) return; // committed by another delivery of it
    this.naks.push(() => d.msg.nak(delayMs > 0 ? delayMs : undefined));
    if (!this.scheduled) this.schedule();
  }

  /** The ack `settle` scheduled for the end of this turn, sent now. */
  flushScheduled(): void {
    if (this.scheduled) this.flush();
  }

  close(): void {
    this.flush();
    this.closed = true;
    if (this.checkTimer !== undefined) clearInterval(this.checkTimer);
    this.checkTimer = undefined;
  }

  private schedule(): void {
    this.scheduled = true;
    setImmediate(this.flushNow);
  }

  private flush(): void {
    this.scheduled = false;
    if (this.naks.length > 0) {
      const naks = this.naks;
      this.naks = [];
      for (const nak of naks) nak();
    }
    if (this.unseen || this.closed) return;
    // the highest delivery of the settled prefix that the server would take an ack of
    const o = this.order;
    let target = -1;
    for (let i = this.head; i < o.length; i++) {
      const d = o[i]!;
      if (!d.settled) break;
      if (d.dseq > this.ackedDseq) target = i;
    }
    if (target < 0) return;
    const d = o[target]!;
    if (d.late && this.wouldStrand(target, d.dseq)) return;
    d.msg.ack();
    this.ackedDseq = d.dseq;
    if (d.seq > this.ackedSeq) this.ackedSeq = d.seq;
    this.head = target + 1;
    if (this.head === o.length) {
      this.order = [];
      this.head = 0;
    } else if (this.head > 4096 && this.head * 2 > o.length) {
      this.order = o.slice(this.head);
      this.head = 0;
    }
  }

  /**
   * An ack at delivery sequence `dseq` would leave a settled delivery past the unsettled one that
   * ends the prefix at `target` unable to be acked (its delivery sequence is lower: it came before
   * the redelivery at `target`). Then the ack waits for the gap to be settled, when one ack covers
   * them all; otherwise that delivery would come again after its ack wait, a duplicate. Only a
   * delivery put in out of stream order (`late`) can be followed by lower delivery sequences, so
   * only such a target scans; the wait ends at the latest when the stranded one is redelivered.
   */
  private wouldStrand(target: number, dseq: number): boolean {
    const o = this.order;
    for (let i = target + 1; i < o.length; i++) {
      const x = o[i]!;
      if (x.settled && x.dseq > this.ackedDseq && x.dseq < dseq) return true;
    }
    return false;
  }

  private suspect(): void {
    this.unseen = true;
    if (this.checkTimer !== undefined || this.closed) return;
    this.checkTimer = setInterval(() => void this.check(), this.checkEveryMs);
  }

  /**
   * Acks resume when the server counts no more pending messages than those delivered here above
   * the last ack (every one of which it counts): then no unseen delivery is pending.
   */
  private async check(): Promise<void> {
    if (this.checking || !this.unseen) return;
    this.checking = true;
    try {
      let mine = 0;
      for (let i = this.head; i < this.order.length; i++) if (this.order[i]!.seq > this.ackedSeq) mine++;
      const lastDseq = this.lastDseq;
      const pending = await this.serverPending();
      // a delivery that arrived meanwhile may have been counted by the server and not here
      if (pending <= mine && lastDseq === this.lastDseq) {
        this.unseen = false;
        if (this.checkTimer !== undefined) clearInterval(this.checkTimer);
        this.checkTimer = undefined;
        this.schedule();
      }
    } catch {
      // the server is away: the next tick asks again
    } finally {
      this.checking = false;
    }
  }
}

/**
 * The stream sequence, consumer sequence and delivery count of a message, read from its reply
 * subject without the client's `info` (which splits it into an object of ten fields: a fifth of
 * the consumer's time). `$JS.ACK.[<domain>.<account hash>.]<stream>.<consumer>.<count>.<stream
 * seq>.<consumer seq>.<ts>.<pending>[.<token>]`, read from the end: names hold no dots.
 */
export function deliveryOf(msg: JsMsg): { seq: number; dseq: number; count: number } {
  const reply = (msg as JsMsg & { readonly reply?: unknown }).reply;
  if (typeof reply === 'string' && reply.startsWith('$JS.ACK.')) {
    // The dots after `$JS.ACK.`, counted, and the last seven kept (from the end).
    let dots = 0;
    const at = DOTS;
    for (let i = reply.length - 1; i >= 8; i--) {
      if (reply.charCodeAt(i) === 46) {
        if (dots < 7) at[dots] = i;
        dots++;
      }
    }
    // 6 dots in the old form, 8 with domain and account hash, 9 with a token: from the end,
    // [token.]pending, ts, consumer seq, stream seq, count.
    if (dots === 6 || dots === 8 || dots === 9) {
      const k = dots === 9 ? 1 : 0; // at[k] ends the ts field
      const dseq = digitsBetween(reply, at[k + 2]!, at[k + 1]!);
      const seq = digitsBetween(reply, at[k + 3]!, at[k + 2]!);
      const count = digitsBetween(reply, at[k + 4]!, at[k + 3]!);
      if (seq > 0 && dseq > 0 && count > 0) return { seq, dseq, count };
    }
  }
  const info = msg.info;
  return { seq: info.streamSequence, dseq: info.deliverySequence, count: info.deliveryCount };
}

/** The positions of the last dots of a reply subject (reused: `deliveryOf` is synchronous). */
const DOTS: number[] = [0, 0, 0, 0, 0, 0, 0];

/** The decimal number strictly between two indices of `s`; 0 when it is not all digits (or too long to be exact). */
function digitsBetween(s: string, from: number, to: number): number {
  if (to - from < 2 || to - from > 17) return 0; // 1 to 16 digits
  let n = 0;
  for (let i = from + 1; i < to; i++) {
    const d = s.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return 0;
    n = n * 10 + d;
  }
  return n <= Number.MAX_SAFE_INTEGER ? n : 0;
}

/** A delivery under cumulative acks: also its own entry in the bookkeeping of `CumulativeAcks`. */
class CumulativeDelivery implements Delivery {
  readonly data: Uint8Array;
  readonly subject: string;
  readonly seq: number;
  readonly dseq: number;
  readonly redelivered: boolean;
  /** Its effects are committed (acked or termed by the service): a later ack may cover it. */
  settled = false;
  /** A newer delivery of the same message, which took its place in the bookkeeping. */
  replacedBy: CumulativeDelivery | undefined = undefined;
  /** Put in the bookkeeping before a delivery received earlier (a redelivery, or unseen). */
  late = false;

  constructor(readonly msg: JsMsg, private readonly acks: CumulativeAcks) {
    this.data = msg.data;
    this.subject = msg.subject;
    const at = deliveryOf(msg);
    this.seq = at.seq;
    this.dseq = at.dseq;
    this.redelivered = at.count > 1;
  }

  get msgId(): string | undefined {
    return msgIdOf(this.msg);
  }

  ack(): void {
    this.acks.settle(this);
  }

  nak(delayMs: number): void {
    this.acks.nak(this, delayMs);
  }

  /** Parked in the store with the batch: settled like an ack (a +TERM would ack all below it). */
  term(): void {
    this.acks.settle(this);
  }

  flushAcks(): void {
    this.acks.flushScheduled();
  }
}

/** The connected server's version is at least major.minor (false when unknown). */
function serverAtLeast(nc: NatsConnection, major: number, minor: number): boolean {
  const m = /^(\d+)\.(\d+)/.exec(nc.info?.version ?? '');
  if (!m) return false;
  const [maj, min] = [Number(m[1]), Number(m[2])];
  return maj > major || (maj === major && min >= minor);
}

function isApiError(err: unknown, code: number): boolean {
  return err instanceof JetStreamApiError && err.code === code;
}

/** Update fan-out on core NATS: at most once, no persistence, nothing waits for the server. */
export function natsUpdateSink(nc: NatsConnection): UpdateSink {
  return {
    publish(subject, payload) {
      if (!nc.isClosed()) nc.publish(subject, payload);
    },
    get maxPayload() {
      return nc.info?.max_payload;
    },
    async close() {
      if (!nc.isClosed()) await nc.flush().catch(() => undefined);
    },
  };
}

export interface OutboundMessage {
  subject: string;
  data: Uint8Array;
  /** Sent as `Nats-Msg-Id`: a repeat within the stream's duplicate window is stored once. */
  msgId?: string;
}

export interface PublishAllResult {
  /** Messages acked by the stream, duplicates included. */
  acked: number;
  /** Of those, the ones the stream dropped as duplicates of an earlier `Nats-Msg-Id`. */
  duplicates: number;
}

/**
 * Publishes every message to JetStream with at most `window` (default 1000) acks outstanding, and
 * returns when all are acked. The first failure (an error ack, no stream on a subject, no ack for
 * `timeoutMs`, default 10 s) stops the publishing and is thrown once the outstanding acks settle.
 *
 * This is `js.publish` without its per-message cost (a timer, and an Error built for every
 * completed request): plain publishes with a reply subject on one wildcard inbox, whose PubAcks
 * are parsed here. About twice the rate of a window of `js.publish` calls.
 */
export async function publishAll(
  nc: NatsConnection,
  messages: Iterable<OutboundMessage>,
  opts: { window?: number; timeoutMs?: number } = {},
): Promise<PublishAllResult> {
  const window = Math.max(1, opts.window ?? 1000);
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const inbox = createInbox();
  const outstanding = new Set<number>();
  let acked = 0;
  let duplicates = 0;
  let failure: Error | undefined;
  let lastAck = Date.now();
  let wake: (() => void) | undefined;
  const fail = (err: Error): void => {
    failure ??= err;
    outstanding.clear(); // nothing more to wait for
  };
  const notify = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };

  const sub = nc.subscribe(`${inbox}.*`, {
    callback: (err, msg) => {
      if (err !== null) {
        fail(err);
      } else if (outstanding.delete(Number(msg.subject.slice(inbox.length + 1)))) {
        lastAck = Date.now();
        const ack = parsePubAck(msg.data, msg.headers?.code ?? 0);
        if (ack instanceof Error) fail(ack);
        else {
          acked++;
          if (ack.duplicate) duplicates++;
        }
      }
      notify();
    },
  });
  const watchdog = setInterval(() => {
    if (outstanding.size > 0 && Date.now() - lastAck > timeoutMs) {
      fail(new Error(`publishAll: no JetStream ack for ${timeoutMs} ms (${outstanding.size} outstanding)`));
      notify();
    }
  }, Math.min(1000, timeoutMs));
  const settled = (max: number): Promise<void> | undefined =>
    outstanding.size > max && failure === undefined ? new Promise((resolve) => { wake = resolve; }) : undefined;

  try {
    let i = 0;
    for (const m of messages) {
      // a full window refills when half of it is acked: publishes go out in bursts, not one per ack
      if (outstanding.size >= window) {
        for (let w = settled(window >> 1); w !== undefined; w = settled(window >> 1)) await w;
      }
      if (failure !== undefined) break;
      lastAck = outstanding.size === 0 ? Date.now() : lastAck;
      outstanding.add(i);
      let h: MsgHdrs | undefined;
      if (m.msgId !== undefined) {
        h = headers();
        h.set('Nats-Msg-Id', m.msgId);
      }
      nc.publish(m.subject, m.data, { reply: `${inbox}.${i}`, ...(h !== undefined ? { headers: h } : {}) });
      i++;
    }
    for (let w = settled(0); w !== undefined; w = settled(0)) await w;
  } finally {
    clearInterval(watchdog);
    sub.unsubscribe();
  }
  if (failure !== undefined) throw failure;
  return { acked, duplicates };
}

/** A JetStream PubAck (`{"stream":..,"seq":..,"duplicate":true}` or `{"error":{..}}`), or the failure. */
function parsePubAck(data: Uint8Array, statusCode: number): { duplicate: boolean } | Error {
  if (statusCode === 503) return new Error('publishAll: no stream takes this subject (503 no responders)');
  try {
    const ack = JSON.parse(textDecoder.decode(data)) as { stream?: string; duplicate?: boolean; error?: { description?: string } };
    if (ack.error !== undefined) return new Error(`publishAll: ${ack.error.description ?? 'JetStream error'}`);
    if (typeof ack.stream !== 'string') return new Error('publishAll: invalid ack');
    return { duplicate: ack.duplicate === true };
  } catch {
    return new Error(`publishAll: invalid ack (status ${statusCode})`);
  }
}

const textDecoder = new TextDecoder();
