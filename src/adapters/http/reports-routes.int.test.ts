/**
 * Balances, PnL over periods, end-of-day snapshots and exports on a real service (PostgreSQL
 * server, fresh database), with the wall clock set to 2026-01-03T12:00Z. A hand-computed desk:
 *   2025-12-30 buy 1 BTC @ 100, mark 100        EOD 12-30: total 0
 *   2025-12-31 mark 110                          EOD 12-31: unrealized 10, total 10
 *   2026-01-02 sell 0.5 @ 120, fee 1 USD, mark 120   EOD 01-02: realized 10, unrealized 10, fees 1, total 19
 *   2026-01-03 mark 130                          now: realized 10, unrealized 15, fees 1, total 24
 * so today = 5, MTD = YTD = 14 (since EOD 12-31), inception = 24.
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseCsv } from 'csv-parse/sync';
import { freshDatabase } from '../../../test/support/pg.js';
import { quiet, serviceConfig } from '../../../test/support/service.js';
import { Service } from '../../app/service.js';
import { Snapshots } from '../../app/snapshots.js';
import { InstrumentRegistry } from '../../domain/instrument.js';
import { PgSnapshotStore } from '../pg/snapshot-store.js';
import { pgSql } from '../pg/sql.js';
import { PgStore } from '../pg/store.js';
import { routePolicy } from './auth.js';
import { reportRoutes } from './reports-routes.js';
import { buildServer } from './server.js';

type Json = Record<string, unknown>;
type Figures = Record<'realized' | 'unrealized' | 'fees' | 'funding' | 'total', string | null>;
interface PnlAnswer {
  at: string;
  periods: Record<'today' | 'mtd' | 'ytd', Json>;
  books: { book: string; periods: Record<'today' | 'mtd' | 'ytd' | 'inception', Figures> }[];
  positions: { book: string; asset: string; qty: string; periods: Record<'today' | 'mtd' | 'ytd' | 'inception', Figures> }[];
}
interface Snapshot {
  books: Json[];
  positions: (Json & { asset: string; qty: string; lots?: unknown })[];
  exposure?: { firm: unknown };
}
const rowsOf = (text: string): Record<string, string>[] => parseCsv<Record<string, string>>(text, { columns: true });

const NOW = Date.parse('2026-01-03T12:00:00Z');

const desk: Json[] = [
  { type: 'deposit', id: 'd1', ts: '2025-12-30T09:00:00Z', book: 'b1', venue: 'v1', asset: 'USD', qty: '1000' },
  { type: 'trade', id: 't1', ts: '2025-12-30T10:00:00Z', book: 'b1', venue: 'v1', instrument: 'BTC/USD', side: 'buy', qty: '1', price: '100' },
  { type: 'price', id: 'm1', ts: '2025-12-30T10:00:00Z', asset: 'BTC', quote: 'USD', price: '100' },
  { type: 'price', id: 'm2', ts: '2025-12-31T12:00:00Z', asset: 'BTC', quote: 'USD', price: '110' },
  { type: 'trade', id: 't2', ts: '2026-01-02T10:00:00Z', book: 'b1', venue: 'v1', instrument: 'BTC/USD', side: 'sell', qty: '0.5', price: '120', fee: { asset: 'USD', amount: '1' } },
  { type: 'price', id: 'm3', ts: '2026-01-02T10:00:00Z', asset: 'BTC', quote: 'USD', price: '120' },
  { type: 'price', id: 'm4', ts: '2026-01-03T09:00:00Z', asset: 'BTC', quote: 'USD', price: '130' },
  // A second book; an id a spreadsheet would run as a formula.
  { type: 'deposit', id: '=2+3', ts: '2026-01-02T09:00:00Z', book: 'b2', venue: 'v2', asset: 'BTC', qty: '2', cost: '200' },
];

describe('balances, PnL over periods, EOD snapshots and exports', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let sql: ReturnType<typeof pgSql>;
  let service: Service;
  let snapshots: Snapshots;
  let app: FastifyInstance;
  const get = async <T = Json>(url: string): Promise<T> => {
    const r = await app.inject({ url });
    expect(r.statusCode, r.body).toBe(200);
    return r.json<T>();
  };
  const pnl = (url: string): Promise<PnlAnswer> => get<PnlAnswer>(url);
  const snapshot = (url: string): Promise<Snapshot> => get<Snapshot>(url);
  const post = (payload: Json[] | Json, url = '/events') => app.inject({ method: 'POST', url, headers: { 'content-type': 'application/json' }, payload: JSON.stringify(payload) });
  const bookPnl = (p: PnlAnswer, book = 'b1'): PnlAnswer['books'][number]['periods'] => p.books.find((b) => b.book === book)!.periods;

  beforeAll(async () => {
    db = await freshDatabase();
    sql = pgSql(db.url);
    service = new Service(new PgStore(sql, new InstrumentRegistry()), undefined, serviceConfig(), quiet);
    await service.start();
    snapshots = new Snapshots(service, new PgSnapshotStore(sql), { delayMs: 60_000, checkEveryMs: 60_000 }, quiet, () => NOW);
    app = buildServer(service, {});
    await app.register(reportRoutes(service, snapshots));
    expect((await post(desk)).statusCode).toBe(200);
  });
  afterAll(async () => {
    await app.close();
    await snapshots.stop();
    await service.stop();
    await sql.close();
    await db.drop();
  });

  it('PnL of today, MTD, YTD and inception, rebuilt from the log while no snapshot is taken', async () => {
    const p = await pnl('/pnl?book=b1');
    expect(p.at).toBe('2026-01-03T12:00:00Z');
    expect(p.periods.today).toEqual({ from: '2026-01-03T00:00:00Z', source: 'replay' });
    expect(p.periods.mtd).toEqual({ from: '2026-01-01T00:00:00Z', source: 'replay' });
    expect(p.periods.ytd.from).toBe('2026-01-01T00:00:00Z');
    const b = bookPnl(p);
    expect(b.inception).toEqual({ realized: '10', unrealized: '15', fees: '1', funding: '0', total: '24' });
    expect(b.today).toEqual({ realized: '0', unrealized: '5', fees: '0', funding: '0', total: '5' });
    expect(b.mtd).toEqual({ realized: '10', unrealized: '5', fees: '1', funding: '0', total: '14' });
    expect(b.ytd).toEqual(b.mtd);
    const btc = p.positions.find((x) => x.book === 'b1' && x.asset === 'BTC')!;
    expect(btc.periods.today.unrealized).toBe('5');
    expect(btc.qty).toBe('0.5');
    // As of a past instant: the periods of that instant.
    const past = await pnl('/pnl?book=b1&at=2026-01-02T23:59:59Z');
    expect(bookPnl(past).today).toEqual({ realized: '10', unrealized: '0', fees: '1', funding: '0', total: '9' });
    expect(bookPnl(past).inception.total).toBe('19');
    // A book that did not exist before a period: everything since inception.
    const all = await pnl('/pnl');
    expect(bookPnl(all, 'b2').mtd).toEqual(bookPnl(all, 'b2').inception);
    expect(bookPnl(all, 'b2').today.total).toBe('20'); // 2 BTC, mark 120 -> 130
  });

  it('takes the last closed day once, on its own; the SOD of today is that EOD', async () => {
    expect(snapshots.lastClosedDay()).toBe('2026-01-02');
    expect(await snapshots.tick()).toBe('2026-01-02');
    expect(await snapshots.tick()).toBeUndefined();
    const list = await get<{ items: unknown }>('/snapshots');
    expect(list.items).toEqual([{ day: '2026-01-02', asOf: '2026-01-02T23:59:59.999999Z', takenAt: expect.any(String) as string, books: 2 }]);
    const eod = await snapshot('/snapshots/2026-01-02');
    const sod = await snapshot('/snapshots/2026-01-03?type=sod');
    expect({ ...sod, type: 'eod', sodOf: undefined }).toEqual({ ...eod, sodOf: undefined });
    expect(eod.books.find((b) => b.book === 'b1')).toMatchObject({ realizedPnl: '10', unrealizedPnl: '10', totalPnl: '19' });
    expect(eod.exposure?.firm).toBeDefined();
    expect(eod.positions.every((x) => x.lots === undefined)).toBe(true);
    const withLots = await snapshot('/snapshots/2026-01-02?lots=1&book=b1');
    expect(withLots.exposure).toBeUndefined(); // firm-wide parts only for an unfiltered request
    expect(withLots.positions.find((x) => x.asset === 'BTC')!.lots).toEqual([{ qty: '0.5', cost: '50', acquired: '2025-12-30T10:00:00Z', seq: expect.any(Number) as number }]);
    const p = await pnl('/pnl?book=b1');
    expect(p.periods.today).toMatchObject({ source: 'snapshot', day: '2026-01-02' });
    expect(bookPnl(p).today.total).toBe('5');
  });

  it('a snapshot is frozen: a late event for its day moves today\'s PnL until the day is retaken', async () => {
    expect((await post([{ type: 'trade', id: 't3', ts: '2026-01-02T15:00:00Z', book: 'b1', venue: 'v1', instrument: 'BTC/USD', side: 'buy', qty: '0.5', price: '115' }])).statusCode).toBe(200);
    const frozen = await snapshot('/snapshots/2026-01-02?book=b1');
    expect(frozen.positions.find((x) => x.asset === 'BTC')!.qty).toBe('0.5');
    // Now: 1 BTC, cost 107.5, mark 130: unrealized 22.5, realized 10, fees 1, total 31.5; SOD total 19.
    expect(bookPnl(await pnl('/pnl?book=b1')).today.total).toBe('12.5');
    const retake = await post({ day: '2026-01-02' }, '/snapshots');
    expect(retake.statusCode, retake.body).toBe(201);
    expect(retake.json<Json>()).toMatchObject({ day: '2026-01-02', retaken: true, books: 2 });
    // Retaken EOD: 1 BTC at 120, cost 107.5: unrealized 12.5, total 21.5.
    expect(bookPnl(await pnl('/pnl?book=b1')).today.total).toBe('10');
    expect((await snapshot('/snapshots/2026-01-02?book=b1')).positions.find((x) => x.asset === 'BTC')!.qty).toBe('1');
  });

  it('refuses a day that has not closed, a bad day, a day never taken; retaking needs admin', async () => {
    const open = await post({ day: '2026-01-03' }, '/snapshots');
    expect(open.statusCode).toBe(409);
    expect(open.json<Json>().code).toBe('DAY_NOT_CLOSED');
    expect((await post({ day: '2026-02-30' }, '/snapshots')).json<Json>().code).toBe('BAD_DAY');
    expect((await app.inject({ url: '/snapshots/2026-13-01' })).json<Json>().code).toBe('BAD_DAY');
    const missing = await app.inject({ url: '/snapshots/2025-06-01' });
    expect(missing.statusCode).toBe(404);
    expect(missing.json<Json>().code).toBe('SNAPSHOT_NOT_FOUND');
    expect(routePolicy('POST', '/snapshots')).toEqual({ scope: 'admin', everyBook: false });
    expect(routePolicy('GET', '/snapshots')).toEqual({ scope: 'read', everyBook: false });
  });

  it('balances now and as of a past instant, filtered', async () => {
    const now = await get<{ balances: unknown }>('/balances?book=b1');
    expect(now.balances).toEqual([
      { book: 'b1', venue: 'v1', account: 'default', asset: 'BTC', qty: '1' },
      { book: 'b1', venue: 'v1', account: 'default', asset: 'USD', qty: '901.5' },
    ]);
    const past = await get<{ asOf: string; balances: unknown }>('/balances?book=b1&asset=BTC&at=2025-12-31T00:00:00Z');
    expect(past.asOf).toBe('2025-12-31T00:00:00Z');
    expect(past.balances).toEqual([{ book: 'b1', venue: 'v1', account: 'default', asset: 'BTC', qty: '1' }]);
    expect((await get<{ balances: unknown }>('/balances?venue=v2')).balances).toEqual([{ book: 'b2', venue: 'v2', account: 'default', asset: 'BTC', qty: '2' }]);
  });

  it('exports positions and lots as CSV (with the cost of each lot) and JSON', async () => {
    const r = await app.inject({ url: '/export/positions?format=csv' });
    expect(r.headers['content-type']).toContain('text/csv');
    expect(r.headers['content-disposition']).toMatch(/^attachment; filename="utl-positions-.*\.csv"$/);
    const rows = rowsOf(r.body);
    expect(rows.find((x) => x.book === 'b1' && x.asset === 'BTC')).toMatchObject({ qty: '1', costBasis: '107.5', mark: '130', unrealizedPnl: '22.5', byVenue: 'v1=1' });
    expect(rows.find((x) => x.book === 'b2')).toMatchObject({ asset: 'BTC', qty: '2', costBasis: '200', byVenue: 'v2=2' });
    const lots = rowsOf((await app.inject({ url: '/export/lots?book=b1' })).body);
    expect(lots.map((l) => [l.asset, l.qty, l.cost, l.unitCost, l.acquired])).toEqual([
      ['BTC', '0.5', '50', '100', '2025-12-30T10:00:00Z'],
      ['BTC', '0.5', '57.5', '115', '2026-01-02T15:00:00Z'],
    ]);
    const json = await get<{ lots: unknown }>('/export/lots?book=b1&format=json&at=2026-01-02T12:00:00Z');
    expect(json.lots).toEqual([{ book: 'b1', asset: 'BTC', kind: 'spot', method: 'fifo', lot: expect.any(Number) as number, acquired: '2025-12-30T10:00:00Z', qty: '0.5', cost: '50', unitCost: '100' }]);
    expect((await app.inject({ url: '/export/positions?format=xml' })).json<Json>().code).toBe('BAD_QUERY');
    expect((await app.inject({ url: '/export/widgets' })).statusCode).toBe(404);
  });

  it('exports the PnL of a period, per book and position', async () => {
    const json = await get<{ baseline: unknown; books: unknown }>('/export/pnl?format=json&book=b1&from=2026-01-01T00:00:00Z&to=2026-01-02T23:59:59.999999Z');
    expect(json.baseline).toEqual({ from: '2026-01-01T00:00:00Z', source: 'replay' });
    // From EOD 12-31 (total 10) to the retaken EOD 01-02 (total 21.5).
    expect(json.books).toEqual([{ book: 'b1', realized: '10', unrealized: '2.5', fees: '1', funding: '0', total: '11.5' }]);
    const csvRows = rowsOf((await app.inject({ url: '/export/pnl?book=b1&from=2026-01-03T00:00:00Z' })).body);
    expect(csvRows[0]).toMatchObject({ level: 'book', book: 'b1', from: '2026-01-03T00:00:00Z', total: '10' });
    expect(csvRows.some((x) => x.level === 'position' && x.asset === 'BTC')).toBe(true);
  });

  it('exports the events of a period in ts order: JSON Lines as committed, JSON, CSV (formula-looking text defused)', async () => {
    const period = 'from=2025-12-31T00:00:00Z&to=2026-01-02T23:59:59Z';
    const jsonl = (await app.inject({ url: `/export/events?format=jsonl&${period}` })).body.trim().split('\n').map((l) => JSON.parse(l) as Json);
    expect(jsonl.map((e) => e.id)).toEqual(['m2', '=2+3', 't2', 'm3', 't3']);
    expect(jsonl[2]).toEqual(desk[4]);
    const arr = await get<Json[]>(`/export/events?format=json&${period}&book=b1`);
    expect(arr.map((e) => e.id)).toEqual(['t2', 't3']);
    const csvRows = rowsOf((await app.inject({ url: `/export/events?${period}` })).body);
    expect(csvRows.map((x) => x.id)).toEqual(['m2', "'=2+3", 't2', 'm3', 't3']);
    expect(csvRows[2]).toMatchObject({ type: 'trade', book: 'b1', venue: 'v1', side: 'sell', qty: '0.5', price: '120', feeAsset: 'USD', feeAmount: '1' });
    expect(csvRows[1]).toMatchObject({ id: "'=2+3", book: 'b2' });
    const empty = (await app.inject({ url: '/export/events?from=2030-01-01T00:00:00Z' })).body;
    expect(empty.trim().split('\n')).toHaveLength(1); // the header only
    expect((await app.inject({ url: '/export/positions?format=jsonl' })).statusCode).toBe(400);
  });

  it('streams an export of more events than one page: each once, in (ts, seq) order, ties on ts included', async () => {
    // 4,100 deposits of book b3 on 41 distinct instants: pages of 2,000 cut through runs of one ts.
    const many = Array.from({ length: 4100 }, (_, i) => ({ type: 'deposit', id: `many-${i}`, ts: `2026-01-04T00:00:${String(i % 41).padStart(2, '0')}Z`, book: 'b3', venue: 'v1', asset: 'USD', qty: '1' }));
    expect((await post(many)).statusCode).toBe(200);
    const lines = (await app.inject({ url: '/export/events?format=jsonl&book=b3' })).body.trim().split('\n');
    const got = lines.map((l) => JSON.parse(l) as { id: string; ts: string });
    expect(got).toHaveLength(4100);
    expect(new Set(got.map((e) => e.id)).size).toBe(4100);
    const want = [...many].sort((a, b) => (a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : Number(a.id.slice(5)) - Number(b.id.slice(5))));
    expect(got.map((e) => e.id)).toEqual(want.map((e) => e.id));
    const csvRows = rowsOf((await app.inject({ url: '/export/events?book=b3&from=2026-01-04T00:00:40Z' })).body);
    expect(csvRows).toHaveLength(100);
    expect(csvRows.every((r) => r.ts === '2026-01-04T00:00:40Z')).toBe(true);
  });
});
