/**
 * API keys on the whole HTTP API (`utl start` with auth required, on a real PostgreSQL): every
 * route family answers 401 without a key, 403 with too low a scope, and a key restricted to one
 * book never sees another's: each of its answers is searched, as raw text, for the other book's
 * name. Writes are audited under the key's name; a restricted key's POST that touches another
 * book stores nothing. Rate limits (429) and the small body limit of break actions.
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase } from '../../../test/support/pg.js';
import { quiet, serviceConfig, startOptions, waitUntil } from '../../../test/support/service.js';
import { Authenticator, createKey, type Scope } from '../../app/api-keys.js';
import { startService, type Running } from '../../app/start.js';
import { PgKeyStore } from '../pg/keys-store.js';
import { pgSql } from '../pg/sql.js';
import { PgStore } from '../pg/store.js';
import { Service } from '../../app/service.js';
import { InstrumentRegistry } from '../../domain/instrument.js';
import { wsAuth } from './auth.js';
import { buildServer } from './server.js';
import { WebSocket } from 'ws';

type Json = Record<string, unknown>;

const OPEN = 'desk-open';
const SECRET = 'desk-secret';

const events: Json[] = [
  { type: 'price', id: 'p0', ts: '2026-01-02T09:00:00Z', asset: 'BTC', quote: 'USD', price: '40000' },
  ...[OPEN, SECRET].flatMap((book, i) => [
    { type: 'deposit', id: `dep-${book}`, ts: '2026-01-02T09:00:00Z', book, venue: 'binance', account: 'main', asset: 'USD', qty: '100000' },
    { type: 'trade', id: `t-${book}`, ts: '2026-01-02T10:00:00Z', book, venue: 'binance', account: 'main', instrument: 'BTC/USD', side: 'buy', qty: String(i + 1), price: '40000' },
    // No DOGE mark: unbooked (UNVALUED) in its book.
    { type: 'withdrawal', id: `w-${book}`, ts: '2026-01-02T11:00:00Z', book, venue: 'binance', account: 'main', asset: 'DOGE', qty: '1' },
    // A bad side: rejected, with its raw text.
    { type: 'trade', id: `bad-${book}`, ts: '2026-01-02T10:00:00Z', book, venue: 'binance', instrument: 'BTC/USD', side: 'hold', qty: '1', price: '1' },
    // The venue reports less BTC than the book holds: a break in the book.
    { type: 'balance', id: `bal-${book}`, ts: '2026-01-02T12:00:00Z', book, venue: 'binance', account: 'main', asset: 'BTC', total: '0.5' },
  ]),
  // A venue-account report (no book): a break whose book is null.
  { type: 'balance', id: 'bal-shared', ts: '2026-01-02T12:00:00Z', venue: 'binance', account: 'main', asset: 'USD', total: '1' },
];

describe('API keys', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let running: Running;
  let sql: ReturnType<typeof pgSql>;
  const tokens: Record<string, string> = {};
  const key = async (name: string, scope: Scope, books: string[] | null): Promise<string> => (await createKey(new PgKeyStore(sql), { name, scope, books })).token;

  const call = async (method: string, path: string, token: string | undefined, body?: unknown): Promise<{ status: number; text: string; headers: Headers }> => {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (token !== undefined) headers.authorization = `Bearer ${token}`;
    const r = await fetch(`${running.url}${path}`, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    return { status: r.status, text: await r.text(), headers: r.headers };
  };
  const json = (r: { text: string }): Json => JSON.parse(r.text) as Json;

  beforeAll(async () => {
    db = await freshDatabase();
    running = await startService(startOptions({ service: serviceConfig(), databaseUrl: db.url, auth: 'required', writeLimit: { max: 1000, timeWindowMs: 60_000 } }));
    sql = pgSql(db.url);
    tokens.admin = await key('ops-admin', 'admin', null);
    tokens.reader = await key('risk-reader', 'read', null);
    tokens.writer = await key('feed-writer', 'write', null);
    tokens.openReader = await key('open-reader', 'read', [OPEN]);
    tokens.openWriter = await key('open-writer', 'write', [OPEN]);
    const posted = await call('POST', '/events', tokens.admin, events);
    expect(posted.status).toBe(200);
    await waitUntil(async () => ((json(await call('GET', '/breaks', tokens.admin)).items as unknown[]) ?? []).length >= 3, 5000, 'three breaks');
    // The official end of 2026-01-02 (admin only): what GET /snapshots/:day and /pnl read.
    expect((await call('POST', '/snapshots', tokens.admin, { day: '2026-01-02' })).status).toBe(201);
  });
  afterAll(async () => {
    await running.stop();
    await sql.close();
    await db.drop();
  });

  it('the keys table holds hashes, never tokens; a key finds itself; a malformed, unknown or revoked one does not', async () => {
    const { rows } = await sql.query<{ hash: string; scope: string; books: string | null }>('SELECT hash, scope, books::text AS books FROM utl_api_keys ORDER BY name');
    expect(rows).toHaveLength(5);
    // The secret is everything after `utl_<16 hex id>_` (base64url: it may itself hold `_`).
    for (const t of Object.values(tokens)) expect(JSON.stringify(rows)).not.toContain(t.slice('utl_'.length + 16 + 1));
    const auth = new Authenticator(new PgKeyStore(sql), { cacheMs: 0 });
    expect((await auth.authenticate(tokens.openReader!))).toMatchObject({ name: 'open-reader', scope: 'read' });
    expect(await auth.authenticate('utl_0123456789abcdef_' + 'A'.repeat(43))).toBeUndefined();
    expect(await auth.authenticate(tokens.openReader!.slice(0, -1) + (tokens.openReader!.endsWith('A') ? 'B' : 'A'))).toBeUndefined();
    const doomed = await createKey(new PgKeyStore(sql), { name: 'doomed', scope: 'admin', books: null });
    expect(await new PgKeyStore(sql).revoke(doomed.id)).toBe(true);
    const r = await call('GET', '/positions', doomed.token);
    expect(r.status).toBe(401);
    expect(r.headers.get('www-authenticate')).toContain('invalid_token');
  });

  it('health and readiness stay open', async () => {
    expect((await call('GET', '/healthz', undefined)).status).toBe(200);
    expect((await call('GET', '/readyz', undefined)).status).toBe(200);
  });

  const families: [string, string, unknown?][] = [
    ['GET', '/positions'],
    ['GET', '/books'],
    ['GET', '/exposure'],
    ['GET', '/unbooked'],
    ['GET', '/rejected'],
    ['GET', '/events'],
    ['GET', '/state'],
    ['GET', '/metrics'],
    ['GET', '/breaks'],
    ['GET', '/breaks/brk:bal-desk-open'],
    ['GET', '/alerts'],
    ['GET', '/alerts/history'],
    ['GET', '/recon/transfers'],
    ['GET', '/checks'],
    ['GET', '/audit'],
    ['GET', '/balances'],
    ['GET', '/pnl'],
    ['GET', '/snapshots'],
    ['GET', '/snapshots/2026-01-02'],
    ['GET', '/export/positions'],
    ['GET', '/export/events?format=jsonl'],
    ['GET', '/no-such-route'],
    ['POST', '/events', []],
    ['POST', '/breaks/brk:bal-desk-open/acknowledge', { note: 'x' }],
    ['POST', '/breaks/brk:bal-desk-open/resolve', { reason: 'x' }],
    ['POST', '/recon/balances', { venue: 'binance', balance: {} }],
    ['POST', '/recon/trades', { venue: 'binance', trades: [] }],
    ['POST', '/snapshots', { day: '2026-01-01' }],
  ];

  it.each(families)('%s %s without a key, or with a bad one: 401 problem+json with WWW-Authenticate', async (method, path, body) => {
    const none = await call(method, path, undefined, body);
    expect(none.status).toBe(401);
    expect(none.headers.get('content-type')).toContain('application/problem+json');
    expect(json(none)).toMatchObject({ status: 401, code: 'UNAUTHENTICATED' });
    expect(none.headers.get('www-authenticate')).toBe('Bearer realm="utl"');
    const bad = await call(method, path, 'utl_0123456789abcdef_nope', body);
    expect(bad.status).toBe(401);
    expect(bad.headers.get('www-authenticate')).toContain('error="invalid_token"');
    const viaHeader = await fetch(`${running.url}${path}`, { method, headers: { 'x-api-key': 'not-a-token', 'content-type': 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    expect(viaHeader.status).toBe(401);
  });

  it.each(families.filter(([m]) => m === 'POST'))('%s %s with a read key: 403 FORBIDDEN, nothing stored', async (method, path, body) => {
    const before = await running.service.store.counts();
    const r = await call(method, path, tokens.reader, body);
    expect(r.status).toBe(403);
    expect(json(r)).toMatchObject({ status: 403, code: 'FORBIDDEN' });
    expect(r.headers.get('www-authenticate')).toContain('insufficient_scope');
    expect(await running.service.store.counts()).toEqual(before);
  });

  it('taking an EOD snapshot needs admin, and is audited under the key name', async () => {
    expect((await call('POST', '/snapshots', tokens.writer, { day: '2026-01-01' })).status).toBe(403);
    const r = await call('POST', '/snapshots', tokens.admin, { day: '2026-01-01' });
    expect(r.status).toBe(201);
    const trail = json(await call('GET', '/audit?target=snapshot:2026-01-01', tokens.admin)).items as Json[];
    expect(trail.map((a) => [a.actor, a.action])).toEqual([['ops-admin', 'snapshot.take']]);
  });

  it('/audit needs admin: 403 with a write key, 200 with admin; X-API-Key works as Bearer does', async () => {
    expect((await call('GET', '/audit', tokens.writer)).status).toBe(403);
    expect((await call('GET', '/audit', tokens.admin)).status).toBe(200);
    const r = await fetch(`${running.url}/positions`, { headers: { 'x-api-key': tokens.reader! } });
    expect(r.status).toBe(200);
  });

  it.each([
    ['/positions', true],
    ['/positions?at=2026-01-02T10:30:00Z', true],
    ['/books', true],
    ['/exposure', true],
    ['/unbooked', true],
    ['/rejected', true],
    ['/events', true],
    ['/breaks?status=all', true],
    ['/balances', true],
    ['/balances?at=2026-01-02T10:30:00Z', true],
    ['/pnl', true],
    ['/pnl?at=2026-01-03T00:00:00Z', true],
    ['/snapshots/2026-01-02?lots=1', true],
    ['/snapshots/2026-01-03?type=sod', true],
    ['/export/positions', true],
    ['/export/positions?format=json&at=2026-01-02T10:30:00Z', true],
    ['/export/lots', true],
    ['/export/pnl?from=2026-01-01T00:00:00Z', true],
    ['/export/pnl?format=json&from=2026-01-02T10:30:00Z', true],
    ['/export/events', true],
    ['/export/events?format=jsonl', true],
  ])('a key restricted to one book: GET %s never names another book (/state: see below, no digest)', async (path, showsOwn) => {
    const all = await call('GET', path, tokens.admin);
    expect(all.status).toBe(200);
    expect(all.text).toContain(SECRET); // the route does show it to a key for every book…
    const mine = await call('GET', path, tokens.openReader);
    expect(mine.status).toBe(200);
    expect(mine.text).not.toContain(SECRET); // …and never to a key restricted to another
    if (showsOwn) expect(mine.text).toContain(OPEN);
  });

  it('a restricted key: aggregates are of its books only; firm-wide routes and other books are 403; hidden breaks 404', async () => {
    const exposure = json(await call('GET', '/exposure', tokens.openReader)).exposure;
    expect(JSON.parse(JSON.stringify(exposure))).toEqual(JSON.parse(JSON.stringify(running.service.report({ books: [OPEN] }).exposure)));
    expect(exposure).not.toEqual(JSON.parse(JSON.stringify(running.service.report().exposure)));
    for (const path of ['/alerts', '/alerts/history', '/recon/transfers', '/checks', '/metrics', `/positions?book=${SECRET}`, `/positions?book=${OPEN},${SECRET}`, `/events?book=${SECRET}`, `/balances?book=${SECRET}`, `/pnl?book=${SECRET}`, `/snapshots/2026-01-02?book=${SECRET}`, `/export/events?book=${SECRET}`, `/export/pnl?book=${OPEN},${SECRET}`]) {
      const r = await call('GET', path, tokens.openReader);
      expect(r.status, path).toBe(403);
      expect(json(r), path).toMatchObject({ code: 'FORBIDDEN' });
    }
    expect((await call('GET', `/breaks/brk:bal-${SECRET}`, tokens.openReader)).status).toBe(404);
    expect((await call('GET', '/breaks/brk:bal-shared', tokens.openReader)).status).toBe(404);
    expect((await call('GET', `/breaks/brk:bal-${OPEN}`, tokens.openReader)).status).toBe(200);
    expect((await call('POST', `/breaks/brk:bal-${SECRET}/acknowledge`, tokens.openWriter, { note: 'x' })).status).toBe(404);
    expect(json(await call('GET', '/state', tokens.openReader))).toEqual({ seq: expect.any(Number) as number });
    // Snapshots: the day list says nothing of the firm's size; a day shows the key's books, without the firm's exposure.
    expect((json(await call('GET', '/snapshots', tokens.openReader)).items as Json[]).every((d) => d.books === undefined)).toBe(true);
    const day = json(await call('GET', '/snapshots/2026-01-02', tokens.openReader));
    expect([day.exposure, day.venueBalances]).toEqual([undefined, undefined]);
    expect((day.books as Json[]).map((b) => b.book)).toEqual([OPEN]);
    expect((json(await call('GET', '/pnl', tokens.openReader)).books as Json[]).map((b) => b.book)).toEqual([OPEN]);
  });

  it('a restricted writer: one event of another book (or firm-wide, or a correction) refuses the whole request, nothing committed', async () => {
    const before = await running.service.store.counts();
    const mine = { type: 'trade', id: 'ow-1', ts: '2026-01-02T13:00:00Z', book: OPEN, venue: 'binance', instrument: 'BTC/USD', side: 'sell', qty: '0.1', price: '41000' };
    for (const other of [
      { ...mine, id: 'ow-x', book: SECRET },
      { type: 'price', id: 'ow-p', ts: '2026-01-02T13:00:00Z', asset: 'BTC', quote: 'USD', price: '1' },
      { type: 'cancel', id: 'ow-c', ts: '2026-01-02T13:00:00Z', target: `t-${SECRET}` },
    ]) {
      const r = await call('POST', '/events', tokens.openWriter, [mine, other]);
      expect(r.status).toBe(403);
      expect(json(r)).toMatchObject({ code: 'FORBIDDEN' });
    }
    const ndjson = await fetch(`${running.url}/events`, { method: 'POST', headers: { authorization: `Bearer ${tokens.openWriter!}`, 'content-type': 'application/x-ndjson' }, body: `${JSON.stringify(mine)}\n${JSON.stringify({ ...mine, id: 'ow-y', book: SECRET })}\n` });
    expect(ndjson.status).toBe(403);
    expect(await running.service.store.counts()).toEqual(before);
    const ok = await call('POST', '/events', tokens.openWriter, [mine]);
    expect(ok.status).toBe(200);
    expect(json(ok)).toMatchObject({ accepted: 1 });
    // Corrections of its own book's events: stored ones, and ones of the same request.
    const amend = { type: 'amend', id: 'ow-a', ts: '2026-01-02T13:01:00Z', target: 'ow-1', fields: { price: '41500' } };
    const ownNew = { ...mine, id: 'ow-2', ts: '2026-01-02T13:02:00Z' };
    const cancelNew = { type: 'cancel', id: 'ow-c2', ts: '2026-01-02T13:03:00Z', target: 'ow-2' };
    const corrected = await call('POST', '/events', tokens.openWriter, [amend, ownNew, cancelNew]);
    expect(corrected.status, corrected.text).toBe(200);
    expect(json(corrected)).toMatchObject({ accepted: 3 });
    // A cancel of its own amend (a correction of a correction): followed to the trade, of its book.
    expect((await call('POST', '/events', tokens.openWriter, [{ type: 'cancel', id: 'ow-ca', ts: '2026-01-02T13:04:00Z', target: 'ow-a' }])).status).toBe(200);
    // Not stored, or of no book (a price): refused; nothing stored.
    const countsBefore = await running.service.store.counts();
    const details: string[] = [];
    for (const target of ['no-such-event', 'p0', `dep-${SECRET}`]) {
      const r = await call('POST', '/events', tokens.openWriter, [{ type: 'cancel', id: 'ow-x', ts: '2026-01-02T13:05:00Z', target }]);
      expect(r.status, target).toBe(403);
      details.push(String(json(r).detail).replace(JSON.stringify(target), 'T'));
    }
    // The same answer whether the target is missing or another book's: existence does not leak.
    expect(new Set(details).size).toBe(1);
    expect(await running.service.store.counts()).toEqual(countsBefore);
  });

  it('writes are audited under the key name; `by` defaults to it and may not name someone else', async () => {
    const audit = async (): Promise<{ actor: string; action: string; target: string; detail: Json }[]> => json(await call('GET', '/audit?limit=50', tokens.admin)).items as never;
    expect((await audit()).find((a) => a.action === 'events.post' && a.actor === 'open-writer')).toMatchObject({ detail: { accepted: 1 } });
    expect((await audit()).find((a) => a.action === 'events.post' && a.actor === 'ops-admin')).toBeDefined();
    const spoof = await call('POST', `/breaks/brk:bal-${OPEN}/acknowledge`, tokens.openWriter, { by: 'ops-admin', note: 'not me' });
    expect(spoof.status).toBe(403);
    const ack = await call('POST', `/breaks/brk:bal-${OPEN}/acknowledge`, tokens.openWriter, { note: 'looking' });
    expect(ack.status).toBe(200);
    const own = await call('POST', `/breaks/brk:bal-${OPEN}/resolve`, tokens.openWriter, { by: 'open-writer', reason: 'venue lags' });
    expect(own.status).toBe(200);
    const trail = (await audit()).filter((a) => a.target === `brk:bal-${OPEN}`);
    expect(trail.map((a) => [a.actor, a.action])).toEqual([
      ['open-writer', 'break.resolve'],
      ['open-writer', 'break.acknowledge'],
    ]);
    const balances = await call('POST', '/recon/balances', tokens.writer, { venue: 'kraken', book: OPEN, asOf: '2026-01-02T12:00:00Z', balance: { info: {}, BTC: { free: 0, used: 0, total: 0 }, free: { BTC: 0 }, used: { BTC: 0 }, total: { BTC: 0 } } });
    expect(balances.status).toBe(200);
    expect((await audit()).find((a) => a.action === 'recon.balances')).toMatchObject({ actor: 'feed-writer', target: 'kraken/default' });
  });

  it('break actions take small bodies only: 413 over 64 KiB', async () => {
    const r = await call('POST', `/breaks/brk:bal-${SECRET}/acknowledge`, tokens.admin, { note: 'x'.repeat(70 * 1024) });
    expect(r.status).toBe(413);
    expect(r.headers.get('content-type')).toContain('application/problem+json');
  });

  it('the dashboard page is open; GET /ws takes the key as ?token= (browsers cannot set headers there), other routes do not', async () => {
    expect((await call('GET', '/', undefined)).status).toBe(200);
    expect((await call('GET', '/ui/app.js', undefined)).headers.get('content-type')).toContain('javascript');
    expect((await call('GET', `/positions?token=${tokens.reader!}`, undefined)).status).toBe(401);
    // A bad ?token= on /ws is read, and refused as a bad key (not as a missing one).
    const bad = await call('GET', `/ws?token=utl_0000000000000000_${'x'.repeat(43)}`, undefined);
    expect([bad.status, bad.headers.get('www-authenticate')]).toEqual([401, 'Bearer realm="utl", error="invalid_token"']);
    const wsUrl = running.url.replace('http', 'ws');
    const ws = new WebSocket(`${wsUrl}/ws?token=${tokens.openReader!}`);
    const first = new Promise<Json>((r) => ws.once('message', (d: Buffer) => r(JSON.parse(d.toString('utf8')) as Json)));
    ws.on('open', () => ws.send(JSON.stringify({ op: 'subscribe', books: '*' })));
    expect(await first).toMatchObject({ type: 'snapshot', book: OPEN });
    const closed = new Promise((r) => ws.once('close', r));
    ws.close();
    await closed;
  });

  it('the WebSocket plugin gets the visibility of the request the hook authenticated', async () => {
    const app = buildServer(running.service, { auth: new Authenticator(new PgKeyStore(sql)) });
    let seen: { canSee(book: string): boolean } | undefined;
    app.get('/probe', (req) => {
      seen = wsAuth.authenticate(req);
      return {};
    });
    expect((await app.inject({ url: '/probe', headers: { authorization: `Bearer ${tokens.openReader!}` } })).statusCode).toBe(200);
    expect([seen?.canSee(OPEN), seen?.canSee(SECRET)]).toEqual([true, false]);
    await app.close();
  });

  it('a key revoked while in use is refused within 3 s (the HTTP front keeps a key 1 s, the API 2 s), its answers served until then', async () => {
    const k = await createKey(new PgKeyStore(sql), { name: 'busy', scope: 'read', books: [OPEN] });
    const mine = await call('GET', '/positions', k.token);
    expect(mine.status).toBe(200);
    expect(mine.text).toContain(OPEN);
    expect(mine.text).not.toContain(SECRET);
    expect(await new PgKeyStore(sql).revoke(k.id)).toBe(true);
    const t0 = Date.now();
    let status = 200;
    while (status === 200 && Date.now() - t0 < 6000) {
      const r = await call('GET', '/positions', k.token);
      status = r.status;
      if (status === 200) expect(r.text).not.toContain(SECRET);
      await new Promise((res) => setTimeout(res, 50));
    }
    expect(status).toBe(401);
    expect(Date.now() - t0).toBeLessThan(4500); // 3 s, and room for a slow machine
  });
});

describe('rate limits on writes', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let sql: ReturnType<typeof pgSql>;
  let service: Service;
  let app: FastifyInstance;

  beforeAll(async () => {
    db = await freshDatabase();
    sql = pgSql(db.url);
    service = new Service(new PgStore(sql, new InstrumentRegistry()), undefined, serviceConfig(), quiet);
    await service.start();
    app = buildServer(service, { auth: new Authenticator(new PgKeyStore(sql)), writeLimit: { max: 2, timeWindowMs: 60_000 } });
  });
  afterAll(async () => {
    await app.close();
    await service.stop();
    await sql.close();
    await db.drop();
  });

  it('past the limit a key gets 429 problem+json with Retry-After; another key has its own count; reads are not limited', async () => {
    const a = (await createKey(new PgKeyStore(sql), { name: 'a', scope: 'write', books: null })).token;
    const b = (await createKey(new PgKeyStore(sql), { name: 'b', scope: 'write', books: null })).token;
    const post = (t: string) => app.inject({ method: 'POST', url: '/events', headers: { authorization: `Bearer ${t}`, 'content-type': 'application/json' }, payload: '[]' });
    expect([(await post(a)).statusCode, (await post(a)).statusCode]).toEqual([200, 200]);
    const limited = await post(a);
    expect(limited.statusCode).toBe(429);
    expect(limited.headers['content-type']).toContain('application/problem+json');
    expect(limited.json()).toMatchObject({ status: 429, code: 'RATE_LIMITED' });
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect((await post(b)).statusCode).toBe(200);
    for (let i = 0; i < 5; i++) expect((await app.inject({ url: '/state', headers: { authorization: `Bearer ${a}` } })).statusCode).toBe(200);
  });
});
