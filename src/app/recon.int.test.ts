/**
 * Reconciliation in the running service, on a real PostgreSQL: venue reports through HTTP open
 * breaks held as of their own instant, explained; a late fill rechecks and auto-resolves; people
 * acknowledge and resolve (with an adjusting entry booked as an event, audited); breaks survive a
 * restart; trade and transfer reconciliation and the consistency checks over HTTP.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase } from '../../test/support/pg.js';
import { serviceConfig, startOptions, waitUntil } from '../../test/support/service.js';
import { Dec } from '../domain/decimal.js';
import { DEFAULT_RECON } from './recon-config.js';
import { startService, type Running } from './start.js';

type Json = Record<string, unknown>;

const desk: Json[] = [
  { type: 'price', id: 'p0', ts: '2026-01-02T09:00:00Z', asset: 'BTC', quote: 'USD', price: '40000' },
  { type: 'deposit', id: 'dep-1', ts: '2026-01-02T09:00:00Z', book: 'mm', venue: 'binance', account: 'main', asset: 'USD', qty: '500000' },
  { type: 'trade', id: 'binance:1', ts: '2026-01-02T10:00:00Z', book: 'mm', venue: 'binance', account: 'main', instrument: 'BTC/USD', side: 'buy', qty: '2', price: '40000' },
  { type: 'trade', id: 'binance:2', ts: '2026-01-02T11:00:00Z', book: 'mm', venue: 'binance', account: 'main', instrument: 'BTC/USD', side: 'sell', qty: '0.5', price: '41000' },
  { type: 'trade', id: 'binance:3', ts: '2026-01-02T12:00:00Z', book: 'mm', venue: 'binance', account: 'main', instrument: 'BTC/USD', side: 'buy', qty: '1', price: '42000' },
  { type: 'withdrawal', id: 'w-1', ts: '2026-01-02T12:00:00Z', book: 'mm', venue: 'binance', account: 'main', asset: 'USD', qty: '1000', cost: '1000' },
  { type: 'deposit', id: 'd-1', ts: '2026-01-02T12:20:00Z', book: 'mm', venue: 'okx', account: 'main', asset: 'USD', qty: '999', cost: '999' },
];
const report = (id: string, ts: string, asset: string, total: string): Json => ({ type: 'balance', id, ts, venue: 'binance', account: 'main', asset, total });

describe('reconciliation in the service', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let running: Running;
  const start = async (): Promise<Running> =>
    startService(startOptions({ service: serviceConfig(), databaseUrl: db.url, recon: { ...DEFAULT_RECON, recheckIntervalMs: 20, checkIntervalMs: 0, transfers: { ...DEFAULT_RECON.transfers, feeTolerance: () => Dec.of('5') } } }));
  const post = async (path: string, body: unknown): Promise<{ status: number; json: Json }> => {
    const r = await fetch(`${running.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: r.status, json: (await r.json()) as Json };
  };
  const get = async (path: string): Promise<Json> => (await (await fetch(`${running.url}${path}`)).json()) as Json;
  const breaks = async (status = 'active'): Promise<Json[]> => (await get(`/breaks?status=${status}`)).items as Json[];

  beforeAll(async () => {
    db = await freshDatabase();
    running = await start();
  });
  afterAll(async () => {
    await running.stop();
    await db.drop();
  });

  it('a report is held as of its own instant: fills after it make no break', async () => {
    expect((await post('/events', desk)).json).toMatchObject({ accepted: desk.length });
    // 11:30: 2 − 0.5 = 1.5 BTC; the 12:00 buy is after the venue's snapshot.
    expect((await post('/events', [report('r-btc-1130', '2026-01-02T11:30:00Z', 'BTC', '1.5')])).json).toMatchObject({ accepted: 1 });
    expect(await breaks()).toEqual([]);
  });

  it('a ccxt fetchBalance result over HTTP becomes balance events, booked and reconciled', async () => {
    const at = Date.parse('2026-01-02T11:40:00Z');
    const balance = { info: {}, timestamp: at, datetime: '2026-01-02T11:40:00.000Z', BTC: { free: 1.25, used: 0.25, total: 1.5 }, free: { BTC: 1.25 }, used: { BTC: 0.25 }, total: { BTC: 1.5 } };
    const r = await post('/recon/balances', { venue: 'binance', account: 'main', balance });
    expect(r.json).toMatchObject({ accepted: 1, results: [{ id: 'binance:main:balance:2026-01-02T11:40:00.000Z:BTC', status: 'accepted' }] });
    expect(await breaks()).toEqual([]); // 1.5 BTC at 11:40: agrees
    expect((await post('/recon/balances', { venue: 'binance', balance: [] })).status).toBe(400);
    expect((await post('/recon/balances', { venue: 'binance', balance: { info: {} } })).status).toBe(422);
  });

  it('a disagreeing report opens a break with its amount, value, movements and a suggested cause', async () => {
    // At 12:30 UTL holds 2.5 BTC (the 12:00 buy included); the venue still shows 1.5.
    await post('/events', [report('r-btc-1230', '2026-01-02T12:30:00Z', 'BTC', '1.5')]);
    const [b] = await breaks();
    expect(b).toMatchObject({ id: 'brk:r-btc-1230', status: 'open', venue: 'binance', asset: 'BTC', venueQty: '1.5', utlQty: '2.5', diff: '-1', value: '40000', reporting: 'USD' });
    const ex = b!.explanation as { sinceTs: string; movements: { id: string; delta: string }[]; suggestions: { cause: string; events: string[] }[] };
    expect(ex.sinceTs).toBe('2026-01-02T11:40:00Z'); // the ccxt report agreed last
    expect(ex.movements).toEqual([expect.objectContaining({ id: 'binance:3', delta: '1' })]);
    expect(ex.suggestions).toEqual([expect.objectContaining({ cause: 'missing_at_venue', events: ['binance:3'] })]);
    expect(typeof b!.ageMs).toBe('number');
  });

  it('a late fill that UTL lacked is rechecked and auto-resolves the break', async () => {
    // UTL holds 500,000 − 80,000 + 20,500 − 42,000 − 1,000 = 397,500 USD at 12:30; the venue 387,500.
    await post('/events', [report('r-usd-1230', '2026-01-02T12:30:00Z', 'USD', '387500')]);
    expect((await breaks()).map((b) => b.id).sort()).toEqual(['brk:r-btc-1230', 'brk:r-usd-1230']);
    // The missing fill arrives late (12:10, before the report): UTL's side changes, the recheck agrees.
    await post('/events', [{ type: 'trade', id: 'binance:2b', ts: '2026-01-02T12:10:00Z', book: 'mm', venue: 'binance', account: 'main', instrument: 'BTC/USD', side: 'buy', qty: '0.25', price: '40000' }]);
    await waitUntil(async () => (await get('/breaks/brk:r-usd-1230')).status === 'auto_resolved', 5_000, 'the USD break to auto-resolve');
    const b = await get('/breaks/brk:r-usd-1230');
    expect((b.history as { action: string }[]).map((h) => h.action)).toEqual(['opened', 'auto_resolved']);
  });

  it('acknowledge, then resolve with an adjusting entry: booked as an event with who and why, and audited', async () => {
    expect((await post('/breaks/brk:r-btc-1230/acknowledge', { by: 'alice', note: 'asking binance' })).json).toMatchObject({ status: 'acknowledged' });
    const bad = await post('/breaks/brk:r-btc-1230/resolve', { by: 'bob' });
    expect(bad.status).toBe(400);
    expect(bad.json).toMatchObject({ code: 'BAD_BODY' });
    const diffNow = (await get('/breaks/brk:r-btc-1230')).diff as string;
    // The report named no book (the account is shared): the adjustment must say which book.
    const noBook = await post('/breaks/brk:r-btc-1230/resolve', { by: 'bob', reason: 'binance confirms the fill was busted', adjust: true });
    expect([noBook.status, noBook.json.code]).toEqual([422, 'ADJUSTMENT_NEEDS_BOOK']);
    const r = await post('/breaks/brk:r-btc-1230/resolve', { by: 'bob', reason: 'binance confirms the fill was busted', adjust: { book: 'mm' } });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ status: 'resolved', resolution: { by: 'bob', reason: 'binance confirms the fill was busted', adjustment: 'adj:brk:r-btc-1230' } });
    // The adjusting entry is an ordinary event in the log: a withdrawal of |diff| at the report's instant.
    const positions = (await get('/positions?book=mm&asset=BTC')).positions as { qty: string }[];
    expect(diffNow).toBe('-1.25');
    expect(positions[0]!.qty).toBe(Dec.of('2.75').add(Dec.of(diffNow)).toString()); // 2.75 booked, less the adjustment
    expect((await post('/breaks/brk:r-btc-1230/resolve', { by: 'bob', reason: 'again' })).status).toBe(409);
    const audit = (await get('/audit?target=brk:r-btc-1230')).items as { actor: string; action: string }[];
    expect(audit.map((a) => [a.actor, a.action])).toEqual([
      ['bob', 'break.resolve'],
      ['alice', 'break.acknowledge'],
    ]);
    expect(await breaks()).toEqual([]);
    expect((await post('/breaks/nope/acknowledge', { by: 'alice' })).status).toBe(404);
  });

  it('an adjusting entry that cannot be booked is cancelled and refused; the next attempt takes another id', async () => {
    // SOL has no mark: a deposit of it without a cost cannot be valued.
    await post('/events', [report('r-sol', '2026-01-02T12:40:00Z', 'SOL', '5')]);
    const refused = await post('/breaks/brk:r-sol/resolve', { by: 'bob', reason: 'airdrop not booked', adjust: { book: 'mm' } });
    expect([refused.status, refused.json.code]).toEqual([422, 'ADJUSTMENT_REFUSED']);
    expect((await get('/unbooked')).items).toEqual([]); // cancelled: nothing lingers to be booked later
    const ok = await post('/breaks/brk:r-sol/resolve', { by: 'bob', reason: 'airdrop not booked', adjust: { book: 'mm', cost: '500' } });
    expect(ok.status).toBe(200);
    expect(ok.json).toMatchObject({ status: 'resolved', resolution: { adjustment: 'adj:brk:r-sol#2' } });
    expect((ok.json.history as { action: string }[]).map((h) => h.action)).toEqual(['opened', 'adjustment_refused', 'resolved']);
    const sol = (await get('/positions?book=mm&asset=SOL')).positions as { qty: string; costBasis: string }[];
    expect(sol).toEqual([expect.objectContaining({ qty: '5', costBasis: '500' })]);
    const twice = await fetch(`${running.url}/recon/transfers?from=2026-01-02T00:00:00Z&from=2026-01-03T00:00:00Z`);
    expect(twice.status).toBe(400);
  });

  it('breaks and their history survive a restart', async () => {
    const before = await breaks('all');
    await running.stop();
    running = await start();
    expect(await breaks('all')).toEqual(before.map((b) => ({ ...b, ageMs: expect.any(Number) as number })));
    // A later disagreeing report of a resolved break's cell opens a new one.
    await post('/events', [report('r-btc-1300', '2026-01-02T13:00:00Z', 'BTC', '9')]);
    expect((await breaks()).map((b) => b.id)).toEqual(['brk:r-btc-1300']);
  });

  it('trade reconciliation: missing on either side and mismatches, within the venue history window', async () => {
    const venueSide = [
      { type: 'trade', id: 'binance:2', ts: '2026-01-02T11:00:00Z', venue: 'binance', account: 'main', instrument: 'BTC/USD', side: 'sell', qty: '0.5', price: '41000' },
      { type: 'trade', id: 'binance:2b', ts: '2026-01-02T12:10:00Z', venue: 'binance', account: 'main', instrument: 'BTC/USD', side: 'buy', qty: '0.25', price: '40001' },
      { type: 'trade', id: 'binance:3', ts: '2026-01-02T12:00:00Z', venue: 'binance', account: 'main', instrument: 'BTC/USD', side: 'buy', qty: '1', price: '42000' },
      { type: 'trade', id: 'binance:4', ts: '2026-01-02T12:15:00Z', venue: 'binance', account: 'main', instrument: 'BTC/USD', side: 'buy', qty: '3', price: '42000' },
    ];
    const r = await post('/recon/trades', { venue: 'binance', trades: venueSide });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ venue: 'binance', matched: 3, ok: false, window: { from: '2026-01-02T11:00:00Z', to: '2026-01-02T12:15:00Z' } });
    expect((r.json.missingInUtl as { venueTradeId: string }[]).map((t) => t.venueTradeId)).toEqual(['4']);
    expect(r.json.missingAtVenue).toEqual([]); // binance:1 is older than the venue history given
    expect((r.json.mismatches as { field: string }[]).map((m) => m.field)).toEqual(['price']);
    expect((await post('/recon/trades', { venue: 'binance', trades: [{ nope: 1 }] })).status).toBe(422);
  });

  it('transfer matching: a withdrawal at one venue matched to the deposit at another; one overdue is a break for the alerts', async () => {
    const t = await get('/recon/transfers?from=2026-01-02T11:00:00Z&until=2026-01-03T00:00:00Z');
    expect(t.matched).toEqual([expect.objectContaining({ withdrawal: 'w-1', deposit: 'd-1', fee: '1', transitSeconds: '1200' })]);
    // A withdrawal three hours ago with no deposit since: past the two hours allowed in transit.
    const ts = new Date(Date.now() - 3 * 3_600_000).toISOString();
    await post('/events', [{ type: 'withdrawal', id: 'w-late', ts, book: 'mm', venue: 'okx', account: 'main', asset: 'USD', qty: '250', cost: '250' }]);
    await get('/checks?run=1');
    expect(running.recon.overdueTransfers()).toEqual([expect.objectContaining({ id: 'xfer:w-late', venue: 'okx', asset: 'USD', diff: '-250', value: '250', status: 'open' })]);
  });

  it('the consistency checks pass on what the service booked, every event accounted for', async () => {
    const c = await get('/checks?run=1');
    expect((c.checks as { name: string; ok: boolean }[]).map((x) => [x.name, x.ok])).toEqual([
      ['flows', true],
      ['lots', true],
      ['balances', true],
      ['negative_balances', true],
      ['accounted', true],
    ]);
  });

  it('accounted covers what came since the last run, the whole log with run=full, and finds a logged event without its key', async () => {
    await post('/events', [{ type: 'price', id: 'acc-1', ts: '2026-01-02T12:00:00Z', asset: 'BTC', quote: 'USD', price: '42000' }]);
    const since = ((await get('/checks?run=1')).checks as { name: string; detail: string }[]).find((x) => x.name === 'accounted')!;
    expect(since.detail).toMatch(/^1 events in seqs \d+\.\.\d+: each logged once and booked$/);
    const full = ((await get('/checks?run=full')).checks as { name: string; ok: boolean; detail: string }[]).find((x) => x.name === 'accounted')!;
    expect(full.detail).toMatch(/^\d+ events up to seq \d+: each logged once and booked$/);
    // A key lost (a broken restore, a hand edit): the run over the whole log finds it.
    const sql = running.service.store.sql;
    await sql.query("UPDATE utl_event_keys SET seq = -seq WHERE id = 'acc-1'");
    try {
      const broken = ((await get('/checks?run=full')).checks as { name: string; ok: boolean; failures: string[] }[]).find((x) => x.name === 'accounted')!;
      expect(broken.ok).toBe(false);
      expect(broken.failures[0]).toMatch(/^1 logged events up to seq \d+ have no idempotency key of their id and seq$/);
    } finally {
      await sql.query("UPDATE utl_event_keys SET seq = -seq WHERE id = 'acc-1'");
    }
  });
});
