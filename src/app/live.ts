/**
 * The live hub: the WebSocket protocol (docs/api.md "WebSocket") without the transport. Each
 * connection is a `LiveSession` over a `LivePeer` (send text, buffered bytes, ping, close), so the
 * protocol is the same whatever carries it; `src/adapters/http/ws.ts` plugs in `ws` sockets.
 *
 * Invariants:
 * - per (session, book) the first message is a `snapshot` (every position), then `delta`s whose
 *   `prevSeq` is the `seq` of the message sent before for that book and whose `positions` are
 *   those new or different since it (`removed`: those gone): a client whose last `seq` differs
 *   has missed one and asks for a `resync`;
 * - `seq` never goes back for a (session, book): an update not newer than what was sent is dropped;
 * - at most one message per book per `minIntervalMs` per session: the service's updates in
 *   between are merged (the latest report of each position; a position gone and back is changed);
 * - a book the session's visibility refuses is never named in anything sent to it;
 * - memory per session is bounded: at most one pending report per position of a subscribed book, and a peer whose
 *   unsent bytes pass `maxBufferedBytes` is closed (1013) instead of buffered further.
 */
import type { BookSummary, PositionReport, Report, ReportOptions } from '../domain/report.js';
import { isName } from '../domain/validate.js';
import { MergedDiff } from './book-diff.js';
import type { BookUpdate } from './service.js';

/** What the hub reads from the service (a `Service` is one). */
export interface LiveState {
  report(options: ReportOptions): Report;
  readonly stats: { readonly lastSeq: number };
  readonly ledger: { bookNames(): string[] };
}

/** One connection as the hub sees it. */
export interface LivePeer {
  send(text: string): void;
  /** Bytes accepted by `send` and not yet handed to the network. */
  bufferedBytes(): number;
  /** A transport-level ping; the adapter calls `session.alive()` when the pong comes. */
  ping(): void;
  close(code: number, reason: string): void;
}

/** Which books a connection may see (from the API key; everything without authentication). */
export interface Visibility {
  canSee(book: string): boolean;
}

export const SEE_ALL: Visibility = { canSee: () => true };

export interface LiveOptions {
  /** A book's messages to one session: at most one per this many ms (10 per second). */
  readonly minIntervalMs: number;
  /** A heartbeat to every session this often; a session silent since the previous one is closed. */
  readonly heartbeatMs: number;
  /** A session whose peer holds more unsent bytes than this is dropped (1013). */
  readonly maxBufferedBytes: number;
  /** Bad frames a session may send before it is closed (1008). */
  readonly maxBadFrames: number;
  /** Books named in one frame at most. */
  readonly maxBooksPerFrame: number;
  /** Sessions at most; one more is closed at once (1013). */
  readonly maxSessions: number;
}

export const DEFAULT_LIVE: LiveOptions = {
  minIntervalMs: 100,
  heartbeatMs: 15_000,
  maxBufferedBytes: 4 * 1024 * 1024,
  maxBadFrames: 10,
  maxBooksPerFrame: 1000,
  maxSessions: 1000,
};

/** Close codes the hub uses (RFC 6455 and the private range). */
export const CLOSE = { badData: 1003, policy: 1008, tryAgainLater: 1013, heartbeat: 4408 } as const;

export interface LiveStats {
  sessions: number;
  opened: number;
  droppedSlow: number;
  droppedSilent: number;
  closedAbuse: number;
  messages: number;
}

type Obj = Record<string, unknown>;

interface Pending {
  seq: number;
  at: string;
  summary: BookSummary | undefined;
  readonly diff: MergedDiff;
}

/** A book's state as one session last saw it. */
interface Sent {
  seq: number;
  atMs: number;
  /** The updates not sent yet, merged: the newest's seq, time and summary, and every change since `seq`. */
  pending: Pending | undefined;
  /** A resync asked for within the book's interval: one snapshot when the interval has passed. */
  resync?: boolean;
}

export class LiveHub {
  readonly stats: LiveStats = { sessions: 0, opened: 0, droppedSlow: 0, droppedSilent: 0, closedAbuse: 0, messages: 0 };
  readonly options: LiveOptions;
  private readonly sessions = new Set<LiveSession>();
  private heartbeat: NodeJS.Timeout | undefined;

  constructor(
    readonly state: LiveState,
    options: Partial<LiveOptions> = {},
    readonly clock: () => number = Date.now,
  ) {
    this.options = { ...DEFAULT_LIVE, ...options };
  }

  /** A new connection; undefined when the hub is full (the peer is closed then). */
  open(peer: LivePeer, visibility: Visibility = SEE_ALL): LiveSession | undefined {
    if (this.sessions.size >= this.options.maxSessions) {
      peer.close(CLOSE.tryAgainLater, 'too many connections');
      return undefined;
    }
    const s = new LiveSession(this, peer, visibility);
    this.sessions.add(s);
    this.stats.sessions = this.sessions.size;
    this.stats.opened++;
    this.heartbeat ??= setInterval(() => this.beat(), this.options.heartbeatMs).unref();
    return s;
  }

  /** The service's update of one book (`Service.onUpdate`): offered to each session that follows it. */
  publish(update: BookUpdate): void {
    if (this.sessions.size === 0) return;
    for (const s of this.sessions) s.offer(update);
  }

  /** Closes every session and stops the heartbeat. */
  close(): void {
    for (const s of [...this.sessions]) s.end(1001, 'server shutting down');
    this.stopHeartbeat();
  }

  /** @internal */
  forget(s: LiveSession): void {
    this.sessions.delete(s);
    this.stats.sessions = this.sessions.size;
    if (this.sessions.size === 0) this.stopHeartbeat();
  }

  private stopHeartbeat(): void {
    if (this.heartbeat !== undefined) clearInterval(this.heartbeat);
    this.heartbeat = undefined;
  }

  private beat(): void {
    const text = JSON.stringify({ type: 'heartbeat', at: new Date(this.clock()).toISOString(), seq: this.state.stats.lastSeq });
    for (const s of [...this.sessions]) s.beat(text);
  }
}

/** Each position's JSON, kept beside its (immutable) report: every session sends the same text. */
const textOf = new WeakMap<PositionReport, string>();

/** `JSON.stringify(positions)`, byte for byte, from each position's kept text. */
function positionsJson(positions: readonly PositionReport[]): string {
  const parts: string[] = [];
  for (const p of positions) {
    let t = textOf.get(p);
    if (t === undefined) {
      t = JSON.stringify(p);
      textOf.set(p, t);
    }
    parts.push(t);
  }
  return `[${parts.join(',')}]`;
}

/** `"at":…,"summary":…,"positions":…}`: the part of a snapshot shared by every session. */
function updateTail(u: { at: string; summary: BookSummary | undefined; positions: readonly PositionReport[] }): string {
  return `"at":${JSON.stringify(u.at)},"summary":${JSON.stringify(u.summary ?? null)},"positions":${positionsJson(u.positions)}}`;
}

export class LiveSession {
  /** Books followed, with what was last sent of each. */
  private readonly books = new Map<string, Sent>();
  /** Subscribed to `"*"`: every book the session may see, new ones included. */
  private all = false;
  private badFrames = 0;
  private heard = true;
  private closed = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly hub: LiveHub,
    private readonly peer: LivePeer,
    private readonly visibility: Visibility,
  ) {}

  /** The peer answered a ping (or sent anything). */
  alive(): void {
    this.heard = true;
  }

  /** One text frame from the client. */
  receive(text: string): void {
    this.heard = true;
    if (this.closed) return;
    let msg: unknown;
    try {
      msg = JSON.parse(text);
    } catch {
      this.bad('BAD_JSON', 'the frame is not JSON');
      return;
    }
    if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) return this.bad('BAD_FRAME', 'expected a JSON object with an "op"');
    const m = msg as Obj;
    switch (m.op) {
      case 'subscribe':
      case 'unsubscribe': {
        const books = this.booksOf(m.books);
        if (books === undefined) return;
        if (m.op === 'subscribe') this.subscribe(books);
        else this.unsubscribe(books);
        return;
      }
      case 'resync': {
        if (typeof m.book !== 'string' || !isName(m.book)) return this.bad('BAD_BOOKS', '"book": expected a book name');
        return this.resync(m.book);
      }
      case 'ping':
        return this.send(JSON.stringify({ type: 'pong', at: new Date(this.hub.clock()).toISOString(), seq: this.hub.state.stats.lastSeq }));
      default:
        return this.bad('UNKNOWN_OP', '"op": expected "subscribe", "unsubscribe", "resync" or "ping"');
    }
  }

  /** A binary frame: the protocol is text only. */
  receiveBinary(): void {
    this.heard = true;
    this.bad('BAD_FRAME', 'binary frames are not part of the protocol: send JSON text');
  }

  /** The transport closed (either side). */
  closedByPeer(): void {
    this.closed = true;
    this.clearTimer();
    this.hub.forget(this);
  }

  /** Closes the session from this side. */
  end(code: number, reason: string): void {
    if (this.closed) return;
    this.closedByPeer();
    this.peer.close(code, reason);
  }

  /** @internal the hub's heartbeat tick. */
  beat(text: string): void {
    if (!this.heard) {
      this.hub.stats.droppedSilent++;
      this.end(CLOSE.heartbeat, 'no answer to heartbeat');
      return;
    }
    this.heard = false;
    this.peer.ping();
    this.send(text);
  }

  /**
   * @internal an update from the service, merged into what this session is sent. Its changes are
   * since the service's previous update of the book (`prevSeq`), which every session was offered
   * too: merged onto what the session was sent (a snapshot at or after it, or earlier updates),
   * they are every change since. A gap (the service's chain broken) makes a snapshot.
   */
  offer(u: BookUpdate): void {
    if (this.closed) return;
    const sent = this.books.get(u.book);
    if (sent === undefined) {
      if (!this.all || !this.visibility.canSee(u.book)) return;
      // A book born after a `"*"` subscription: its first message is a snapshot.
      this.books.set(u.book, { seq: u.seq, atMs: this.hub.clock(), pending: undefined });
      this.send(`{"type":"snapshot","book":${JSON.stringify(u.book)},"seq":${u.seq},${updateTail(u)}`);
      return;
    }
    if (u.seq <= sent.seq) return;
    // The session holds the state at `covered`: this update's changes start at `u.prevSeq`.
    const covered = sent.pending?.seq ?? sent.seq;
    if (u.prevSeq > covered) {
      sent.pending = undefined;
      sent.resync = true;
      this.schedule();
      return;
    }
    const pending = sent.pending ?? { seq: u.seq, at: u.at, summary: u.summary, diff: new MergedDiff() };
    pending.seq = u.seq;
    pending.at = u.at;
    pending.summary = u.summary;
    pending.diff.add(u);
    sent.pending = pending;
    if (sent.resync !== true && this.hub.clock() - sent.atMs >= this.hub.options.minIntervalMs) {
      this.delta(u.book, sent, pending);
      return;
    }
    this.schedule();
  }

  private delta(book: string, sent: Sent, p: Pending): void {
    const prev = sent.seq;
    sent.seq = p.seq;
    sent.atMs = this.hub.clock();
    sent.pending = undefined;
    const { changed, removed } = p.diff.diff();
    this.send(
      `{"type":"delta","book":${JSON.stringify(book)},"seq":${p.seq},"prevSeq":${prev},"at":${JSON.stringify(p.at)},"summary":${JSON.stringify(p.summary ?? null)},"removed":${JSON.stringify(removed)},"positions":${positionsJson(changed)}}`,
    );
  }

  /** One timer per session: fires when the earliest pending book may be sent. */
  private schedule(): void {
    if (this.timer !== undefined) return;
    let due = Number.POSITIVE_INFINITY;
    for (const s of this.books.values()) if (s.pending !== undefined || s.resync === true) due = Math.min(due, s.atMs + this.hub.options.minIntervalMs);
    if (due === Number.POSITIVE_INFINITY) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush();
    }, Math.max(0, due - this.hub.clock()));
  }

  private flush(): void {
    const now = this.hub.clock();
    const resyncs: string[] = [];
    for (const [book, s] of this.books) {
      if (this.closed) return;
      if (now - s.atMs < this.hub.options.minIntervalMs) continue;
      // A snapshot replaces any pending delta: it is the book's whole state.
      if (s.resync === true) resyncs.push(book);
      else if (s.pending !== undefined) this.delta(book, s, s.pending);
    }
    this.snapshots(resyncs);
    this.schedule();
  }

  private clearTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** `"*"`, or a list of book names (each checked): undefined after answering with an error. */
  private booksOf(v: unknown): '*' | string[] | undefined {
    if (v === '*') return '*';
    const max = this.hub.options.maxBooksPerFrame;
    if (!Array.isArray(v) || v.length === 0 || v.length > max || !v.every((b) => typeof b === 'string' && isName(b))) {
      this.bad('BAD_BOOKS', `"books": expected "*" or an array of 1 to ${max} book names`);
      return undefined;
    }
    return [...new Set(v as string[])];
  }

  private subscribe(books: '*' | string[]): void {
    let fresh: string[];
    if (books === '*') {
      this.all = true;
      fresh = this.hub.state.ledger.bookNames().filter((b) => this.visibility.canSee(b) && !this.books.has(b));
    } else {
      const hidden = books.filter((b) => !this.visibility.canSee(b)).length;
      // Never the names: whether a hidden book exists is not for this session to learn.
      if (hidden > 0) this.error('BOOK_NOT_VISIBLE', `${hidden} of the books asked for ${hidden === 1 ? 'is' : 'are'} not visible to this key`);
      fresh = books.filter((b) => this.visibility.canSee(b) && !this.books.has(b));
    }
    this.snapshots(fresh);
  }

  private unsubscribe(books: '*' | string[]): void {
    const gone = books === '*' ? [...this.books.keys()] : books.filter((b) => this.books.has(b));
    if (books === '*') this.all = false;
    for (const b of gone) this.books.delete(b);
    this.send(JSON.stringify({ type: 'unsubscribed', books: gone }));
  }

  private resync(book: string): void {
    if (!this.visibility.canSee(book) || (!this.books.has(book) && !this.all)) {
      this.error('NOT_SUBSCRIBED', 'resync: the book is not subscribed on this connection');
      return;
    }
    // A resync is a snapshot, and snapshots cost a valuation of the book: like deltas, at most one
    // message per book per interval. Asked again sooner, it is sent when the interval has passed
    // (however many were asked); a client in a resync loop costs no more than a live book.
    const sent = this.books.get(book);
    if (sent !== undefined && this.hub.clock() - sent.atMs < this.hub.options.minIntervalMs) {
      sent.resync = true;
      this.schedule();
      return;
    }
    this.snapshots([book]);
  }

  /** A snapshot of each book (one valuation for all of them), which then starts its deltas. */
  private snapshots(books: readonly string[]): void {
    if (books.length === 0 || this.closed) return;
    const seq = this.hub.state.stats.lastSeq;
    const report = this.hub.state.report({ books });
    const at = new Date(this.hub.clock()).toISOString();
    const now = this.hub.clock();
    for (const book of books) {
      const positions = report.positions.filter((p) => p.book === book);
      const summary = report.books.find((b) => b.book === book);
      this.books.set(book, { seq, atMs: now, pending: undefined });
      this.send(`{"type":"snapshot","book":${JSON.stringify(book)},"seq":${seq},${updateTail({ at, summary, positions })}`);
    }
  }

  private error(code: string, message: string): void {
    this.send(JSON.stringify({ type: 'error', code, message }));
  }

  private bad(code: string, message: string): void {
    this.error(code, message);
    if (++this.badFrames > this.hub.options.maxBadFrames) {
      this.hub.stats.closedAbuse++;
      this.end(CLOSE.policy, 'too many bad frames');
    }
  }

  /** Every message goes out here: a peer that does not keep up is dropped, not buffered for. */
  private send(text: string): void {
    if (this.closed) return;
    if (this.peer.bufferedBytes() > this.hub.options.maxBufferedBytes) {
      this.hub.stats.droppedSlow++;
      this.end(CLOSE.tryAgainLater, 'slow consumer: too many bytes unsent');
      return;
    }
    this.hub.stats.messages++;
    this.peer.send(text);
  }
}
