/**
 * The schema, as versioned migrations applied in order at start (each in its own transaction,
 * recorded in utl_migrations). Append new versions; never edit one that has shipped.
 *
 * Money is `numeric` or text in a JSON document, never float. Timestamps of events are kept as
 * `timestamptz` (for partitioning and people) and, where the code reads them back, as integer
 * epoch microseconds (`*_us bigint`), which is what the domain uses.
 */
import type { Sql } from '../../app/ports.js';

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'event log, rejections, checkpoints, bases, balances',
    sql: `
-- Arrival order of committed events: the service's single writer draws ranges from here.
CREATE TABLE utl_counters (name text PRIMARY KEY, next bigint NOT NULL);
INSERT INTO utl_counters VALUES ('event', 1);

-- Idempotency: one row per event id ever committed, whatever its partition, and where the event
-- is (its ts and book lead to its row). A repeat of an id is compared with the stored event's
-- content: the same is a duplicate, other content is refused (DUPLICATE_CONFLICT), never stored.
CREATE TABLE utl_event_keys (
  id     text PRIMARY KEY,
  seq    bigint NOT NULL,
  ts     timestamptz NOT NULL,
  book   text
);

-- The append-only event log, partitioned by month of the event's own ts.
CREATE TABLE utl_events (
  seq         bigint NOT NULL,
  ts          timestamptz NOT NULL,
  ts_us       bigint NOT NULL,
  id          text NOT NULL,
  type        text NOT NULL,
  book        text,
  target      text,
  source      text NOT NULL,
  received_at timestamptz NOT NULL DEFAULT now(),
  payload     text NOT NULL
) PARTITION BY RANGE (ts);
-- "Events of a book in ts order" (and global events, book NULL, by ts).
CREATE INDEX utl_events_book_ts ON utl_events (book, ts);
-- The tail after a checkpoint, in arrival order: seq grows with the heap, so BRIN is enough.
CREATE INDEX utl_events_seq ON utl_events USING brin (seq);
-- Corrections by target (few rows).
CREATE INDEX utl_events_target ON utl_events (target) WHERE target IS NOT NULL;

-- Every refused input, with its raw bytes and why.
CREATE TABLE utl_rejected (
  rid         bigserial PRIMARY KEY,
  received_at timestamptz NOT NULL DEFAULT now(),
  source      text NOT NULL,
  ref         text,
  event_id    text,
  code        text NOT NULL,
  message     text NOT NULL,
  raw         bytea NOT NULL
);
CREATE INDEX utl_rejected_event ON utl_rejected (event_id) WHERE event_id IS NOT NULL;

-- Position of each inbound consumer (stream sequence), committed with the events it covers.
CREATE TABLE utl_consumers (
  name       text PRIMARY KEY,
  position   bigint NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Restart points: the whole ledger after every event with seq <= seq.
CREATE TABLE utl_checkpoints (
  seq      bigint PRIMARY KEY,
  taken_at timestamptz NOT NULL DEFAULT now(),
  ledger   text NOT NULL
);
-- Book states (positions with their lots, balances) of a checkpoint; a book unchanged since an
-- earlier checkpoint keeps that row.
CREATE TABLE utl_checkpoint_books (
  seq        bigint NOT NULL,
  book       text NOT NULL,
  last_ts_us bigint,
  last_id    text,
  consulted  text NOT NULL,
  state      text NOT NULL,
  PRIMARY KEY (book, seq)
);

-- Bases for rebooking a book from before a late event: the book's state after every event up
-- to (ts_us, id). Dropped when history before them changes.
CREATE TABLE utl_book_bases (
  book  text NOT NULL,
  ts_us bigint NOT NULL,
  id    text NOT NULL,
  state text NOT NULL,
  PRIMARY KEY (book, ts_us, id)
);

-- Booked balances per book, venue, account and asset, as of the latest checkpoint.
CREATE TABLE utl_balances (
  book    text NOT NULL,
  venue   text NOT NULL,
  account text NOT NULL,
  asset   text NOT NULL,
  qty     numeric NOT NULL,
  as_of   bigint NOT NULL,
  PRIMARY KEY (book, venue, account, asset)
);

-- What venues report holding (balance events), for reconciliation.
CREATE TABLE utl_venue_balances (
  event_id text PRIMARY KEY,
  ts       timestamptz NOT NULL,
  ts_us    bigint NOT NULL,
  book     text,
  venue    text NOT NULL,
  account  text NOT NULL,
  asset    text NOT NULL,
  total    numeric NOT NULL,
  free     numeric,
  used     numeric
);
CREATE INDEX utl_venue_balances_at ON utl_venue_balances (venue, account, asset, ts_us);

-- HTTP Idempotency-Key: the first answer, given again to a repeat of the same request.
CREATE TABLE utl_idempotency (
  key        text PRIMARY KEY,
  request    text NOT NULL,
  status     int NOT NULL,
  response   text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
`,
  },
  {
    version: 2,
    name: 'reconciliation: breaks, cells, audit',
    sql: `
-- Balance breaks, one row each; the document holds the amounts (decimal text, never float), the
-- explanation and the history. Columns beside it are for filtering.
CREATE TABLE utl_breaks (
  id            text PRIMARY KEY,
  venue         text NOT NULL,
  account       text NOT NULL,
  asset         text NOT NULL,
  book          text,
  status        text NOT NULL CHECK (status IN ('open', 'acknowledged', 'resolved', 'auto_resolved')),
  first_seen_ms bigint NOT NULL,
  updated_ms    bigint NOT NULL,
  doc           jsonb NOT NULL
);
CREATE INDEX utl_breaks_active ON utl_breaks (venue, asset) WHERE status IN ('open', 'acknowledged');

-- Per (venue, account, asset, book) cell: the last report taken, the last one that agreed, and
-- the report itself (what a recheck holds again when UTL's side changes).
CREATE TABLE utl_recon_cells (
  key    text PRIMARY KEY,
  state  jsonb NOT NULL,
  report text NOT NULL
);

-- Who did what, when: every acknowledgement and resolution of a break (and, later, every write).
CREATE TABLE utl_audit (
  id     bigserial PRIMARY KEY,
  at     timestamptz NOT NULL DEFAULT now(),
  actor  text NOT NULL,
  action text NOT NULL,
  target text NOT NULL,
  detail jsonb NOT NULL
);
`,
  },
  {
    // Versions need not be contiguous: migrate() applies this array in order, by version recorded.
    version: 3,
    name: 'alerts: instance state, notification history, engine memory',
    sql: `
-- One row per alert instance (rule, key): its current state, and the engine's copy of it
-- (the state column, what a restart restores). A resolved instance keeps its row until it fires again.
-- Times are epoch milliseconds; amounts live as text in the JSON documents, never as float.
CREATE TABLE utl_alerts (
  rule           text NOT NULL,
  key            text NOT NULL,
  labels         jsonb NOT NULL,
  severity       text NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
  status         text NOT NULL CHECK (status IN ('pending', 'firing', 'resolved')),
  active_since_ms bigint NOT NULL,
  first_fired_ms bigint,
  last_sent_ms   bigint,
  resolved_at_ms bigint,
  summary        text NOT NULL,
  state          jsonb,
  updated_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (rule, key)
);
CREATE INDEX utl_alerts_live ON utl_alerts (status) WHERE status <> 'resolved';

-- Every notification decided (firing, repeat, resolved) with the payload the sinks received.
CREATE TABLE utl_alert_events (
  id       bigserial PRIMARY KEY,
  at_ms    bigint NOT NULL,
  rule     text NOT NULL,
  key      text NOT NULL,
  kind     text NOT NULL CHECK (kind IN ('firing', 'repeat', 'resolved')),
  severity text NOT NULL,
  payload  jsonb NOT NULL
);
CREATE INDEX utl_alert_events_instance ON utl_alert_events (rule, key, id);

-- The engine's memory beside its instances (rejection counter samples, day highs): one row.
CREATE TABLE utl_alert_engine (
  id         int PRIMARY KEY CHECK (id = 1),
  memory     jsonb NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);
`,
  },
  {
    version: 4,
    name: 'API keys: hashed tokens with a scope and an optional list of books',
    sql: `
-- One row per API key. The token itself is never stored: only its SHA-256 (src/app/api-keys.ts
-- says why not bcrypt/argon2). id is the token's public prefix, how a presented token is found.
-- books: a JSON array of the books the key may see, or NULL for every book.
CREATE TABLE utl_api_keys (
  id         text PRIMARY KEY,
  name       text NOT NULL,
  scope      text NOT NULL CHECK (scope IN ('read', 'write', 'admin')),
  books      jsonb,
  hash       text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  revoked_at timestamptz,
  last_used  timestamptz
);
-- A name is the actor in utl_audit: one live key per name.
CREATE UNIQUE INDEX utl_api_keys_live_name ON utl_api_keys (name) WHERE revoked_at IS NULL;
`,
  },
  {
    version: 5,
    name: 'end-of-day snapshots: the official state of each book at the close of each UTC day',
    sql: `
-- One row per (day, book): the book's positions (with lots), balances and PnL figures as of the
-- day's last instant, frozen when taken (src/app/snapshots.ts). book '' holds the firm-wide part
-- (exposure, venue-reported balances). A retake replaces the whole day in one transaction.
-- doc is json (not jsonb): its text is kept as written, decimals as strings, keys in order.
CREATE TABLE utl_day_snapshots (
  day       date NOT NULL,
  book      text NOT NULL,
  as_of_us  bigint NOT NULL,
  taken_at  timestamptz NOT NULL DEFAULT now(),
  doc       json NOT NULL,
  PRIMARY KEY (day, book)
);
`,
  },
  {
    version: 6,
    name: 'marks journal: the marks each checkpoint added or removed, instead of every mark in every checkpoint',
    sql: `
-- Each checkpoint writes the marks added (and removed: a cancelled price) since the one before,
-- in the same transaction (src/app/service.ts); a restart applies every part up to its checkpoint
-- in order. Parts outlive the checkpoints (two kept): together they are the marks.
CREATE TABLE utl_marks_journal (
  seq   bigint NOT NULL,
  part  int NOT NULL,
  body  text NOT NULL,
  PRIMARY KEY (seq, part)
);
`,
  },
];

/** Applies the migrations not yet applied, in order; returns the versions it applied. */
export async function migrate(sql: Sql): Promise<number[]> {
  await sql.exec(`CREATE TABLE IF NOT EXISTS utl_migrations (version int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
  const applied: number[] = [];
  for (const m of MIGRATIONS) {
    const done = await sql.transaction(async (tx) => {
      // One migrator at a time, even with several processes starting together.
      if (sql.kind === 'postgres') await tx.query('SELECT pg_advisory_xact_lock(7305416)');
      const { rows } = await tx.query('SELECT 1 FROM utl_migrations WHERE version = $1', [m.version]);
      if (rows.length > 0) return false;
      await tx.exec(m.sql);
      await tx.query('INSERT INTO utl_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
      return true;
    });
    if (done) applied.push(m.version);
  }
  return applied;
}
