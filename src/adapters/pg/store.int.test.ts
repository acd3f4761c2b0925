/**
 * The store's contract, run against both stores: the real PostgreSQL server on 127.0.0.1:5432
 * (a fresh database per run) and the embedded PGlite (a fresh data directory).
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bothStores, type OpenedStore } from '../../../test/support/pg.js';
import { correctedLog, documentOf, newLedger, parse, scenarioArb, shuffle, T0, type Wire } from '../../../test/support/scenarios.js';
import { submitWithHistory } from '../../app/history.js';
import { compareLog, type LedgerEvent } from '../../domain/events.js';
import { InstrumentRegistry } from '../../domain/instrument.js';
import { Ledger } from '../../domain/ledger.js';
import { restoreBook } from '../../domain/snapshot.js';
import { validateEvent } from '../../domain/validate.js';
import { MIGRATIONS } from './migrations.js';
import { PgStore, type Incoming } from './store.js';

function incoming(w: Wire, instruments = new InstrumentRegistry()): Incoming {
  const v = validateEvent(w, instruments);
  if (!v.ok) throw new Error(JSON.stringify(v.issues));
  return { event: v.event, payload: JSON.stringify(w), source: 'test', ref: null };
}

const trade = (id: string, ts: string, extra: Wire = {}): Wire => ({ type: 'trade', id, ts, book: 'b1', venue: 'v1', instrument: 'BTC/USD', side: 'buy', qty: '1', price: '100', ...extra });

describe.each(bothStores())('store on $name', (factory) => {
  let opened: OpenedStore;
  let store: PgStore;

  beforeAll(async () => {
    opened = await factory.open();
    store = new PgStore(opened.sql, new InstrumentRegistry());
    expect(await store.migrate()).toEqual(MIGRATIONS.map((m) => m.version));
  });
  afterAll(async () => {
    await opened.close();
  });

  it('applies each migration once', async () => {
    expect(await store.migrate()).toEqual([]);
  });

  it('commits new events with increasing seqs; a repeat is a duplicate, other content a conflict kept with its raw text', async () => {
    const a = await store.commit({ events: [incoming(trade('i1', '2026-01-31T23:59:59Z')), incoming(trade('i2', '2026-02-01T00:00:00Z'))], rejected: [], consumer: { name: 'c', position: 10 } });
    expect(a.outcomes.map((o) => o.kind)).toEqual(['new', 'new']);
    const [s1, s2] = a.outcomes.map((o) => (o.kind === 'new' ? o.seq : -1));
    expect(s2).toBeGreaterThan(s1!);

    const b = await store.commit({
      events: [incoming(trade('i1', '2026-01-31T23:59:59Z')), incoming(trade('i2', '2026-02-01T00:00:00Z', { qty: '2' })), incoming(trade('i3', '2026-02-01T00:00:01Z')), incoming(trade('i3', '2026-02-01T00:00:01Z', { price: '1' }))],
      rejected: [{ source: 'test', ref: 'line 9', id: null, code: 'JSON_SYNTAX', message: 'bad', raw: new Uint8Array([0xff, 0x00, 0x7b]) }],
      consumer: { name: 'c', position: 7 },
    });
    expect(b.outcomes.map((o) => o.kind)).toEqual(['duplicate', 'conflict', 'new', 'conflict']);
    const { rows } = await opened.sql.query<{ event_id: string | null; code: string; raw: Buffer }>('SELECT event_id, code, raw FROM utl_rejected ORDER BY rid');
    expect(rows.map((r) => [r.event_id, r.code])).toEqual([[null, 'JSON_SYNTAX'], ['i2', 'DUPLICATE_CONFLICT'], ['i3', 'DUPLICATE_CONFLICT']]);
    expect([...rows[0]!.raw]).toEqual([0xff, 0x00, 0x7b]);
    expect(JSON.parse(rows[1]!.raw.toString('utf8'))).toMatchObject({ id: 'i2', qty: '2' });
    // The position never goes back (a redelivered older batch).
    expect(await store.consumerPosition('c')).toBe(10);
    const tail = await store.tail(0, 100);
    expect(tail.map((e) => (JSON.parse(e.payload) as Wire).id)).toEqual(['i1', 'i2', 'i3']);
    // The seqs answered are the stored ones, for a batch all new and for one partly new.
    expect([...a.outcomes, b.outcomes[2]]).toEqual(tail.map((e) => ({ kind: 'new', seq: e.seq })));
    const parts = await opened.sql.query<{ n: string }>("SELECT count(*) AS n FROM pg_inherits WHERE inhparent = 'utl_events'::regclass");
    expect(Number(parts.rows[0]!.n)).toBe(2); // January and February
  });

  it('stores each payload byte for byte, from its text or from the bytes it came as, in either kind of batch', async () => {
    const texts = [
      JSON.stringify(trade('p1', '2026-04-01T00:00:00Z', { meta: { note: 'caf\u00e9 \u6771\u4eac \u{1F680}' } })),
      // A JSON text may hold newlines and tabs between its tokens, and escapes in its strings.
      `{\n\t"type": "trade", "id": "p2", "ts": "2026-04-01T00:00:01Z", "book": "b1", "venue": "v1",\r\n "instrument": "BTC/USD", "side": "buy", "qty": "1", "price": "100", "meta": {"note": "a\\"b\\\\c\\u001e\\n"}}`,
      JSON.stringify(trade('p3', '2026-04-01T00:00:02.123456Z')),
    ];
    const inputs = (ids: string[], asBytes: boolean): Incoming[] =>
      texts.map((t, i) => {
        const w = JSON.parse(t) as Wire;
        const x = incoming({ ...w, id: ids[i]! });
        const payload = t.replace(`"${w.id as string}"`, `"${ids[i]}"`);
        return { ...x, payload, ...(asBytes ? { bytes: new TextEncoder().encode(payload) } : {}) };
      });
    const fast = inputs(['p1', 'p2', 'p3'], true);
    const inTx = inputs(['q1', 'q2', 'q3'], false);
    await store.commit({ events: fast, rejected: [] });
    // A venue balance takes the batch through the transaction.
    await store.commit({ events: [...inTx, incoming({ type: 'balance', id: 'bal-p', ts: '2026-04-01T00:00:03Z', venue: 'v1', asset: 'BTC', total: '1' })], rejected: [] });
    const { rows } = await opened.sql.query<{ id: string; payload: string }>("SELECT id, payload FROM utl_events WHERE id ~ '^[pq][123]$' ORDER BY seq");
    expect(rows).toEqual([...fast, ...inTx].map((x) => ({ id: x.event.id, payload: x.payload })));
    // The timestamptz, computed by the server from the microseconds, is the event's to the microsecond.
    const times = await opened.sql.query<{ us: string; ts_us: string }>("SELECT (extract(epoch FROM ts) * 1000000)::bigint::text AS us, ts_us::text FROM utl_events WHERE id ~ '^[pq][123]$' ORDER BY seq");
    expect(times.rows).toEqual([...fast, ...inTx].map((x) => ({ us: String(x.event.ts), ts_us: String(x.event.ts) })));
  });

  it('a rolled-back batch leaves nothing (the consumer position included)', async () => {
    const before = await store.counts();
    await expect(
      store.commit({
        events: [incoming(trade('r1', '2026-03-01T00:00:00Z'))],
        rejected: [],
        consumer: { name: 'c', position: 99 },
        idempotency: { key: 'k', request: 'x', answer: () => { throw new Error('boom'); } },
      }),
    ).rejects.toThrow('boom');
    expect(await store.counts()).toEqual(before);
    expect(await store.consumerPosition('c')).toBe(10);
  });

  it('keeps venue balances and the Idempotency-Key answer with the batch', async () => {
    const bal = { type: 'balance', id: 'vb1', ts: '2026-03-02T00:00:00Z', venue: 'binance', account: 'main', asset: 'BTC', total: '1.000000000000000001', free: '1', used: '0.000000000000000001' };
    const r = await store.commit({ events: [incoming(bal)], rejected: [], idempotency: { key: 'key-1', request: 'digest', answer: (o) => ({ status: 200, body: JSON.stringify(o.map((x) => x.kind)) }) } });
    expect(r.answer).toEqual({ status: 200, body: '["new"]' });
    expect(await store.idempotent('key-1')).toEqual({ request: 'digest', status: 200, body: '["new"]' });
    const { rows } = await opened.sql.query<{ total: string; used: string }>('SELECT total, used FROM utl_venue_balances WHERE event_id = $1', ['vb1']);
    expect(rows[0]).toEqual({ total: '1.000000000000000001', used: '0.000000000000000001' });
  });

  it('keeps checkpoints (books unchanged since an earlier one keep their row) and prunes old ones', async () => {
    const l = new Ledger();
    for (const w of [trade('k1', '2026-01-01T00:00:00Z'), { ...trade('k2', '2026-01-01T00:00:01Z'), book: 'b2' }]) l.submit(parse(l, w));
    const books = l.checkpoint();
    await store.saveCheckpoint(5, '{"v":1}', books);
    await store.saveCheckpoint(8, '{"v":2}', books.filter((b) => b.book === 'b2'));
    const cp = (await store.latestCheckpoint())!;
    expect(cp.seq).toBe(8);
    expect(cp.ledger).toBe('{"v":2}');
    expect(cp.books.map((b) => b.book)).toEqual(['b1', 'b2']);
    expect(restoreBook(cp.books[0]!.state).booked).toBe(1);
    expect(cp.books[0]!.last).toEqual({ ts: Date.UTC(2026, 0, 1) * 1000, id: 'k1' });
    const bal = await opened.sql.query<{ book: string; asset: string; qty: string }>('SELECT book, asset, qty FROM utl_balances ORDER BY book, asset');
    expect(bal.rows).toEqual([
      { book: 'b1', asset: 'BTC', qty: '1' },
      { book: 'b1', asset: 'USD', qty: '-100' },
      { book: 'b2', asset: 'BTC', qty: '1' },
      { book: 'b2', asset: 'USD', qty: '-100' },
    ]);
    await store.saveCheckpoint(9, '{"v":3}', []);
    await store.pruneCheckpoints(1);
    const after = (await store.latestCheckpoint())!;
    expect(after.seq).toBe(9);
    expect(after.books.map((b) => b.book)).toEqual(['b1', 'b2']); // still there: the only rows of each book
  });

  it('bases: the latest strictly before a key; dropped from a key on', async () => {
    const l = new Ledger();
    l.submit(parse(l, trade('x1', '2026-01-01T00:00:00Z')));
    const state = l.bookState('b1')!;
    const k = (s: number, id: string) => ({ ts: T0 + s * 1_000_000, id });
    await store.saveBases([{ book: 'bb', base: { key: k(1, 'a'), state } }, { book: 'bb', base: { key: k(2, 'a'), state } }, { book: 'bb', base: { key: k(3, 'a'), state } }]);
    expect((await store.baseBefore('bb', k(2, 'b')))!.key).toEqual(k(2, 'a'));
    expect((await store.baseBefore('bb', k(2, 'a')))!.key).toEqual(k(1, 'a'));
    expect(await store.baseBefore('bb', k(1, 'a'))).toBeUndefined();
    await store.dropBases('bb', k(2, 'a'));
    expect((await store.baseBefore('bb', k(9, 'a')))!.key).toEqual(k(1, 'a'));
  });
});

/**
 * The live-booking property of history.prop.test.ts with this store as the history: each event
 * committed alone, then submitted; random trims (bases saved) and restarts (checkpoint saved and
 * taken back from the store). Fewer runs: each is a few hundred statements.
 */
describe.each(bothStores())('live booking with history from $name', (factory) => {
  let opened: OpenedStore;
  beforeAll(async () => {
    opened = await factory.open();
    await new PgStore(opened.sql, new InstrumentRegistry()).migrate();
  });
  afterAll(async () => {
    await opened.close();
  });

  it('equals a clean replay of the sorted corrected log', async () => {
    await fc.assert(
      fc.asyncProperty(
        scenarioArb,
        fc.integer({ min: 1, max: 3 }),
        fc.nat(),
        fc.array(fc.record({ action: fc.constantFrom('none', 'trim', 'trim', 'restart'), cut: fc.integer({ min: 0, max: 44 }), keep: fc.integer({ min: 0, max: 12 }) }), { minLength: 50, maxLength: 50 }),
        async (s, snapshotEvery, seed, actions) => {
          await opened.sql.exec(`TRUNCATE utl_event_keys, utl_events, utl_checkpoints, utl_checkpoint_books, utl_book_bases, utl_balances, utl_rejected; UPDATE utl_counters SET next = 1`);
          {
            let live = newLedger({ snapshotEvery });
            let store = new PgStore(opened.sql, live.instruments);
            for (const [i, w] of shuffle([...s.base, ...s.corrections], seed).entries()) {
              const e: LedgerEvent = parse(live, w);
              const { outcomes } = await store.commit({ events: [{ event: e, payload: JSON.stringify(w), source: 'test', ref: null }], rejected: [] });
              const o = outcomes[0]!;
              if (o.kind !== 'new') throw new Error(`unexpected ${o.kind}`);
              expect((await submitWithHistory(live, e, store)).status).not.toBe('history');
              store.horizon = o.seq;
              const a = actions[i % actions.length]!;
              if (a.action === 'trim') await store.saveBases(live.trim(T0 + a.cut * 1_000_000, a.keep));
              else if (a.action === 'restart') {
                await store.saveCheckpoint(o.seq, '{}', live.checkpoint());
                const cp = (await store.latestCheckpoint())!;
                const next = newLedger({ snapshotEvery });
                for (const [asset, quote, points] of live.marks.series()) for (const p of points) next.marks.add(asset, quote, p.ts, p.id, p.price);
                for (const b of cp.books) next.restoreBook(b.book, b.last, b.consulted, restoreBook(b.state));
                store = new PgStore(opened.sql, next.instruments);
                store.horizon = cp.seq;
                for (const e2 of await store.eventsById(live.pendingCorrections())) await submitWithHistory(next, e2, store);
                live = next;
              }
            }
            const clean = newLedger({ snapshotEvery: 1_000_000 });
            for (const e of correctedLog(s).map((w) => parse(clean, w)).sort(compareLog)) clean.submit(e);
            expect(documentOf(live)).toBe(documentOf(clean));
          }
        },
      ),
      { numRuns: factory.name === 'postgres' ? 30 : 12 },
    );
  }, 120_000);
});

describe.each(bothStores())('schema on $name', (factory) => {
  it('holds no money in float or double precision columns', async () => {
    const opened = await factory.open();
    try {
      await new PgStore(opened.sql, new InstrumentRegistry()).migrate();
      const { rows } = await opened.sql.query<{ table_name: string; column_name: string; data_type: string }>(
        "SELECT table_name, column_name, data_type FROM information_schema.columns WHERE table_name LIKE 'utl_%'",
      );
      expect(rows.length).toBeGreaterThan(40);
      expect(rows.filter((r) => r.data_type === 'real' || r.data_type === 'double precision')).toEqual([]);
      const money = rows.filter((r) => ['qty', 'total', 'free', 'used'].includes(r.column_name)).map((r) => r.data_type);
      expect(new Set(money)).toEqual(new Set(['numeric']));
    } finally {
      await opened.close();
    }
  });
});
