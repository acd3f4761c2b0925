/**
 * The ports of the real-time service (`utl start`): what the application layer needs from storage
 * and messaging, so that PostgreSQL (a server, or the embedded one) and NATS JetStream (or the
 * in-process bus) are adapters plugged in at start. Nothing here does I/O itself.
 */

/** A SQL connection pool: PostgreSQL through `pg`, or the embedded PGlite (src/adapters/pg). */
export interface Sql {
  readonly kind: 'postgres' | 'pglite';
  /**
   * One parameterised statement. Column values come back as `pg` gives them with its default
   * parsers: text as string, int2/int4 as number, int8 and numeric as string (never a JS number
   * for money), bool as boolean, bytea as Buffer. Do not select timestamptz or json directly.
   */
  query<R = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<{ rows: R[]; rowCount: number }>;
  /** Several statements in one string, no parameters (migrations). */
  exec(text: string): Promise<void>;
  /** Runs `fn` in one transaction on one connection: committed when it resolves, rolled back when it throws. */
  transaction<T>(fn: (tx: SqlTx) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export type SqlTx = Pick<Sql, 'query' | 'exec'>;

/** One inbound message, from JetStream or the in-process bus. */
export interface Delivery {
  readonly data: Uint8Array;
  readonly subject: string;
  /** The stream sequence (JetStream) or the bus's own counter: increasing per source. */
  readonly seq: number;
  /** The publisher's `Nats-Msg-Id` header, when it set one. */
  readonly msgId: string | undefined;
  /** Delivered before and not acknowledged (the broker's count > 1). */
  readonly redelivered: boolean;
  /** Done: only after the message's effects are committed in PostgreSQL. */
  ack(): void;
  /** Not done now, redeliver after `delayMs` (a transient fault). */
  nak(delayMs: number): void;
  /** Never redeliver (a poison message, already parked in PostgreSQL). */
  term(reason: string): void;
  /**
   * Sends the acknowledgement that what is settled so far allows now, instead of at the end of
   * this turn of the event loop (a source that defers its acks to send fewer): with whatever else
   * this run sent to the broker, in one write.
   */
  flushAcks?(): void;
}

/** Where inbound events come from: a durable consumer that survives restarts. */
export interface EventSource {
  /**
   * The deliveries, in order, until `close()`. The source keeps a bounded number of messages
   * in flight; a consumer that stops iterating stops the flow (backpressure).
   */
  deliveries(): AsyncIterable<Delivery>;
  /** Messages in the stream not yet delivered to this consumer (lag), when known. */
  pending(): Promise<number | undefined>;
  close(): Promise<void>;
}

/** Where position/PnL updates go out (`utl.updates.<book>`). Fire and forget. */
export interface UpdateSink {
  publish(subject: string, payload: Uint8Array): void;
  /** The largest payload the sink takes (bytes), when it has a limit (NATS: the server's max_payload). */
  readonly maxPayload?: number | undefined;
  close(): Promise<void>;
}
