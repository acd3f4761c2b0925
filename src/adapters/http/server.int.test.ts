/**
 * The HTTP API on a real service (PostgreSQL server, fresh database), through fastify's inject:
 * every route, its errors as problem+json, Idempotency-Key, and answers that equal `utl replay`.
 */
import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase } from '../../../test/support/pg.js';
import { offline, quiet, serviceConfig, SETTINGS } from '../../../test/support/service.js';
import { replayFile } from '../../app/replay.js';
import { Service } from '../../app/service.js';
import { InstrumentRegistry } from '../../domain/instrument.js';
import { parseTimestamp } from '../../domain/time.js';
import { pgSql } from '../pg/sql.js';
import { PgStore } from '../pg/store.js';
import { buildServer } from './server.js';

const DESK = 'examples/desk.jsonl';
const deskLines = readFileSync(DESK, 'utf8').split('\n').filter((l) => l.trim().length > 0);

describe('HTTP API', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let sql: ReturnType<typeof pgSql>;
  let service: Service;
  let app: FastifyInstance;

  beforeAll(async () => {
    db = await freshDatabase();
    sql = pgSql(db.url);
    service = new Service(new PgStore(sql, new InstrumentRegistry()), undefined, serviceConfig(), quiet);
    await service.start();
    app = buildServer(service, { maxEvents: 100, bodyLimit: 64 * 1024 });
  });
  afterAll(async () => {
    await app.close();
    await service.stop();
    await sql.close();
    await db.drop();
  });

  it('answers health and readiness', async () => {
    expect((await app.inject({ url: '/healthz' })).json()).toEqual({ status: 'ok' });
    const r = await app.inject({ url: '/readyz' });
    expect(r.statusCode).toBe(200);
    expect(r.json()).toMatchObject({ status: 'ready' });
  });

  it('POST /events (JSON Lines) books the desk log; a repeat with the same Idempotency-Key is answered from the store', async () => {
    const body = readFileSync(DESK, 'utf8');
    const first = await app.inject({ method: 'POST', url: '/events', headers: { 'content-type': 'application/x-ndjson', 'idempotency-key': 'desk-1' }, payload: body });
    expect(first.statusCode).toBe(200);
    const a = first.json<{ accepted: number; duplicate: number; rejected: number; results: { status: string; code?: string }[] }>();
    expect([a.accepted, a.duplicate, a.rejected]).toEqual([deskLines.length - 2, 1, 1]);
    expect(a.results.find((r) => r.status === 'rejected')!.code).toBe('UNKNOWN_SIDE');

    const again = await app.inject({ method: 'POST', url: '/events', headers: { 'content-type': 'application/x-ndjson', 'idempotency-key': 'desk-1' }, payload: body });
    expect(again.statusCode).toBe(200);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.body).toBe(first.body);

    const reuse = await app.inject({ method: 'POST', url: '/events', headers: { 'content-type': 'application/x-ndjson', 'idempotency-key': 'desk-1' }, payload: deskLines.slice(0, 3).join('\n') });
    expect(reuse.statusCode).toBe(422);
    expect(reuse.headers['content-type']).toContain('application/problem+json');
    expect(reuse.json()).toMatchObject({ status: 422, code: 'IDEMPOTENCY_KEY_REUSED' });

    // Without a key the same events are duplicates (idempotency by event id), the state unchanged.
    const digest = service.digest();
    const dup = await app.inject({ method: 'POST', url: '/events', headers: { 'content-type': 'application/json' }, payload: `[${deskLines.slice(0, 5).join(',')}]` });
    expect(dup.json<{ duplicate: number }>().duplicate).toBe(5);
    expect(service.digest()).toBe(digest);
  });

  it('GET /state gives the digest of utl replay on the same log', async () => {
    const expected = await offline(deskLines);
    const r = (await app.inject({ url: '/state' })).json<{ digest: string; seq: number }>();
    expect(r.digest).toBe(expected.digest);
    expect(r.seq).toBeGreaterThan(0);
  });

  it('GET /positions filters by book, asset and venue; ?at= equals utl replay --at', async () => {
    const all = (await app.inject({ url: '/positions' })).json<{ positions: { book: string; asset: string; byVenue: Record<string, string> }[] }>();
    const offlineNow = await offline(deskLines);
    expect(all.positions).toEqual(offlineNow.report.positions);
    const mm = (await app.inject({ url: '/positions?book=mm&asset=BTC' })).json<{ positions: { book: string; asset: string }[] }>();
    expect(mm.positions.length).toBeGreaterThan(0);
    expect(mm.positions.every((p) => p.book === 'mm' && p.asset === 'BTC')).toBe(true);
    const okx = (await app.inject({ url: '/positions?venue=okx' })).json<{ positions: { byVenue: Record<string, string> }[] }>();
    expect(okx.positions.every((p) => p.byVenue.okx !== undefined)).toBe(true);

    const at = '2026-01-02T12:00:00Z';
    const past = (await app.inject({ url: `/positions?at=${at}` })).json<{ asOf: string; positions: unknown[] }>();
    const then = await replayFile(DESK, { settings: SETTINGS, reporting: 'USD', cashLike: [], until: parseTimestamp(at), ccxt: {}, lots: false });
    expect(past.asOf).toBe(at);
    expect(past.positions).toEqual(then.report.positions);
  });

  it('bad queries are 400 problems, unknown routes 404', async () => {
    for (const url of ['/positions?at=yesterday', '/positions?book=a&book=b', '/rejected?limit=0', '/rejected?limit=2.5', '/rejected?before=abc']) {
      const r = await app.inject({ url });
      expect(r.statusCode, url).toBe(400);
      expect(r.headers['content-type'], url).toContain('application/problem+json');
    }
    const nf = await app.inject({ url: '/nope' });
    expect(nf.statusCode).toBe(404);
    expect(nf.json()).toMatchObject({ code: 'NOT_FOUND', status: 404 });
  });

  it('bad bodies: unreadable 400, too many events 413, too large 413; nothing stored', async () => {
    const before = await service.store.counts();
    const bad = await app.inject({ method: 'POST', url: '/events', headers: { 'content-type': 'application/json' }, payload: '{"type":' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ code: 'BAD_BODY' });
    const many = await app.inject({ method: 'POST', url: '/events', headers: { 'content-type': 'application/json' }, payload: JSON.stringify(Array.from({ length: 101 }, () => ({}))) });
    expect(many.statusCode).toBe(413);
    expect(many.json()).toMatchObject({ code: 'TOO_MANY_EVENTS' });
    const large = await app.inject({ method: 'POST', url: '/events', headers: { 'content-type': 'application/json' }, payload: `["${'x'.repeat(70 * 1024)}"]` });
    expect(large.statusCode).toBe(413);
    expect(await service.store.counts()).toEqual(before);
  });

  it('GET /rejected pages newest first with raw text; GET /unbooked lists what books refused', async () => {
    await app.inject({ method: 'POST', url: '/events', headers: { 'content-type': 'application/json' }, payload: JSON.stringify([{ type: 'trade', id: 'r-1' }, { type: 'price', id: 'r-2', ts: 'x' }, { type: 'withdrawal', id: 'w-unvalued', ts: '2026-01-03T00:00:00Z', book: 'mm', venue: 'binance', asset: 'DOGE', qty: '1' }]) });
    const p1 = (await app.inject({ url: '/rejected?limit=2' })).json<{ items: { id: string; eventId: string; raw: string }[]; next: string | null }>();
    expect(p1.items.map((i) => i.eventId)).toEqual(['r-2', 'r-1']);
    expect(JSON.parse(p1.items[0]!.raw)).toMatchObject({ id: 'r-2' });
    const p2 = (await app.inject({ url: `/rejected?limit=2&before=${p1.next!}` })).json<{ items: { eventId: string | null; code: string }[] }>();
    expect(p2.items.map((i) => i.code)).toContain('UNKNOWN_SIDE');
    const unbooked = (await app.inject({ url: '/unbooked' })).json<{ items: { id: string; code: string }[] }>();
    expect(unbooked.items.find((u) => u.id === 'w-unvalued')).toMatchObject({ code: expect.any(String) as string });
  });
});
