/**
 * The HTTP adapter (fastify): `POST /events` through the service's one commit path, the state
 * (positions, books, exposure, as-of), rejections, health, readiness and Prometheus metrics.
 * Errors are RFC 9457 problem+json with a stable `code`. Decimals are strings, as everywhere.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Service } from '../../app/service.js';
import { positionsBody } from '../../app/positions-json.js';
import { bookForbidden, installAuth, principalOf, requestedBooks, visibleBooks, type HttpAuth } from './auth.js';
import { installWriteLimit, type WriteLimit } from './limits.js';
import { eventRoutes } from './events-routes.js';
import { flagParam, isReply, pageQuery, problem, queryParams, timeParam } from './problem.js';
import { recordRoutes } from './route-table.js';

export interface HttpOptions {
  /** Largest request body (bytes). */
  readonly bodyLimit: number;
  /** Most events in one POST. */
  readonly maxEvents: number;
  /** Where unexpected errors (5xx) are reported (the service's log). */
  readonly onError?: (err: unknown, where: string) => void;
  /** What `GET /metrics` serves (src/adapters/metrics); without it the route is not there. */
  readonly metrics?: { readonly contentType: string; metrics(): Promise<string> };
  /** API keys (auth.ts): without it every route is open and every book visible. */
  readonly auth?: HttpAuth;
  /** Rate limit on POST requests (limits.ts); without it, none. */
  readonly writeLimit?: WriteLimit;
  /** Where writes are recorded (utl_audit): who (the key's name, or `anonymous`), what, which target. */
  readonly audit?: (actor: string, action: string, target: string, detail: unknown) => Promise<void>;
  /**
   * Served behind the HTTP front (front.ts) on a socket only it reaches: the client's address is
   * its `X-Forwarded-For`, and each write's answer says in `x-utl-seq` how far the log was booked
   * when it was answered (what the front's reads wait for; it strips the header).
   */
  readonly behindFront?: boolean;
}

export const DEFAULT_HTTP: HttpOptions = { bodyLimit: 16 << 20, maxEvents: 10_000 };

/** The events of a POST body: a JSON array, `{ "events": [...] }`, one object, or JSON Lines. */
function eventsOf(body: string, contentType: string | undefined): unknown[] | string {
  if (contentType?.includes('ndjson') === true || contentType?.includes('jsonl') === true || contentType?.startsWith('text/plain') === true) {
    return body.split('\n').map((l) => l.trim()).filter((l) => l.length > 0);
  }
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch (err) {
    return `body is not JSON: ${(err as Error).message}`;
  }
  if (Array.isArray(value)) return value as unknown[];
  if (typeof value === 'object' && value !== null && Array.isArray((value as { events?: unknown }).events)) return (value as { events: unknown[] }).events;
  if (typeof value === 'object' && value !== null) return [value];
  return 'expected a JSON array of events, {"events": [...]}, one event object, or JSON Lines';
}

/** Rows of utl_rejected a restricted key's GET /rejected reads at most per request. */
const REJECTED_SCAN_MAX = 5000;

/** The `book` of a rejected event's raw text, when it is JSON with one. */
function bookOfRaw(raw: Buffer): string | undefined {
  try {
    const v: unknown = JSON.parse(raw.toString('utf8'));
    const book = typeof v === 'object' && v !== null ? (v as { book?: unknown }).book : undefined;
    return typeof book === 'string' ? book : undefined;
  } catch (err) {
    if (err instanceof SyntaxError) return undefined; // not JSON: no book, only unrestricted keys see it
    throw err;
  }
}

/** A correction in a POST, whose target's book is checked against the key's books. */
interface Correction {
  readonly index: number;
  readonly type: string;
  readonly target: string;
}

/**
 * Why a restricted key may not post these events, or undefined when it may (then the corrections
 * among them, whose targets must be of its books too, and the book of each event id in the
 * request). Each event must name one of its books; events without a book (prices, instruments,
 * venue-account balances) are firm-wide and need an unrestricted key. A line that is not JSON
 * passes: it can only be rejected (stored with its raw text, which only unrestricted keys see).
 */
function outsideBooks(events: readonly unknown[], allowed: ReadonlySet<string>): string | { corrections: Correction[]; books: Map<string, string> } {
  const corrections: Correction[] = [];
  const books = new Map<string, string>();
  for (const [i, e] of events.entries()) {
    let v = e;
    if (typeof e === 'string') {
      try {
        v = JSON.parse(e);
      } catch (err) {
        if (err instanceof SyntaxError) continue;
        throw err;
      }
    }
    if (typeof v !== 'object' || v === null) continue;
    const { type, book, id, target } = v as { type?: unknown; book?: unknown; id?: unknown; target?: unknown };
    if (type === 'cancel' || type === 'amend') {
      if (typeof target !== 'string') return `event [${i}] is a correction (${type}) without a target`;
      corrections.push({ index: i, type, target });
      continue;
    }
    if (typeof book !== 'string') return `event [${i}] has no book (a ${typeof type === 'string' ? type : 'firm-wide'} event): it needs a key for every book`;
    if (!allowed.has(book)) return `event [${i}] is for book ${JSON.stringify(book)}, which this key may not write`;
    if (typeof id === 'string') books.set(id, book);
  }
  return { corrections, books };
}

/** How many corrections of corrections are followed to find what a correction corrects. */
const CORRECTION_DEPTH = 8;

/**
 * The book of what each id finally corrects (a cancel of an amend of a trade: the trade's book):
 * null for a stored event without a book, absent when not stored.
 */
async function correctedBooks(sql: Service['store']['sql'], ids: readonly string[], inRequest: ReadonlyMap<string, string>): Promise<Map<string, string | null>> {
  const out = new Map<string, string | null>();
  let open = new Map<string, string[]>(ids.map((id) => [id, [id]])); // id looked up → the ids it answers for
  for (let depth = 0; depth < CORRECTION_DEPTH && open.size > 0; depth++) {
    const next = new Map<string, string[]>();
    const { rows } = await sql.query<{ id: string; book: string | null; target: string | null }>(
      `SELECT k.id, k.book, e.target FROM utl_event_keys k
       LEFT JOIN utl_events e ON e.id = k.id AND e.ts = k.ts AND e.book IS NOT DISTINCT FROM k.book
       WHERE k.id = ANY($1::text[])`,
      [[...open.keys()]],
    );
    const found = new Map(rows.map((r) => [r.id, r]));
    for (const [id, askers] of open) {
      const r = found.get(id);
      const inReq = inRequest.get(id);
      if (r === undefined && inReq === undefined) continue;
      if (r !== undefined && r.book === null && r.target !== null) {
        next.set(r.target, [...(next.get(r.target) ?? []), ...askers]);
        continue;
      }
      for (const a of askers) out.set(a, r?.book ?? inReq ?? null);
    }
    open = next;
  }
  return out;
}

export function buildServer(service: Service, options: Partial<HttpOptions> = {}): FastifyInstance {
  const opts = { ...DEFAULT_HTTP, ...options };
  const app = Fastify({ bodyLimit: opts.bodyLimit, logger: false, trustProxy: opts.behindFront === true });
  if (opts.behindFront === true) {
    app.addHook('onSend', async (req, reply) => {
      if (req.method !== 'GET' && req.method !== 'HEAD') void reply.header('x-utl-seq', String(service.stats.lastSeq));
    });
  }
  recordRoutes(app); // before any route: the OpenAPI test holds the document against this list
  const report = (err: unknown, where: string): void => opts.onError?.(err, where);
  // Bodies are read as text: the idempotency digest is of the bytes sent, and JSON Lines is text.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => done(null, body));

  app.setErrorHandler((err: { statusCode?: number; code?: string; message: string }, _req, reply) => {
    const status = err.statusCode ?? 500;
    if (status === 413) return problem(reply, 413, 'BODY_TOO_LARGE', 'Request body too large', `at most ${opts.bodyLimit} bytes`);
    if (status < 500) return problem(reply, status, err.code ?? 'BAD_REQUEST', 'Bad request', err.message);
    report(err, `${_req.method} ${_req.url}`);
    return problem(reply, 500, 'INTERNAL', 'Internal error', 'the error is logged');
  });
  app.setNotFoundHandler((req, reply) => problem(reply, 404, 'NOT_FOUND', 'Not found', `${req.method} ${req.url}`));
  if (opts.auth !== undefined) installAuth(app, opts.auth);
  if (opts.writeLimit !== undefined) installWriteLimit(app, opts.writeLimit);

  app.post('/events', async (req, reply) => {
    const body = typeof req.body === 'string' ? req.body : '';
    const events = eventsOf(body, req.headers['content-type']);
    if (typeof events === 'string') return problem(reply, 400, 'BAD_BODY', 'Unreadable body', events);
    if (events.length > opts.maxEvents) return problem(reply, 413, 'TOO_MANY_EVENTS', 'Too many events', `at most ${opts.maxEvents} per request, got ${events.length}`);
    const allowed = visibleBooks(req);
    if (allowed !== undefined) {
      const checked = outsideBooks(events, allowed);
      if (typeof checked === 'string') return bookForbidden(reply, `nothing was stored: ${checked}`);
      // A restricted key corrects only what is of its books: stored events, or events of this request.
      if (checked.corrections.length > 0) {
        const books = await correctedBooks(service.store.sql, [...new Set(checked.corrections.map((c) => c.target))], checked.books);
        for (const c of checked.corrections) {
          const book = books.get(c.target);
          // One answer whether the target is missing or of another book: no oracle for other books' ids.
          if (book === undefined || book === null || !allowed.has(book)) {
            return bookForbidden(reply, `nothing was stored: event [${c.index}] (${c.type}) corrects ${JSON.stringify(c.target)}, which is not a stored event of a book this key may write`);
          }
        }
      }
    }
    const keyHeader = req.headers['idempotency-key'];
    const key = typeof keyHeader === 'string' && keyHeader.length > 0 ? keyHeader : undefined;
    if (key !== undefined && key.length > 200) return problem(reply, 400, 'BAD_IDEMPOTENCY_KEY', 'Idempotency-Key too long', 'at most 200 characters');
    const request = createHash('sha256').update(body).digest('hex');
    if (key !== undefined) {
      const prior = await service.store.idempotent(key);
      if (prior !== undefined) return replay(reply, prior, request);
    }
    try {
      const r = await service.submit(events, 'http', key === undefined ? undefined : { key, request });
      await audited(principalOf(req)?.name, 'events.post', key ?? 'http', r.results);
      return reply.code(r.status).type('application/json').send(r.body);
    } catch (err) {
      // Two requests with one key at once: the second's commit failed on the key; answer as the first.
      if (key !== undefined) {
        const prior = await service.store.idempotent(key);
        if (prior !== undefined) return replay(reply, prior, request);
      }
      report(err, 'POST /events');
      return problem(reply, 503, 'STORE_UNAVAILABLE', 'The store did not commit the batch', 'nothing was stored: retry with the same Idempotency-Key');
    }
  });

  /**
   * Records a committed POST in utl_audit. The events are committed already: a failed audit write
   * is reported (the service's log), never answered as a failure the client would retry.
   */
  async function audited(actor: string | undefined, action: string, target: string, results: readonly { status: string }[]): Promise<void> {
    if (opts.audit === undefined) return;
    const counts = { accepted: 0, duplicate: 0, rejected: 0 };
    for (const r of results) if (r.status in counts) counts[r.status as keyof typeof counts]++;
    try {
      await opts.audit(actor ?? 'anonymous', action, target, { ...counts, events: results.length });
    } catch (err) {
      report(err, `audit ${action}`);
    }
  }

  function replay(reply: FastifyReply, prior: { request: string; status: number; body: string }, request: string): FastifyReply {
    if (prior.request !== request) return problem(reply, 422, 'IDEMPOTENCY_KEY_REUSED', 'Idempotency-Key already used for another request', 'a key names one request body');
    return reply.code(prior.status).header('idempotent-replayed', 'true').type('application/json').send(prior.body);
  }

  app.get('/positions', async (req, reply) => {
    const q = queryParams(req, reply, ['book', 'asset', 'venue', 'at', 'lots'] as const);
    if (isReply(q)) return q;
    const books = requestedBooks(req, q.book, reply);
    if (books !== undefined && !Array.isArray(books)) return books;
    const at = timeParam(reply, 'at', q.at);
    if (isReply(at)) return at;
    const lots = flagParam(reply, 'lots', q.lots);
    if (isReply(lots)) return lots;
    const options = { ...(books === undefined ? {} : { books }), lots };
    const report = at === undefined ? service.positions(options) : await service.reportAt(at, options);
    const positions = q.asset === undefined && q.venue === undefined ? report.positions : report.positions.filter((p) => (q.asset === undefined || p.asset === q.asset) && (q.venue === undefined || p.byVenue[q.venue] !== undefined));
    // The JSON of { asOf, reporting, seq, positions }, each unchanged position's bytes kept from earlier answers, written in chunks.
    const body = positionsBody({ asOf: report.asOf, reporting: report.reporting, seq: service.stats.lastSeq }, positions);
    return reply.type('application/json; charset=utf-8').header('content-length', body.length).send(Readable.from(body.chunks));
  });

  // A restricted key's aggregates are computed from its books only (the exposure's firm-wide
  // line then covers only those books), never filtered out of the firm's totals.
  const reportFor = (req: FastifyRequest): ReturnType<Service['report']> => {
    const allowed = visibleBooks(req);
    return service.report(allowed === undefined ? {} : { books: [...allowed] });
  };

  app.get('/books', (req) => {
    const r = reportFor(req);
    return { reporting: r.reporting, seq: service.stats.lastSeq, books: r.books };
  });

  app.get('/exposure', (req) => {
    const r = reportFor(req);
    return { seq: service.stats.lastSeq, exposure: r.exposure };
  });

  app.get('/rejected', async (req, reply) => {
    const page = pageQuery(req.query as Record<string, unknown>, reply);
    if (!('limit' in page)) return page;
    const { limit, before: beforeText } = page;
    const allowed = visibleBooks(req);
    type Row = { rid: string; received_at: string; source: string; ref: string | null; event_id: string | null; code: string; message: string; raw: Buffer };
    const show = (r: Row) => ({ id: r.rid, receivedAt: r.received_at, source: r.source, ref: r.ref, eventId: r.event_id, code: r.code, message: r.message, raw: r.raw.toString('utf8') });
    const items: ReturnType<typeof show>[] = [];
    let before = beforeText ?? null;
    // A restricted key sees the rejections whose raw event names one of its books; it reads on
    // past the others, at most REJECTED_SCAN_MAX rows per request (then `next` resumes the scan).
    for (let scanned = 0; items.length < limit && scanned < (allowed === undefined ? limit : REJECTED_SCAN_MAX); ) {
      const { rows } = await service.store.sql.query<Row>(
        `SELECT rid::text, to_char(received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS received_at, source, ref, event_id, code, message, raw
         FROM utl_rejected r WHERE ($1::bigint IS NULL OR r.rid < $1::bigint) ORDER BY r.rid DESC LIMIT $2`,
        [before, allowed === undefined ? limit : Math.max(limit, 200)],
      );
      for (const r of rows) {
        before = r.rid;
        scanned++;
        if (allowed === undefined || allowed.has(bookOfRaw(r.raw) ?? '')) items.push(show(r));
        if (items.length === limit) break;
      }
      if (rows.length === 0) return { items, next: null };
      if (allowed === undefined) break;
    }
    return { items, next: items.length === limit || (allowed !== undefined && before !== null) ? before : null };
  });

  // Events their book could not book (UNVALUED, INSUFFICIENT_QUANTITY…) and corrections that
  // correct nothing: state, not log (a later mark can make an unvalued event bookable).
  // Invalid corrections (book '') are firm-wide: only an unrestricted key sees them.
  app.get('/unbooked', (req) => {
    const allowed = visibleBooks(req);
    const items = service.unbooked();
    return { seq: service.stats.lastSeq, items: allowed === undefined ? items : items.filter((u) => allowed.has(u.book)) };
  });

  // The digest and the counts are of the whole firm's state: a restricted key sees the seq only.
  app.get('/state', (req) => (visibleBooks(req) === undefined ? { seq: service.stats.lastSeq, digest: service.digest(), stats: service.stats } : { seq: service.stats.lastSeq }));

  void app.register(eventRoutes(service));

  app.get('/healthz', () => ({ status: 'ok' }));

  const metrics = opts.metrics;
  if (metrics !== undefined) app.get('/metrics', async (_req, reply) => reply.type(metrics.contentType).send(await metrics.metrics()));

  app.get('/readyz', async (_req, reply) => {
    if (!service.ready) return problem(reply, 503, 'NOT_READY', 'Restoring state', 'the service is replaying the log');
    try {
      await service.store.sql.query('SELECT 1');
    } catch {
      return problem(reply, 503, 'STORE_UNREACHABLE', 'The store does not answer');
    }
    return { status: 'ready', seq: service.stats.lastSeq };
  });

  return app;
}
