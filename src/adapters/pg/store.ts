/**
 * The book of record in PostgreSQL (a server, or the embedded PGlite): the event log with its
 * idempotency keys, rejections, consumer positions, checkpoints, book bases and balances.
 *
 * - `commit` writes one batch in one transaction: new events (by id: a repeat with the same
 *   content is a duplicate, with other content a DUPLICATE_CONFLICT rejection), every rejection
 *   with its raw bytes, the venue-reported balances, the consumer's position, and an HTTP
 *   idempotency answer. Nothing is acknowledged to a broker before this commits.
 * - As a `HistoryStore` it answers from the events with seq <= `horizon`: the ones already
 *   submitted to the ledger (history.ts says why).
 */
import type { HistoryStore } from '../../app/history.js';
import type { Sql, SqlTx } from '../../app/ports.js';
import type { BookState } from '../../domain/book.js';
import { describeIssues, type RejectCode } from '../../domain/errors.js';
import { isBookEvent, type LedgerEvent, type TsUs } from '../../domain/events.js';
import type { InstrumentRegistry } from '../../domain/instrument.js';
import { contentText, type BookBase } from '../../domain/ledger.js';
import type { Key } from '../../domain/marks.js';
import { restoreBook, snapshotBalances, snapshotBook, type BookSnapshot } from '../../domain/snapshot.js';
import { formatTimestamp } from '../../domain/time.js';
import { decodeTradeLine } from '../../domain/tradeline.js';
import { validateEvent } from '../../domain/validate.js';
import { migrate } from './migrations.js';

/** One valid event to commit, with the text it is stored as and where it came from. */
export interface Incoming {
  readonly event: LedgerEvent;
  /** The event as canonical JSON text (what `decodeStored` reads back). */
  readonly payload: string;
  /**
   * `payload` as UTF-8, when the source handed over exactly those bytes (a broker message): they
   * are sent to PostgreSQL as they are, with no string to encode again.
   */
  readonly bytes?: Uint8Array | undefined;
  /** Where it came from: `nats`, `http`, `file`… */
  readonly source: string;
  /** Where in the source: a subject and stream sequence, an HTTP request and index… */
  readonly ref: string | null;
}

export interface Rejection {
  readonly source: string;
  readonly ref: string | null;
  readonly id: string | null;
  readonly code: RejectCode;
  readonly message: string;
  readonly raw: Uint8Array | string;
}

export type Outcome =
  | { readonly kind: 'new'; readonly seq: number }
  | { readonly kind: 'duplicate' }
  | { readonly kind: 'conflict'; readonly message: string };

export interface CommitBatch {
  readonly events: readonly Incoming[];
  readonly rejected: readonly Rejection[];
  /** The inbound consumer's position after this batch (e.g. the last stream sequence). */
  readonly consumer?: { readonly name: string; readonly position: number };
  /** An HTTP request's Idempotency-Key: its answer, made from the outcomes, is stored with the batch. */
  readonly idempotency?: {
    readonly key: string;
    readonly request: string;
    readonly answer: (outcomes: readonly Outcome[]) => { status: number; body: string };
  };
}

export interface StoredEvent {
  readonly seq: number;
  readonly source: string;
  readonly payload: string;
}

export interface CheckpointBook {
  readonly book: string;
  readonly last: Key | undefined;
  readonly consulted: readonly string[];
  readonly state: BookState;
}

/** A checkpoint's book with its state serialized: `JSON.stringify(snapshotBook(state))` and its `snapshotBalances`. */
export interface SerializedCheckpointBook {
  readonly book: string;
  readonly last: Key | undefined;
  readonly consulted: readonly string[];
  readonly state: string;
  readonly balances: BookSnapshot['balances'];
}

export interface Checkpoint {
  readonly seq: number;
  readonly ledger: string;
  readonly books: { book: string; last: Key | undefined; consulted: string[]; state: BookSnapshot }[];
}

/** Decodes a stored payload (it was valid when stored; the registry holds the terms it used). */
export function decodeStored(payload: string, instruments: InstrumentRegistry): LedgerEvent {
  const trade = decodeTradeLine(payload, instruments);
  if (trade !== undefined) return trade;
  const v = validateEvent(JSON.parse(payload), instruments);
  if (!v.ok) throw new Error(`${describeIssues('stored event', v.issues)}: ${payload.slice(0, 200)}`);
  return v.event;
}

export class PgStore implements HistoryStore {
  /** The highest seq submitted to the ledger: history answers from events up to it. */
  horizon = 0;
  private readonly partitions = new Set<string>();

  constructor(
    readonly sql: Sql,
    /** The registry stored events are decoded with: the ledger's. */
    public instruments: InstrumentRegistry,
  ) {}

  migrate(): Promise<number[]> {
    return migrate(this.sql);
  }

  // ---- writing ----

  async commit(batch: CommitBatch): Promise<{ outcomes: Outcome[]; answer?: { status: number; body: string } }> {
    // Each id once, in order: `uniq` gives its place in `unique`, `firstAt` the batch's index of it.
    const uniq = new Map<string, number>();
    const unique: Incoming[] = [];
    const firstAt: number[] = [];
    for (let i = 0; i < batch.events.length; i++) {
      const x = batch.events[i]!;
      if (!uniq.has(x.event.id)) {
        uniq.set(x.event.id, unique.length);
        firstAt.push(i);
        unique.push(x);
      }
    }
    const dedup = { uniq, firstAt };
    // The common batch (fills, marks, rejections) is ONE statement: atomic on its own, and one
    // round trip. An HTTP idempotency answer, venue balances or a new month's partition need the
    // transaction, whose steps depend on each other.
    const fast = batch.idempotency === undefined && !unique.some((x) => x.event.type === 'balance') && this.missingPartitions(unique).length === 0;
    if (fast) {
      const { rows } = await this.sql.query<KeysRow>(INSERT_FAST, [...eventParams(unique), ...rejectedParams(batch.rejected), batch.consumer?.name ?? null, batch.consumer?.position ?? null]);
      const judged = await this.judge(batch, dedup, seqsOf(rows[0]!, unique.length), this.sql);
      // Refused repeats are kept by their own statement: a crash before it leaves the batch
      // unacknowledged, and its redelivery finds the repeat again.
      if (judged.conflicts.length > 0) await insertRejected(this.sql, judged.conflicts);
      return { outcomes: judged.outcomes };
    }
    const created: string[] = [];
    const result = await this.sql.transaction(async (tx) => {
      for (const { name, from, to } of this.missingPartitions(unique)) {
        // DDL takes no bind parameters: the name and bounds are built from integers (year,
        // month), and asserted so before they are spliced in (sql-params.unit.test.ts).
        if (!/^utl_events_\d{4}_\d{2}$/.test(name) || ![from, to].every((t) => /^\d{4}-\d{2}-01T00:00:00\.000Z$/.test(t))) throw new Error(`bad partition ${name} ${from} ${to}`);
        await tx.exec(`CREATE TABLE IF NOT EXISTS ${name} PARTITION OF utl_events FOR VALUES FROM ('${from}') TO ('${to}')`);
        created.push(name);
      }
      let seqs: (number | undefined)[] = [];
      if (unique.length > 0) {
        const { rows } = await tx.query<KeysRow>(INSERT_EVENTS, eventParams(unique));
        seqs = seqsOf(rows[0]!, unique.length);
      }
      const { outcomes, conflicts } = await this.judge(batch, dedup, seqs, tx);
      const rejected = [...batch.rejected, ...conflicts];
      if (rejected.length > 0) await insertRejected(tx, rejected);
      const balances = batch.events.filter((x, i) => x.event.type === 'balance' && outcomes[i]!.kind === 'new');
      if (balances.length > 0) await insertVenueBalances(tx, balances.map((x) => x.event));
      if (batch.consumer !== undefined) {
        await tx.query(
          `INSERT INTO utl_consumers (name, position) VALUES ($1, $2)
           ON CONFLICT (name) DO UPDATE SET position = GREATEST(utl_consumers.position, EXCLUDED.position), updated_at = now()`,
          [batch.consumer.name, batch.consumer.position],
        );
      }
      let answer: { status: number; body: string } | undefined;
      if (batch.idempotency !== undefined) {
        answer = batch.idempotency.answer(outcomes);
        await tx.query('INSERT INTO utl_idempotency (key, request, status, response) VALUES ($1, $2, $3, $4)', [batch.idempotency.key, batch.idempotency.request, answer.status, answer.body]);
      }
      return answer === undefined ? { outcomes } : { outcomes, answer };
    });
    for (const name of created) this.partitions.add(name); // only once they are committed
    return result;
  }

  /** Each input's outcome: new (with its seq), or a repeat that is a duplicate or a conflict. */
  private async judge(batch: CommitBatch, dedup: { uniq: ReadonlyMap<string, number>; firstAt: readonly number[] }, seqs: readonly (number | undefined)[], q: SqlTx): Promise<{ outcomes: Outcome[]; conflicts: Rejection[] }> {
    const { uniq, firstAt } = dedup;
    // Repeats of events stored before: rare, so their content is fetched only then.
    const stored = new Map<string, string>();
    const repeats: string[] = [];
    for (let u = 0; u < firstAt.length; u++) if (seqs[u] === undefined) repeats.push(batch.events[firstAt[u]!]!.event.id);
    if (repeats.length > 0) for (const e of await this.eventsById(repeats, q)) stored.set(e.id, contentText(e));
    const outcomes: Outcome[] = [];
    const conflicts: Rejection[] = [];
    for (let i = 0; i < batch.events.length; i++) {
      const x = batch.events[i]!;
      const id = x.event.id;
      const u = uniq.get(id)!;
      const seq = seqs[u];
      const firstHere = firstAt[u] === i;
      let o: Outcome;
      if (firstHere && seq !== undefined) o = { kind: 'new', seq };
      else {
        // A repeat: of an event stored before, or of one earlier in this batch.
        const theirs = firstHere ? stored.get(id) : contentText(batch.events[firstAt[u]!]!.event);
        o = contentText(x.event) === theirs ? { kind: 'duplicate' } : { kind: 'conflict', message: `${x.event.type} ${id}: id already used by an event with different content` };
      }
      if (o.kind === 'conflict') conflicts.push({ source: x.source, ref: x.ref, id, code: 'DUPLICATE_CONFLICT', message: o.message, raw: x.payload });
      outcomes.push(o);
    }
    return { outcomes, conflicts };
  }

  /** The stored answer to an Idempotency-Key, if that key was used. */
  async idempotent(key: string): Promise<{ request: string; status: number; body: string } | undefined> {
    const { rows } = await this.sql.query<{ request: string; status: number; response: string }>('SELECT request, status, response FROM utl_idempotency WHERE key = $1', [key]);
    const r = rows[0];
    return r === undefined ? undefined : { request: r.request, status: r.status, body: r.response };
  }

  /** The month partitions a batch needs that this process has not seen committed. */
  private missingPartitions(events: readonly Incoming[]): { name: string; from: string; to: string }[] {
    const out: { name: string; from: string; to: string }[] = [];
    for (const x of events) {
      const d = new Date(Math.floor(x.event.ts / 1000));
      const y = d.getUTCFullYear();
      const m = d.getUTCMonth();
      const name = `utl_events_${y}_${String(m + 1).padStart(2, '0')}`;
      if (this.partitions.has(name) || out.some((p) => p.name === name)) continue;
      out.push({ name, from: new Date(Date.UTC(y, m, 1)).toISOString(), to: new Date(Date.UTC(y, m + 1, 1)).toISOString() });
    }
    return out;
  }

  // ---- checkpoints and bases ----

  /** A restart point: the ledger document and the books changed since the last one. */
  async saveCheckpoint(seq: number, ledger: string, books: readonly CheckpointBook[]): Promise<void> {
    const rows = books.map((b) => ({ book: b.book, last: b.last, consulted: b.consulted, state: JSON.stringify(snapshotBook(b.state)), balances: snapshotBalances(b.state) }));
    await this.saveCheckpointJson(seq, ledger, rows);
  }

  /** `saveCheckpoint` with the books' states serialized already (`snapshotBookJson`, and their `snapshotBalances`). */
  async saveCheckpointJson(seq: number, ledger: string, rows: readonly SerializedCheckpointBook[], marksJournal?: string): Promise<void> {
    await this.sql.transaction(async (tx) => {
      await tx.query('INSERT INTO utl_checkpoints (seq, ledger) VALUES ($1, $2) ON CONFLICT (seq) DO UPDATE SET ledger = EXCLUDED.ledger, taken_at = now()', [seq, ledger]);
      if (marksJournal !== undefined) {
        // A second checkpoint at the same seq adds a part after the first (never replaces it).
        await tx.query('INSERT INTO utl_marks_journal (seq, part, body) SELECT $1, coalesce(max(part) + 1, 0), $2 FROM utl_marks_journal WHERE seq = $1', [seq, marksJournal]);
      }
      // One statement per book, each state a parameter of its own: a state inside a text[] would
      // be escaped into an array literal (copies of megabytes for a large book, and PostgreSQL
      // parses them back).
      for (const r of rows) {
        await tx.query(
          `INSERT INTO utl_checkpoint_books (seq, book, last_ts_us, last_id, consulted, state) VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (book, seq) DO UPDATE SET last_ts_us = EXCLUDED.last_ts_us, last_id = EXCLUDED.last_id, consulted = EXCLUDED.consulted, state = EXCLUDED.state`,
          [seq, r.book, r.last === undefined ? null : String(r.last.ts), r.last?.id ?? null, JSON.stringify(r.consulted), r.state],
        );
      }
      const bal: string[][] = [[], [], [], [], []];
      for (const r of rows) {
        for (const [venue, account, asset, qty] of r.balances) {
          bal[0]!.push(r.book);
          bal[1]!.push(venue);
          bal[2]!.push(account);
          bal[3]!.push(asset);
          bal[4]!.push(qty);
        }
      }
      await tx.query('DELETE FROM utl_balances WHERE book = ANY($1::text[])', [rows.map((r) => r.book)]);
      if (bal[0]!.length > 0) {
        await tx.query('INSERT INTO utl_balances (book, venue, account, asset, qty, as_of) SELECT *, $6 FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::numeric[])', [...bal, seq]);
      }
    });
  }

  /** Drops checkpoints older than the newest `keep` (and book rows no kept checkpoint needs). */
  async pruneCheckpoints(keep: number): Promise<void> {
    await this.sql.transaction(async (tx) => {
      const { rows } = await tx.query<{ seq: string }>('SELECT seq FROM utl_checkpoints ORDER BY seq DESC OFFSET $1 LIMIT 1', [keep - 1]);
      const oldest = rows[0]?.seq;
      if (oldest === undefined) return;
      await tx.query('DELETE FROM utl_checkpoints WHERE seq < $1', [oldest]);
      // A book row older than the oldest kept checkpoint is needed only if it is that book's latest before it.
      await tx.query(
        `DELETE FROM utl_checkpoint_books b WHERE b.seq < $1
         AND EXISTS (SELECT 1 FROM utl_checkpoint_books n WHERE n.book = b.book AND n.seq > b.seq AND n.seq <= $1)`,
        [oldest],
      );
    });
  }

  async latestCheckpoint(): Promise<Checkpoint | undefined> {
    const { rows } = await this.sql.query<{ seq: string; ledger: string }>('SELECT seq, ledger FROM utl_checkpoints ORDER BY seq DESC LIMIT 1');
    const cp = rows[0];
    if (cp === undefined) return undefined;
    const books = await this.sql.query<{ book: string; last_ts_us: string | null; last_id: string | null; consulted: string; state: string }>(
      `SELECT DISTINCT ON (book) book, last_ts_us, last_id, consulted, state FROM utl_checkpoint_books WHERE seq <= $1 ORDER BY book, seq DESC`,
      [cp.seq],
    );
    return {
      seq: Number(cp.seq),
      ledger: cp.ledger,
      books: books.rows.map((r) => ({
        book: r.book,
        last: r.last_ts_us === null || r.last_id === null ? undefined : { ts: Number(r.last_ts_us), id: r.last_id },
        consulted: JSON.parse(r.consulted) as string[],
        state: JSON.parse(r.state) as BookSnapshot,
      })),
    };
  }

  /** The marks journal's parts up to checkpoint `seq`, in order (each a JSON array: see Service.checkpoint). */
  async marksJournal(seq: number): Promise<string[]> {
    const { rows } = await this.sql.query<{ body: string }>('SELECT body FROM utl_marks_journal WHERE seq <= $1 ORDER BY seq, part', [seq]);
    return rows.map((r) => r.body);
  }

  async saveBases(bases: readonly { book: string; base: BookBase }[]): Promise<void> {
    await this.saveBasesJson(bases.map((b) => ({ book: b.book, key: b.base.key, state: JSON.stringify(snapshotBook(b.base.state)) })));
  }

  /** `saveBases` with the states serialized already (`snapshotBookJson`). */
  async saveBasesJson(bases: readonly { book: string; key: Key; state: string }[]): Promise<void> {
    if (bases.length === 0) return;
    // One statement per base (see saveCheckpointJson: no state inside an array literal), in one transaction.
    await this.sql.transaction(async (tx) => {
      for (const b of bases) {
        await tx.query(
          `INSERT INTO utl_book_bases (book, ts_us, id, state) VALUES ($1, $2, $3, $4)
           ON CONFLICT (book, ts_us, id) DO UPDATE SET state = EXCLUDED.state`,
          [b.book, String(b.key.ts), b.key.id, b.state],
        );
      }
    });
  }

  // ---- reading the log ----

  /** Events committed after `afterSeq`, in arrival order, at most `limit`. */
  async tail(afterSeq: number, limit: number): Promise<StoredEvent[]> {
    const { rows } = await this.sql.query<{ seq: string; source: string; payload: string }>('SELECT seq, source, payload FROM utl_events WHERE seq > $1 ORDER BY seq LIMIT $2', [afterSeq, limit]);
    return rows.map((r) => ({ seq: Number(r.seq), source: r.source, payload: r.payload }));
  }

  /** Events of the log (for checks and tests): count and the highest seq. */
  async counts(): Promise<{ events: number; maxSeq: number; rejected: number }> {
    const { rows } = await this.sql.query<{ n: string; max: string | null; r: string }>('SELECT (SELECT count(*) FROM utl_event_keys) AS n, (SELECT max(seq) FROM utl_event_keys) AS max, (SELECT count(*) FROM utl_rejected) AS r');
    const r = rows[0]!;
    return { events: Number(r.n), maxSeq: Number(r.max ?? 0), rejected: Number(r.r) };
  }

  async consumerPosition(name: string): Promise<number | undefined> {
    const { rows } = await this.sql.query<{ position: string }>('SELECT position FROM utl_consumers WHERE name = $1', [name]);
    return rows[0] === undefined ? undefined : Number(rows[0].position);
  }

  // ---- HistoryStore ----

  async baseBefore(book: string, before: Key): Promise<BookBase | undefined> {
    const { rows } = await this.sql.query<{ ts_us: string; id: string; state: string }>(
      'SELECT ts_us, id, state FROM utl_book_bases WHERE book = $1 AND (ts_us, id) < ($2::bigint, $3::text) ORDER BY ts_us DESC, id DESC LIMIT 1',
      [book, String(before.ts), before.id],
    );
    const r = rows[0];
    return r === undefined ? undefined : { key: { ts: Number(r.ts_us), id: r.id }, state: restoreBook(JSON.parse(r.state) as BookSnapshot) };
  }

  /** `until`: only what can be effective at or before it (as-of queries). */
  async bookEvents(book: string, from: Key | undefined, until?: TsUs): Promise<LedgerEvent[]> {
    const window = await this.sql.query<{ id: string; payload: string }>(
      `SELECT id, payload FROM utl_events WHERE book = $1 AND ($2::timestamptz IS NULL OR ts >= $2) AND ($3::timestamptz IS NULL OR ts <= $3) AND seq <= $4 ORDER BY ts, id`,
      [book, from === undefined ? null : formatTimestamp(from.ts), until === undefined ? null : formatTimestamp(until), this.horizon],
    );
    // Trades an amend may have moved into the window from before it.
    const amended = await this.sql.query<{ id: string; payload: string }>(
      `SELECT e.id, e.payload FROM utl_event_keys k JOIN utl_events e ON e.book = k.book AND e.ts = k.ts AND e.id = k.id
       WHERE k.book = $1 AND e.seq <= $2 AND k.id IN (SELECT target FROM utl_events WHERE target IS NOT NULL AND type = 'amend' AND seq <= $2)`,
      [book, this.horizon],
    );
    const seen = new Set<string>();
    const payloads: string[] = [];
    for (const r of [...window.rows, ...amended.rows]) {
      if (seen.has(r.id)) continue;
      seen.add(r.id);
      payloads.push(r.payload);
    }
    return this.withCorrections(payloads, [...seen]);
  }

  async eventWithCorrections(id: string): Promise<LedgerEvent[]> {
    const { rows } = await this.sql.query<{ payload: string }>(
      `SELECT e.payload FROM utl_event_keys k CROSS JOIN LATERAL (
         SELECT payload, seq FROM utl_events x WHERE x.book = k.book AND x.ts = k.ts AND x.id = k.id
         UNION ALL
         SELECT payload, seq FROM utl_events x WHERE k.book IS NULL AND x.book IS NULL AND x.ts = k.ts AND x.id = k.id
       ) e WHERE k.id = ANY($1::text[]) AND e.seq <= $2`,
      [[id], this.horizon],
    );
    return rows.length === 0 ? [] : this.withCorrections(rows.map((r) => r.payload), [id]);
  }

  async dropBases(book: string, from: Key): Promise<void> {
    await this.sql.query('DELETE FROM utl_book_bases WHERE book = $1 AND (ts_us, id) >= ($2::bigint, $3::text)', [book, String(from.ts), from.id]);
  }

  /** Events by id (stored ones; any order). */
  async eventsById(ids: readonly string[], tx: SqlTx = this.sql): Promise<LedgerEvent[]> {
    if (ids.length === 0) return [];
    const { rows } = await tx.query<{ payload: string }>(
      `SELECT e.payload FROM utl_event_keys k CROSS JOIN LATERAL (
         SELECT payload, seq FROM utl_events x WHERE x.book = k.book AND x.ts = k.ts AND x.id = k.id
         UNION ALL
         SELECT payload, seq FROM utl_events x WHERE k.book IS NULL AND x.book IS NULL AND x.ts = k.ts AND x.id = k.id
       ) e WHERE k.id = ANY($1::text[]) AND e.seq <= $2`,
      [ids, Number.MAX_SAFE_INTEGER],
    );
    return rows.map((r) => decodeStored(r.payload, this.instruments));
  }

  /** The events, then every correction of them and of those (two levels: a cancel of an amend). */
  private async withCorrections(payloads: string[], ids: string[]): Promise<LedgerEvent[]> {
    const out = payloads.map((p) => decodeStored(p, this.instruments));
    let targets = ids;
    for (let round = 0; round < 2 && targets.length > 0; round++) {
      const { rows } = await this.sql.query<{ id: string; payload: string }>(
        'SELECT id, payload FROM utl_events WHERE target = ANY($1::text[]) AND seq <= $2 ORDER BY seq',
        [targets, this.horizon],
      );
      for (const r of rows) out.push(decodeStored(r.payload, this.instruments));
      targets = rows.map((r) => r.id);
    }
    return out;
  }
}

function bookOf(e: LedgerEvent): string | null {
  if (isBookEvent(e)) return e.book;
  if (e.type === 'balance') return e.book ?? null;
  return null;
}

/**
 * Columns as JSON arrays: V8 and PostgreSQL both read and write JSON natively, where a text[]
 * parameter is escaped element by element in JavaScript. The payloads, the bulk of a batch, go
 * as one bytea instead: their UTF-8 bytes one after the other, each followed by PAYLOAD_END
 * (0x1E, a control character, which a JSON text cannot hold raw: JSON.parse and the trade-line
 * decoder both refuse it), split again by PostgreSQL. No quote is escaped here nor unescaped
 * there, and a broker message's bytes are copied as they came.
 */
function eventParams(unique: readonly Incoming[]): (string | number | Buffer)[] {
  const col = (f: (x: Incoming) => string | null): string => JSON.stringify(unique.map(f));
  return [
    unique.length,
    col((x) => x.event.id),
    // The timestamp as epoch microseconds (the server computes the timestamptz from it, exactly).
    col((x) => String(x.event.ts)),
    col((x) => x.event.type),
    col((x) => bookOf(x.event)),
    col((x) => (x.event.type === 'cancel' || x.event.type === 'amend' ? x.event.target : null)),
    col((x) => x.source),
    payloadsParam(unique),
  ];
}

/** The byte that ends each payload in `payloadsParam`. */
export const PAYLOAD_END = 0x1e;

/** The payloads as one buffer: each one's UTF-8 bytes followed by PAYLOAD_END. */
export function payloadsParam(unique: readonly Pick<Incoming, 'payload' | 'bytes'>[]): Buffer {
  const parts: Uint8Array[] = [];
  let length = 0;
  for (const x of unique) {
    const bytes = x.bytes ?? Buffer.from(x.payload, 'utf8');
    parts.push(bytes);
    length += bytes.length + 1;
  }
  const out = Buffer.allocUnsafe(length);
  let at = 0;
  for (const bytes of parts) {
    if (bytes.indexOf(PAYLOAD_END) >= 0) throw new Error('a payload holds the byte 0x1E: it is not a JSON text');
    out.set(bytes, at);
    at += bytes.length;
    out[at++] = PAYLOAD_END;
  }
  return out;
}

function rejectedParams(rows: readonly Rejection[]): string[] {
  const col = (f: (r: Rejection) => string | null): string => JSON.stringify(rows.map(f));
  return [
    col((r) => r.source),
    col((r) => r.ref),
    col((r) => r.id),
    col((r) => r.code),
    col((r) => r.message),
    col((r) => (typeof r.raw === 'string' ? Buffer.from(r.raw, 'utf8') : Buffer.from(r.raw)).toString('base64')),
  ];
}

const EVENT_CTES = `
c AS (
  UPDATE utl_counters SET next = next + $1 WHERE name = 'event' RETURNING next - $1 AS base
),
input AS (
  SELECT t.id, 'epoch'::timestamptz + t.ts_us::bigint * interval '1 microsecond' AS ts, t.ts_us::bigint AS ts_us, t.type, t.book, t.target, t.source, t.payload, t.ord
  FROM ROWS FROM (
    json_array_elements_text($2::json), json_array_elements_text($3::json), json_array_elements_text($4::json), json_array_elements_text($5::json),
    json_array_elements_text($6::json), json_array_elements_text($7::json),
    string_to_table(rtrim(convert_from($8::bytea, 'UTF8'), E'\\x1e'), E'\\x1e')
  ) WITH ORDINALITY AS t(id, ts_us, type, book, target, source, payload, ord)
),
keys AS (
  INSERT INTO utl_event_keys (id, seq, ts, book)
  SELECT i.id, c.base + i.ord - 1, i.ts, i.book FROM input i CROSS JOIN c
  ON CONFLICT (id) DO NOTHING
  RETURNING id, seq
),
ev AS (
  INSERT INTO utl_events (seq, ts, ts_us, id, type, book, target, source, payload)
  SELECT k.seq, i.ts, i.ts_us, i.id, i.type, i.book, i.target, i.source, i.payload FROM keys k JOIN input i USING (id)
)`;

/**
 * What the insert of a batch's keys answers, in one row: the first seq of the batch (`base`;
 * the event at `unique[j]` gets `base + j` if it is new) and, unless every event was new (the
 * common case: then nothing per event comes back), the offsets `j` of the new ones.
 */
interface KeysRow {
  readonly base: string;
  readonly new: string | null;
}

const KEYS_ROW = `SELECT (SELECT base FROM c)::text AS base,
  CASE WHEN count(*) = $1 THEN NULL ELSE coalesce(string_agg((k.seq - (SELECT base FROM c))::text, ','), '') END AS new
FROM keys k`;

/** Each unique event's seq, or undefined when its id was stored before (`KeysRow`). */
function seqsOf(row: KeysRow, count: number): (number | undefined)[] {
  const base = Number(row.base);
  const seqs = new Array<number | undefined>(count).fill(undefined);
  if (row.new === null) for (let j = 0; j < count; j++) seqs[j] = base + j;
  else if (row.new !== '') for (const offset of row.new.split(',')) seqs[Number(offset)] = base + Number(offset);
  return seqs;
}

/** Events, rejections and the consumer's position in one statement. */
const INSERT_FAST = `
WITH ${EVENT_CTES},
rej AS (
  INSERT INTO utl_rejected (source, ref, event_id, code, message, raw)
  SELECT r.source, r.ref, r.event_id, r.code, r.message, decode(r.raw, 'base64')
  FROM ROWS FROM (
    json_array_elements_text($9::json), json_array_elements_text($10::json), json_array_elements_text($11::json),
    json_array_elements_text($12::json), json_array_elements_text($13::json), json_array_elements_text($14::json)
  ) AS r(source, ref, event_id, code, message, raw)
),
cons AS (
  INSERT INTO utl_consumers (name, position) SELECT $15::text, $16::bigint WHERE $15::text IS NOT NULL
  ON CONFLICT (name) DO UPDATE SET position = GREATEST(utl_consumers.position, EXCLUDED.position), updated_at = now()
)
${KEYS_ROW}`;

const INSERT_EVENTS = `WITH ${EVENT_CTES}
${KEYS_ROW}`;

async function insertRejected(tx: SqlTx, rows: readonly Rejection[]): Promise<void> {
  await tx.query(
    'INSERT INTO utl_rejected (source, ref, event_id, code, message, raw) SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bytea[])',
    [
      rows.map((r) => r.source),
      rows.map((r) => r.ref),
      rows.map((r) => r.id),
      rows.map((r) => r.code),
      rows.map((r) => r.message),
      rows.map((r) => (typeof r.raw === 'string' ? Buffer.from(r.raw, 'utf8') : Buffer.from(r.raw))),
    ],
  );
}

async function insertVenueBalances(tx: SqlTx, events: readonly LedgerEvent[]): Promise<void> {
  const cols: (string | null)[][] = [[], [], [], [], [], [], [], [], [], []];
  for (const e of events) {
    if (e.type !== 'balance') continue;
    const vals = [e.id, formatTimestamp(e.ts), String(e.ts), e.book ?? null, e.venue, e.account, e.asset, e.total.toString(), e.free?.toString() ?? null, e.used?.toString() ?? null];
    vals.forEach((v, i) => cols[i]!.push(v));
  }
  await tx.query(
    `INSERT INTO utl_venue_balances (event_id, ts, ts_us, book, venue, account, asset, total, free, used)
     SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[], $8::numeric[], $9::numeric[], $10::numeric[])
     ON CONFLICT (event_id) DO NOTHING`,
    cols,
  );
}

