/**
 * Reports over time: balances (now or as of a ts), PnL over periods (today vs the start-of-day
 * snapshot, MTD, YTD, inception), the end-of-day snapshots, and exports (CSV or JSON) of
 * positions, lots, PnL and events for a period. Every route narrows to the books the request's
 * key may see (auth.ts `requestedBooks`): a restricted key's exports and aggregates hold its
 * books only, and firm-wide parts (the firm's exposure, venue-reported balances) are left out.
 */
import { Readable } from 'node:stream';
import { stringify } from 'csv-stringify/sync';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { Dec, DIVISION_SCALE } from '../../domain/decimal.js';
import type { TsUs } from '../../domain/events.js';
import { pnlSince, type PnlFigures } from '../../domain/periods.js';
import type { PositionReport } from '../../domain/report.js';
import { dayStart, formatDay, formatTimestamp, parseDay, US_PER_DAY } from '../../domain/time.js';
import type { Service } from '../../app/service.js';
import { DayNotClosedError, type Snapshots } from '../../app/snapshots.js';
import { principalOf, requestedBooks, visibleBooks } from './auth.js';
import { flagParam, isReply, pageQuery, problem, queryParams, timeParam } from './problem.js';

type Audit = (actor: string, action: string, target: string, detail: unknown) => Promise<void>;

// ---- CSV ----

/**
 * A text cell that a spreadsheet would run as a formula (=, +, -, @ first) gets a leading `'`
 * (OWASP "CSV injection"). Only for free text (ids, books, venues, JSON): decimal columns keep
 * their sign, and a decimal never starts with = or @.
 */
function safeText(v: string | null | undefined): string {
  if (v === null || v === undefined) return '';
  return /^[=+\-@\t\r]/.test(v) ? `'${v}` : v;
}

/** Rows as CSV (RFC 4180 quoting, `\n` line ends), with a header line when `header`. */
function csv(columns: readonly string[], rows: readonly (readonly (string | null | undefined)[])[], header = true): string {
  return stringify(
    rows.map((r) => r.map((c) => c ?? '')),
    { header, columns: [...columns] },
  );
}

const POSITION_COLUMNS = ['book', 'asset', 'kind', 'venue', 'method', 'qty', 'costBasis', 'avgPrice', 'mark', 'value', 'realizedPnl', 'unrealizedPnl', 'fees', 'funding', 'totalPnl', 'byVenue'] as const;

function positionRow(p: PositionReport): (string | null)[] {
  const byVenue = Object.entries(p.byVenue)
    .map(([v, q]) => `${v}=${q}`)
    .join(';');
  return [safeText(p.book), safeText(p.asset), p.kind, safeText(p.venue), p.method, p.qty, p.costBasis, p.avgPrice, p.mark, p.value, p.realizedPnl, p.unrealizedPnl, p.fees, p.funding, p.totalPnl, safeText(byVenue)];
}

const LOT_COLUMNS = ['book', 'asset', 'kind', 'venue', 'method', 'lot', 'acquired', 'qty', 'cost', 'unitCost'] as const;

/** Cost per unit of a lot, rounded half-even to 8 places (display only, as `avgPrice`); null for an empty lot. */
function unitCost(cost: string, qty: string): string | null {
  const q = Dec.of(qty);
  return q.isZero() ? null : Dec.of(cost).div(q, DIVISION_SCALE).round(8).toString();
}

function lotRows(p: PositionReport): (string | null)[][] {
  return (p.lots ?? []).map((l) => [safeText(p.book), safeText(p.asset), p.kind, safeText(p.venue), p.method, String(l.seq), l.acquired, l.qty, l.cost, unitCost(l.cost, l.qty)]);
}

const PNL_COLUMNS = ['level', 'book', 'asset', 'kind', 'venue', 'from', 'to', 'realized', 'unrealized', 'fees', 'funding', 'total'] as const;

const figures = (f: PnlFigures): (string | null)[] => [f.realized, f.unrealized, f.fees, f.funding, f.total];

const EVENT_COLUMNS = ['seq', 'ts', 'id', 'type', 'book', 'venue', 'account', 'instrument', 'asset', 'side', 'qty', 'price', 'amount', 'feeAsset', 'feeAmount', 'source', 'receivedAt', 'payload'] as const;

interface EventRow {
  seq: string;
  ts_us: string;
  id: string;
  type: string;
  book: string | null;
  source: string;
  received_at: string;
  payload: string;
}

function eventCells(r: EventRow): (string | null)[] {
  const e = JSON.parse(r.payload) as Record<string, unknown>;
  const text = (k: string): string | null => {
    const v = e[k];
    return typeof v === 'string' ? v : null;
  };
  const fee = typeof e.fee === 'object' && e.fee !== null ? (e.fee as Record<string, unknown>) : {};
  const venue = text('venue') ?? (text('from') !== null ? `${text('from')}->${text('to') ?? ''}` : null);
  return [
    r.seq,
    formatTimestamp(Number(r.ts_us)),
    safeText(r.id),
    r.type,
    safeText(r.book),
    safeText(venue),
    safeText(text('account')),
    safeText(text('instrument')),
    safeText(text('asset')),
    text('side'),
    text('qty'),
    text('price'),
    text('amount'),
    safeText(typeof fee.asset === 'string' ? fee.asset : null),
    typeof fee.amount === 'string' ? fee.amount : null,
    safeText(r.source),
    r.received_at,
    safeText(r.payload),
  ];
}

const EXPORT_KINDS = ['positions', 'lots', 'pnl', 'events'] as const;
type ExportKind = (typeof EXPORT_KINDS)[number];
const FORMATS = ['csv', 'json', 'jsonl'] as const;
type Format = (typeof FORMATS)[number];

/** Rows of the event log read per query while an export streams. */
const EXPORT_PAGE = 2000;

function attachment(reply: FastifyReply, kind: ExportKind, format: Format, stamp: string): FastifyReply {
  const type = format === 'csv' ? 'text/csv; charset=utf-8' : format === 'jsonl' ? 'application/x-ndjson' : 'application/json';
  return reply
    .type(type)
    .header('content-disposition', `attachment; filename="utl-${kind}-${stamp.replace(/:/g, '')}.${format}"`)
    .header('cache-control', 'no-store');
}

export function reportRoutes(service: Service, snapshots: Snapshots, audit?: Audit): FastifyPluginAsync {
  // eslint-disable-next-line @typescript-eslint/require-await -- fastify plugins are async functions
  return async (app) => {
    /** The books asked for, narrowed to the key's; or the 403 answered. */
    const booksOf = (req: FastifyRequest, reply: FastifyReply, book: string | undefined): string[] | undefined | FastifyReply => requestedBooks(req, book, reply);

    app.get('/balances', async (req, reply) => {
      const q = queryParams(req, reply, ['book', 'venue', 'account', 'asset', 'at'] as const);
      if (isReply(q)) return q;
      const books = booksOf(req, reply, q.book);
      if (isReply(books)) return books;
      const at = timeParam(reply, 'at', q.at);
      if (isReply(at)) return at;
      const options = books === undefined ? {} : { books };
      const r = at === undefined ? service.report(options) : await service.reportAt(at, options);
      const balances = r.balances.filter((b) => (q.venue === undefined || b.venue === q.venue) && (q.account === undefined || b.account === q.account) && (q.asset === undefined || b.asset === q.asset));
      return { asOf: r.asOf, seq: service.stats.lastSeq, balances };
    });

    app.get('/pnl', async (req, reply) => {
      const q = queryParams(req, reply, ['book', 'asset', 'at'] as const);
      if (isReply(q)) return q;
      const books = booksOf(req, reply, q.book);
      if (isReply(books)) return books;
      const at = timeParam(reply, 'at', q.at);
      if (isReply(at)) return at;
      return { seq: service.stats.lastSeq, ...(await snapshots.pnl(at, books, q.asset)) };
    });

    app.get('/snapshots', async (req, reply) => {
      const page = pageQuery({ ...(req.query as Record<string, unknown>), before: undefined }, reply);
      if (!('limit' in page)) return page;
      const q = queryParams(req, reply, ['before'] as const);
      if (isReply(q)) return q;
      if (q.before !== undefined && parseDay(q.before) === undefined) return problem(reply, 400, 'BAD_QUERY', 'Bad `before`', 'a day, YYYY-MM-DD (the `next` of a previous page)');
      const days = await snapshots.days(page.limit, q.before);
      // How many books the firm has is not a restricted key's to know.
      const everyBook = visibleBooks(req) === undefined;
      const items = days.map((d) => ({ day: d.day, asOf: formatTimestamp(d.asOfUs), takenAt: d.takenAt, ...(everyBook ? { books: d.books } : {}) }));
      return { lastClosedDay: snapshots.lastClosedDay(), items, next: days.length === page.limit ? days[days.length - 1]!.day : null };
    });

    app.get('/snapshots/:day', async (req, reply) => {
      const { day: dayText } = req.params as { day: string };
      const q = queryParams(req, reply, ['book', 'lots', 'type'] as const);
      if (isReply(q)) return q;
      const start = parseDay(dayText);
      if (start === undefined) return problem(reply, 400, 'BAD_DAY', 'Bad day', `expected YYYY-MM-DD, got ${JSON.stringify(dayText)}`);
      if (q.type !== undefined && q.type !== 'eod' && q.type !== 'sod') return problem(reply, 400, 'BAD_QUERY', 'Bad `type`', 'eod (the state at the day\'s close, the default) or sod (at its open: the EOD of the day before)');
      const lots = flagParam(reply, 'lots', q.lots);
      if (isReply(lots)) return lots;
      const books = booksOf(req, reply, q.book);
      if (isReply(books)) return books;
      const day = q.type === 'sod' ? formatDay(start - US_PER_DAY) : dayText;
      const firm = books === undefined;
      const snap = await snapshots.read(day, books, firm);
      if (snap === undefined) return problem(reply, 404, 'SNAPSHOT_NOT_FOUND', 'No snapshot of that day', `no end-of-day snapshot of ${day} was taken (GET /snapshots lists them; POST /snapshots takes one)`);
      const positions = lots ? snap.positions : snap.positions.map(({ lots: _lots, ...p }) => p);
      return { type: q.type ?? 'eod', ...(q.type === 'sod' ? { sodOf: dayText } : {}), ...snap, positions };
    });

    app.post('/snapshots', async (req, reply) => {
      let day: unknown;
      try {
        day = (JSON.parse(typeof req.body === 'string' ? req.body : '') as { day?: unknown }).day;
      } catch {
        return problem(reply, 400, 'BAD_BODY', 'Unreadable body', 'expected JSON: {"day": "YYYY-MM-DD"}');
      }
      if (typeof day !== 'string' || parseDay(day) === undefined) return problem(reply, 400, 'BAD_DAY', 'Bad day', 'expected {"day": "YYYY-MM-DD"}');
      try {
        const had = (await snapshots.info(day)) !== undefined;
        const taken = await snapshots.take(day);
        await audit?.(principalOf(req)?.name ?? 'anonymous', had ? 'snapshot.retake' : 'snapshot.take', `snapshot:${day}`, { asOf: formatTimestamp(taken.asOfUs), books: taken.books });
        return reply.code(201).send({ day: taken.day, asOf: formatTimestamp(taken.asOfUs), takenAt: taken.takenAt, books: taken.books, retaken: had });
      } catch (err) {
        if (err instanceof DayNotClosedError) return problem(reply, 409, 'DAY_NOT_CLOSED', 'The day has not closed', err.message);
        throw err;
      }
    });

    app.get('/export/:kind', async (req, reply) => {
      const { kind } = req.params as { kind: string };
      if (!(EXPORT_KINDS as readonly string[]).includes(kind)) return problem(reply, 404, 'NOT_FOUND', 'No such export', `one of ${EXPORT_KINDS.join(', ')}`);
      const q = queryParams(req, reply, ['format', 'book', 'asset', 'venue', 'at', 'from', 'to', 'type'] as const);
      if (isReply(q)) return q;
      const format = (q.format ?? 'csv') as Format;
      if (!(FORMATS as readonly string[]).includes(format) || (format === 'jsonl' && kind !== 'events')) {
        return problem(reply, 400, 'BAD_QUERY', 'Bad `format`', kind === 'events' ? 'csv, json or jsonl' : 'csv or json');
      }
      const books = booksOf(req, reply, q.book);
      if (isReply(books)) return books;
      const times: Partial<Record<'at' | 'from' | 'to', TsUs>> = {};
      for (const name of ['at', 'from', 'to'] as const) {
        const t = timeParam(reply, name, q[name]);
        if (isReply(t)) return t;
        if (t !== undefined) times[name] = t;
      }
      const stamp = formatTimestamp(Date.now() * 1000);
      const options = { ...(books === undefined ? {} : { books }) };
      const keep = (p: PositionReport): boolean => (q.asset === undefined || p.asset === q.asset) && (q.venue === undefined || p.venue === q.venue || p.byVenue[q.venue] !== undefined);

      if (kind === 'positions' || kind === 'lots') {
        const r = times.at === undefined ? service.report({ ...options, lots: kind === 'lots' }) : await service.reportAt(times.at, { ...options, lots: kind === 'lots' });
        const positions = r.positions.filter(keep);
        attachment(reply, kind, format, stamp);
        if (kind === 'positions') {
          if (format === 'json') return { asOf: r.asOf ?? stamp, reporting: r.reporting, positions };
          return csv(POSITION_COLUMNS, positions.map(positionRow));
        }
        const lots = positions.flatMap((p) => (p.lots ?? []).map((l) => ({ book: p.book, asset: p.asset, kind: p.kind, ...(p.venue === undefined ? {} : { venue: p.venue }), method: p.method, lot: l.seq, acquired: l.acquired, qty: l.qty, cost: l.cost, unitCost: unitCost(l.cost, l.qty) })));
        if (format === 'json') return { asOf: r.asOf ?? stamp, reporting: r.reporting, lots };
        return csv(LOT_COLUMNS, positions.flatMap(lotRows));
      }

      if (kind === 'pnl') {
        if (q.venue !== undefined) return problem(reply, 400, 'BAD_QUERY', 'No `venue` for pnl', "a spot position's PnL is not split by venue: filter by book or asset");
        const to = times.to;
        const from = times.from ?? dayStart(to ?? Date.now() * 1000);
        if (to !== undefined && to < from) return problem(reply, 400, 'BAD_QUERY', 'Bad period', '`to` is before `from`');
        const end = to === undefined ? service.report({ ...options, includeFlat: true }) : await service.reportAt(to, { ...options, includeFlat: true });
        const start = await snapshots.stateBefore(from, books);
        const pnl = pnlSince(end, { period: start.state });
        const period = { from: formatTimestamp(from), to: to === undefined ? stamp : formatTimestamp(to), baseline: start.baseline };
        const positions = pnl.positions.filter((p) => q.asset === undefined || p.asset === q.asset);
        attachment(reply, kind, format, stamp);
        if (format === 'json') {
          return { ...period, reporting: end.reporting, books: pnl.books.map((b) => ({ book: b.book, ...b.periods.period })), positions: positions.map(({ periods, ...p }) => ({ ...p, ...periods.period })) };
        }
        const rows = [
          ...pnl.books.map((b) => ['book', safeText(b.book), null, null, null, period.from, period.to, ...figures(b.periods.period)]),
          ...positions.map((p) => ['position', safeText(p.book), safeText(p.asset), p.kind, safeText(p.venue), period.from, period.to, ...figures(p.periods.period)]),
        ];
        return csv(PNL_COLUMNS, rows);
      }

      // events: the log of the period in ts order, streamed page by page (a period can be large).
      // The bounds go to `ts` (timestamptz, the partition key: months outside the period are not read).
      const from = times.from === undefined ? null : formatTimestamp(times.from);
      const to = times.to === undefined ? null : formatTimestamp(times.to);
      const horizon = service.stats.lastSeq;
      const type = q.type ?? null;
      const sql = service.store.sql;
      async function* pages(): AsyncGenerator<EventRow[]> {
        let after: [string, string] | null = null;
        for (;;) {
          // ORDER BY e.seq: the column, not the SELECT's text of it (by that name, text: 10 before 9).
          const rows: EventRow[] = (
            await sql.query<EventRow>(
            `SELECT seq::text, ts_us::text, id, type, book, source, to_char(received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS received_at, payload
             FROM utl_events e
             WHERE ($1::text[] IS NULL OR book = ANY($1::text[])) AND ($2::timestamptz IS NULL OR ts >= $2) AND ($3::timestamptz IS NULL OR ts <= $3)
               AND ($4::text IS NULL OR type = $4) AND ($5::timestamptz IS NULL OR (ts, seq) > ($5::timestamptz, $6::bigint)) AND seq <= $7
             ORDER BY e.ts, e.seq LIMIT $8`,
            [books ?? null, from, to, type, after?.[0] ?? null, after?.[1] ?? null, horizon, EXPORT_PAGE],
          )).rows;
          if (rows.length > 0) yield rows;
          if (rows.length < EXPORT_PAGE) return;
          const last: EventRow = rows[rows.length - 1]!;
          // The keyset in `ts` (not ts_us): the order the (book, ts) index and the partitions give.
          after = [formatTimestamp(Number(last.ts_us)), last.seq];
        }
      }
      async function* body(): AsyncGenerator<string> {
        let first = true;
        if (format === 'json') yield '[';
        for await (const rows of pages()) {
          if (format === 'csv') yield csv(EVENT_COLUMNS, rows.map(eventCells), first);
          else if (format === 'jsonl') yield rows.map((r) => `${r.payload}\n`).join('');
          else yield rows.map((r, i) => `${first && i === 0 ? '' : ','}\n${r.payload}`).join('');
          first = false;
        }
        if (format === 'csv' && first) yield csv(EVENT_COLUMNS, []);
        if (format === 'json') yield '\n]\n';
      }
      attachment(reply, 'events', format, stamp);
      return reply.send(Readable.from(body()));
    });
  };
}
