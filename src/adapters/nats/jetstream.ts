/**
 * NATS JetStream adapters of the service's messaging ports (src/app/ports.ts), on the v3 client
 * (@nats-io/transport-node, @nats-io/jetstream):
 * - `connectNats`: a connection that reconnects forever, so a NATS restart mid-stream is survived;
 * - `ensureEventStream`: the events stream (file storage, limits retention, Nats-Msg-Id dedup window);
 * - `jetStreamSource`: an `EventSource` on a durable pull consumer (explicit ack), through
 *   `consumer.consume()`, which re-pulls by itself after a reconnect or missed heartbeats; acks
 *   go out batched once per event-loop turn;
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
import type { ConsumerConfig, ConsumerMessages, JetStreamManager, JsMsg } from '@nats-io/jetstream';
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
   * The client's notifications on the consumer, except its routine `next` and `heartbeat` ones:
   * `heartbeats_missed`, `consumer_not_found`, `consumer_deleted`, `stream_not_found`, `no_responders`, ...
   */
  onStatus?: (event: { type: string }) => void;
}

/**
 * An `EventSource` on a durable pull consumer, created or updated here (explicit ack, deliver all).
 * Each `deliveries()` iteration runs its own `consume()`; the client buffers at most one pull
 * batch, re-pulls only as the iteration advances, and the server stops at `maxInFlight` unacked.
 * If the consumer or the stream disappears, the client keeps trying (`consumer_not_found`,
 * `stream_not_found` through `onStatus`) and resumes once they are back.
 *
 * `close()` stops pulling and flushes the acks; the iteration ends at its next step, nak-ing what
 * the client still buffered so that it comes again at once. Messages the server sent while the
 * client was unsubscribing, or still buffered by an iteration the caller broke out of, come again
 * after the ack wait.
 */
export async function jetStreamSource(nc: NatsConnection, opts: JetStreamSourceOptions): Promise<EventSource> {
  const maxInFlight = opts.maxInFlight ?? 10_000;
  const batch = Math.max(1, Math.min(opts.batch ?? 1000, maxInFlight));
  const config: DurableConfig = {
    durable_name: opts.consumer,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    max_ack_pending: maxInFlight,
    ack_wait: (opts.ackWaitMs ?? 30_000) * NS_PER_MS,
    ...(opts.filterSubject !== undefined ? { filter_subject: opts.filterSubject } : {}),
  };
  const jsm = await jetstreamManager(nc);
  await ensureConsumer(jsm, opts.stream, config);
  const consumer = await jetstream(nc).consumers.get(opts.stream, opts.consumer);

  const active = new Set<ConsumerMessages>();
  const acks = new AckBatcher();
  let closed = false;
  const watch = async (messages: ConsumerMessages, onStatus: (event: { type: string }) => void): Promise<void> => {
    for await (const event of messages.status()) {
      if (event.type !== 'next' && event.type !== 'heartbeat') onStatus(event);
    }
  };

  async function* deliveries(): AsyncGenerator<Delivery> {
    if (closed) return;
    const messages = await consumer.consume({ max_messages: batch });
    active.add(messages);
    if (opts.onStatus) watch(messages, opts.onStatus).catch(() => undefined); // ends with the messages
    try {
      for await (const msg of messages) {
        // after close(), what the client still holds goes back at once instead of after the ack wait
        if (closed) msg.nak();
        else yield new JsDelivery(msg, nc, acks);
      }
    } finally {
      active.delete(messages);
      void messages.close(); // when the caller broke out of its loop
    }
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
      // stops pulling at once; an iteration in progress ends at its next step (not awaited here,
      // so close() may be called from inside the loop body)
      for (const messages of active) void messages.close();
      if (!nc.isClosed()) await nc.flush().catch(() => undefined);
    },
  };
}

type DurableConfig = Partial<ConsumerConfig> & { durable_name: string };

async function ensureConsumer(
  jsm: JetStreamManager,
  stream: string,
  config: DurableConfig,
): Promise<void> {
  const exists = await jsm.consumers.info(stream, config.durable_name).then(
    () => true,
    (err: unknown) => {
      if (isApiError(err, JetStreamApiCodes.ConsumerNotFound)) return false;
      throw err;
    },
  );
  if (exists) {
    const { max_ack_pending, ack_wait, filter_subject } = config;
    await jsm.consumers.update(stream, config.durable_name, {
      max_ack_pending,
      ack_wait,
      ...(filter_subject !== undefined ? { filter_subject } : {}),
    });
  } else {
    await jsm.consumers.add(stream, config);
  }
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
  readonly msgId: string | undefined;
  readonly redelivered: boolean;

  constructor(private readonly msg: JsMsg, private readonly nc: NatsConnection, private readonly acks: AckBatcher) {
    this.data = msg.data;
    this.subject = msg.subject;
    this.seq = msg.seq;
    const id = msg.headers?.get('Nats-Msg-Id');
    this.msgId = id === undefined || id === '' ? undefined : id;
    this.redelivered = msg.redelivered;
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
