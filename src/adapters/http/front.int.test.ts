/**
 * The HTTP front (front.ts) of a real service (PostgreSQL server, fresh database; `utl start`'s
 * composition): `GET /positions` answered from the front's copy is the API's own answer, byte for
 * byte, at the same `seq`, whatever the filters; a write through the front is read back at once,
 * even when the book's updates are spaced far apart; what the front does not answer itself (an
 * `at`, a repeated parameter, other routes) the API answers as ever; and the client's address the
 * API sees is the connection's, never a header the client sent.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase } from '../../../test/support/pg.js';
import { generatedLines, serviceConfig, startOptions, waitUntil } from '../../../test/support/service.js';
import { positionsBody } from '../../app/positions-json.js';
import { Dec } from '../../domain/decimal.js';
import { startService, type Running } from '../../app/start.js';

const UPDATE_MS = 400;

describe('the HTTP front', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let run: Running;
  let caughtUp = 0;

  async function post(lines: readonly string[], headers: Record<string, string> = {}): Promise<Response> {
    return fetch(`${run.url}/events`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson', ...headers }, body: `${lines.join('\n')}\n` });
  }

  /** What the API itself answers (positions-json.ts, as server.ts writes it) for these books, asset, venue. */
  function apiBody(q: { books?: string[]; asset?: string; venue?: string }): string {
    const r = run.service.positions(q.books === undefined ? { lots: false } : { books: q.books, lots: false });
    const positions = r.positions.filter((p) => (q.asset === undefined || p.asset === q.asset) && (q.venue === undefined || p.byVenue[q.venue] !== undefined));
    const body = positionsBody({ asOf: r.asOf, reporting: r.reporting, seq: run.service.stats.lastSeq }, positions);
    return Buffer.concat(body.chunks).toString('utf8');
  }

  beforeAll(async () => {
    db = await freshDatabase();
    run = await startService(startOptions({ service: serviceConfig({ updateIntervalMs: UPDATE_MS }), databaseUrl: db.url, writeLimit: { max: 3, timeWindowMs: 60_000 } }));
    const watch = run.service.onCaughtUp!;
    run.service.onCaughtUp = (seq) => {
      caughtUp = seq;
      watch(seq);
    };
    const lines = generatedLines(3000);
    // The seed goes in as one write (the limit allows three per address and minute).
    expect((await post(lines)).status).toBe(200);
  });

  afterAll(async () => {
    await run?.stop();
    await db?.drop();
  });

  it('answers GET /positions as the API would, byte for byte, once the updates caught up', async () => {
    await waitUntil(() => caughtUp === run.service.stats.lastSeq, 5000, 'the updates to catch up');
    const books = run.service.ledger.bookNames();
    expect(books.length).toBeGreaterThan(1);
    const some = run.service.positions({ books: [books[0]!] }).positions;
    const asset = some[0]!.asset;
    const venue = Object.keys(some.find((p) => Object.keys(p.byVenue).length > 0)!.byVenue)[0]!;
    const cases: [string, Parameters<typeof apiBody>[0]][] = [
      ['', {}],
      [`?book=${books[0]}`, { books: [books[0]!] }],
      [`?book=${books[1]},${books[0]},nosuchbook`, { books: [books[1]!, books[0]!, 'nosuchbook'] }],
      [`?asset=${asset}`, { asset }],
      [`?venue=${venue}`, { venue }],
      [`?book=${books[0]}&asset=${asset}&venue=${venue}`, { books: [books[0]!], asset, venue }],
      ['?asset=NOSUCH', { asset: 'NOSUCH' }],
    ];
    for (const [query, q] of cases) {
      const r = await fetch(`${run.url}/positions${query}`);
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toBe('application/json; charset=utf-8');
      const text = await r.text();
      expect(text, query).toBe(apiBody(q));
      expect(Number(r.headers.get('content-length'))).toBe(Buffer.byteLength(text));
    }
    expect(((await (await fetch(`${run.url}/positions`)).json()) as { positions: unknown[] }).positions.length).toBeGreaterThan(10);
  });

  it('reads back a write made through it at once, though the book updates only every 400 ms', async () => {
    const book = run.service.ledger.bookNames()[0]!;
    const qtyOf = (ps: readonly { kind: string; asset: string; qty: string }[]): Dec => Dec.of(ps.find((p) => p.kind === 'spot' && p.asset === 'FRONTX')?.qty ?? '0');
    const before = qtyOf(run.service.positions({ books: [book] }).positions);
    // The book was just updated (the test above waited for it): the next update is UPDATE_MS away.
    const r = await post([JSON.stringify({ type: 'trade', id: 'front-rw-1', ts: new Date().toISOString(), book, venue: 'binance', instrument: 'FRONTX/USDT', side: 'buy', qty: '0.5', price: '40000' })]);
    expect(r.status).toBe(200);
    expect(r.headers.get('x-utl-seq')).toBeNull(); // the front's, not the client's
    const t0 = performance.now();
    const got = (await (await fetch(`${run.url}/positions?book=${book}&asset=FRONTX`)).json()) as { seq: number; positions: { kind: string; asset: string; qty: string }[] };
    expect(qtyOf(got.positions).sub(before).toString()).toBe('0.5');
    expect(got.seq).toBeGreaterThanOrEqual(run.service.stats.lastSeq);
    expect(performance.now() - t0).toBeLessThan(2000);
  });

  it('shows a new mark at once in a book no event touched (its valuations moved)', async () => {
    const book = run.service.ledger.bookNames()[1]!;
    const held = run.service.positions({ books: [book] }).positions.find((p) => p.kind === 'spot' && p.mark !== null && p.qty !== '0')!;
    const price = Dec.of(held.mark!).add(Dec.of('1.5')).toString();
    const r = await post([JSON.stringify({ type: 'price', id: 'front-mark-1', ts: new Date().toISOString(), asset: held.asset, quote: 'USD', price })]);
    expect(r.status).toBe(200);
    const got = (await (await fetch(`${run.url}/positions?book=${book}&asset=${held.asset}`)).json()) as { positions: { kind: string; mark: string | null }[] };
    expect(got.positions.find((p) => p.kind === 'spot')?.mark).toBe(price);
  });

  it('passes on what it does not answer itself: the API answers with its own errors and routes', async () => {
    const twice = await fetch(`${run.url}/positions?book=a&book=b`);
    expect(twice.status).toBe(400);
    expect(twice.headers.get('content-type')).toContain('application/problem+json');
    const past = (await (await fetch(`${run.url}/positions?at=2026-01-01T00:00:00Z`)).json()) as { asOf: string };
    expect(past.asOf).toBe('2026-01-01T00:00:00Z');
    expect((await fetch(`${run.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${run.url}/books`)).status).toBe(200);
    expect((await fetch(`${run.url}/nosuchroute`)).status).toBe(404);
  });

  it('gives the API the connection\'s address: a client cannot pass the write limit by naming another', async () => {
    // Three writes per address and minute: the seed, the read-back and the mark above took them.
    const r = await post([], { 'x-forwarded-for': '203.0.113.7' });
    expect(r.status).toBe(429);
  });
});
