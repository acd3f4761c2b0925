/**
 * GET /events (and GET /positions?lots=1) on a real service (PostgreSQL server, fresh database): filters by book, venue, asset,
 * id, type and time; newest first; cursor pages that cover the log once; bad parameters are 400s.
 */
import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase } from '../../../test/support/pg.js';
import { quiet, serviceConfig } from '../../../test/support/service.js';
import { Service } from '../../app/service.js';
import { Dec } from '../../domain/decimal.js';
import { InstrumentRegistry } from '../../domain/instrument.js';
import { pgSql } from '../pg/sql.js';
import { PgStore } from '../pg/store.js';
import { buildServer } from './server.js';

const lines = readFileSync('examples/desk.jsonl', 'utf8').split('\n').filter((l) => l.trim().length > 0);

interface Page {
  items: { seq: number; ts: string; id: string; type: string; book: string | null; event: Record<string, unknown> }[];
  next: string | null;
}

describe('GET /events', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let sql: ReturnType<typeof pgSql>;
  let service: Service;
  let app: FastifyInstance;
  const get = async (url: string): Promise<Page> => {
    const r = await app.inject({ url });
    expect(r.statusCode, r.body).toBe(200);
    return r.json<Page>();
  };

  beforeAll(async () => {
    db = await freshDatabase();
    sql = pgSql(db.url);
    service = new Service(new PgStore(sql, new InstrumentRegistry()), undefined, serviceConfig(), quiet);
    await service.start();
    app = buildServer(service, {});
    const r = await app.inject({ method: 'POST', url: '/events', headers: { 'content-type': 'application/x-ndjson' }, payload: lines.join('\n') });
    expect(r.statusCode).toBe(200);
  });
  afterAll(async () => {
    await app.close();
    await service.stop();
    await sql.close();
    await db.drop();
  });

  it('pages through the whole log once, newest first', async () => {
    const seen: string[] = [];
    let url = '/events?limit=7';
    let last = Number.MAX_SAFE_INTEGER;
    for (let page = 0; page < 20; page++) {
      const p = await get(url);
      for (const e of p.items) {
        expect(Date.parse(e.ts)).toBeLessThanOrEqual(last);
        last = Date.parse(e.ts);
        seen.push(e.id);
      }
      if (p.next === null) break;
      url = `/events?limit=7&cursor=${p.next}`;
    }
    const all = (await get('/events?limit=1000')).items.map((e) => e.id);
    expect(seen).toEqual(all);
    expect(new Set(seen).size).toBe(seen.length);
    expect(all.length).toBeGreaterThan(30);
  });

  it('filters by book, venue, asset, id, type and time', async () => {
    const mm = (await get('/events?book=mm&limit=1000')).items;
    expect(mm.length).toBeGreaterThan(0);
    expect(mm.every((e) => e.book === 'mm')).toBe(true);
    const okx = (await get('/events?venue=okx&limit=1000')).items;
    expect(okx.length).toBeGreaterThan(0);
    expect(okx.every((e) => e.event.venue === 'okx' || e.event.from === 'okx' || e.event.to === 'okx')).toBe(true);
    const btc = (await get('/events?asset=BTC&type=trade&limit=1000')).items;
    expect(btc.length).toBeGreaterThan(0);
    expect(btc.every((e) => e.type === 'trade' && String(e.event.instrument).split(/[/:]/).slice(0, 2).includes('BTC'))).toBe(true);
    const one = (await get(`/events?id=${mm[0]!.id}`)).items;
    expect(one.map((e) => e.id)).toEqual([mm[0]!.id]);
    const window = (await get('/events?from=2026-01-02T10:00:00Z&to=2026-01-02T11:00:00Z&limit=1000')).items;
    expect(window.length).toBeGreaterThan(0);
    expect(window.every((e) => Date.parse(e.ts) >= Date.parse('2026-01-02T10:00:00Z') && Date.parse(e.ts) <= Date.parse('2026-01-02T11:00:00Z'))).toBe(true);
  });

  it('pages a run of events on one instant whose seqs cross a power of ten: each once, by seq', async () => {
    // Ordered as text, seq 100 would come before 99 and a cursor would skip or repeat rows.
    const at = '2026-01-05T00:00:00Z';
    const run = Array.from({ length: 120 }, (_, i) => ({ type: 'deposit', id: `tie-${i}`, ts: at, book: 'ties', venue: 'binance', asset: 'USD', qty: '1' }));
    expect((await app.inject({ method: 'POST', url: '/events', headers: { 'content-type': 'application/json' }, payload: JSON.stringify(run) })).statusCode).toBe(200);
    const seqs: number[] = [];
    let url = '/events?book=ties&limit=7';
    for (let page = 0; page < 40; page++) {
      const p = await get(url);
      seqs.push(...p.items.map((e) => e.seq));
      if (p.next === null) break;
      url = `/events?book=ties&limit=7&cursor=${p.next}`;
    }
    expect(seqs).toHaveLength(120);
    expect(seqs).toEqual([...seqs].sort((a, b) => b - a));
    expect(seqs.some((q) => q < 100) && seqs.some((q) => q >= 100)).toBe(true);
  });

  it('GET /positions?lots=1 gives each spot position its open lots, which add up to it', async () => {
    const r = await app.inject({ url: '/positions?book=mm&lots=1' });
    const positions = r.json<{ positions: { kind: string; qty: string; lots?: { qty: string; cost: string }[] }[] }>().positions;
    const spot = positions.filter((p) => p.kind === 'spot' && p.qty !== '0');
    expect(spot.length).toBeGreaterThan(0);
    for (const p of spot) expect(p.lots!.reduce((s, l) => s.add(Dec.of(l.qty)), Dec.ZERO).toString()).toBe(Dec.of(p.qty).toString());
    expect((await app.inject({ url: '/positions?book=mm' })).json<{ positions: { lots?: unknown }[] }>().positions.every((p) => p.lots === undefined)).toBe(true);
    expect((await app.inject({ url: '/positions?lots=yes' })).statusCode).toBe(400);
  });

  it('answers bad parameters with problem+json', async () => {
    for (const url of ['/events?limit=0', '/events?type=nope', '/events?from=yesterday', '/events?cursor=zzz', '/events?book=a&book=b']) {
      const r = await app.inject({ url });
      expect(r.statusCode, url).toBe(400);
      expect(r.headers['content-type']).toContain('application/problem+json');
    }
  });
});
