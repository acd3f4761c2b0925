/**
 * `GET /ws` on a real service (PostgreSQL server, fresh database) with real `ws` clients:
 * snapshot then sequenced deltas, coalescing, resync after a gap, heartbeats and the silent
 * client, bad frames, a book's data never reaching a key that may not see it, and a client that
 * does not read dropped while another goes on.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { freshDatabase } from '../../../test/support/pg.js';
import { serviceConfig, startOptions, waitUntil } from '../../../test/support/service.js';
import { LiveHub } from '../../app/live.js';
import { startService, type Running } from '../../app/start.js';
import { wsRoutes, type WsAuth } from './ws.js';

type Msg = { type: string; book?: string; seq?: number; prevSeq?: number; code?: string; message?: string; positions?: unknown[]; summary?: unknown } & Record<string, unknown>;

/** A client that keeps every frame (parsed and raw) with its arrival time. */
class Client {
  readonly msgs: Msg[] = [];
  readonly raw: string[] = [];
  closed: { code: number; reason: string } | undefined;
  constructor(readonly ws: WebSocket) {
    ws.on('message', (d: Buffer) => {
      const text = d.toString('utf8');
      this.raw.push(text);
      this.msgs.push(JSON.parse(text) as Msg);
    });
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
    });
  }
  static async open(url: string, opts: WebSocket.ClientOptions = {}): Promise<Client> {
    const ws = new WebSocket(url, opts);
    const c = new Client(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return c;
  }
  send(v: unknown): void {
    this.ws.send(typeof v === 'string' ? v : JSON.stringify(v));
  }
  of(book: string): Msg[] {
    return this.msgs.filter((m) => m.book === book && (m.type === 'snapshot' || m.type === 'delta'));
  }
  /** The book's positions as a client holds them: the last snapshot, then each delta after it applied (sorted as the API sorts them). */
  view(book: string): unknown[] {
    const id = (p: unknown): string => { const q = p as { kind: string; asset: string; venue?: string }; return `${q.kind}|${q.asset}|${q.venue ?? ''}`; };
    let held = new Map<string, unknown>();
    for (const m of this.of(book)) {
      if (m.type === 'snapshot') held = new Map((m.positions ?? []).map((p) => [id(p), p]));
      else {
        for (const r of (m.removed as unknown[] | undefined) ?? []) held.delete(id(r));
        for (const p of m.positions ?? []) held.set(id(p), p);
      }
    }
    return [...held.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1)).map(([, p]) => p);
  }
  async next(pred: (m: Msg) => boolean, what: string, ms = 5000): Promise<Msg> {
    await waitUntil(() => this.msgs.some(pred), ms, what);
    return this.msgs.find(pred)!;
  }
  close(): void {
    this.ws.terminate();
  }
}

const id = (p: unknown): string => { const q = p as { kind: string; asset: string; venue?: string }; return `${q.kind}|${q.asset}|${q.venue ?? ''}`; };

let idn = 0;
const ts0 = Date.parse('2026-03-01T00:00:00Z');
function trade(book: string, instrument: string, side: 'buy' | 'sell', qty: string, price: string): string {
  idn++;
  const ts = new Date(ts0 + idn * 1000).toISOString();
  return JSON.stringify({ type: 'trade', id: `ws-${idn}`, ts, book, venue: 'binance', instrument, side, qty, price });
}

describe('GET /ws', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let run: Running;
  let ws: string;

  async function post(lines: readonly string[]): Promise<void> {
    const r = await fetch(`${run.url}/events`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: `${lines.join('\n')}\n` });
    expect(r.status).toBe(200);
  }
  async function positions(book: string): Promise<{ seq: number; positions: unknown[] }> {
    return (await (await fetch(`${run.url}/positions?book=${book}`)).json()) as { seq: number; positions: unknown[] };
  }

  beforeAll(async () => {
    db = await freshDatabase();
    run = await startService(startOptions({ service: serviceConfig(), databaseUrl: db.url, live: { heartbeatMs: 400 } }));
    ws = `${run.url.replace(/^http/, 'ws')}/ws`;
    await post([trade('mm', 'BTC/USD', 'buy', '1', '40000'), trade('otc', 'ETH/USD', 'buy', '10', '2500')]);
  });
  afterAll(async () => {
    await run.stop();
    await db.drop();
  });

  it('sends a snapshot first, then deltas whose seq increases and whose prevSeq chains', async () => {
    const c = await Client.open(ws);
    c.send({ op: 'subscribe', books: ['mm'] });
    const snap = await c.next((m) => m.type === 'snapshot', 'the snapshot');
    expect(snap).toMatchObject({ book: 'mm', seq: run.service.stats.lastSeq });
    expect(snap.positions).toEqual((await positions('mm')).positions);
    for (let i = 0; i < 3; i++) {
      await post([trade('mm', 'BTC/USD', 'buy', '0.1', '40100')]);
      await new Promise((r) => setTimeout(r, 150));
    }
    await waitUntil(() => c.of('mm').at(-1)?.seq === run.service.stats.lastSeq, 5000, 'the last delta');
    const got = c.of('mm');
    expect(got[0]!.type).toBe('snapshot');
    expect(got.length).toBeGreaterThanOrEqual(2);
    for (let i = 1; i < got.length; i++) {
      expect(got[i]!.type).toBe('delta');
      expect(got[i]!.prevSeq).toBe(got[i - 1]!.seq);
      expect(got[i]!.seq!).toBeGreaterThan(got[i - 1]!.seq!);
    }
    expect(c.msgs.some((m) => m.book === 'otc')).toBe(false);
    c.close();
  });

  it('coalesces: 50 quick batches reach a client at most about 10 times a second per book, the last state equal to GET /positions', async () => {
    const c = await Client.open(ws);
    c.send({ op: 'subscribe', books: '*' });
    await c.next((m) => m.type === 'snapshot' && m.book === 'otc', 'the snapshots');
    const t0 = Date.now();
    for (let i = 0; i < 50; i++) await post([trade('mm', 'BTC/USD', i % 2 === 0 ? 'buy' : 'sell', '0.01', String(40000 + i)), trade('otc', 'ETH/USD', 'buy', '0.5', String(2500 + i))]);
    const seq = run.service.stats.lastSeq;
    await waitUntil(() => c.of('mm').at(-1)?.seq === seq && c.of('otc').at(-1)?.seq === seq, 5000, 'the last deltas');
    const ms = Date.now() - t0;
    for (const book of ['mm', 'otc']) {
      const deltas = c.of(book).filter((m) => m.type === 'delta');
      expect(deltas.length).toBeLessThan(50);
      expect(deltas.length).toBeLessThanOrEqual(Math.ceil(ms / 100) + 2);
      const now = await positions(book);
      expect(now.seq).toBe(seq);
      // A delta carries the positions that changed (here the one traded), and the client's view, the snapshot with every delta applied, is the book.
      for (const d of deltas) expect(d.positions!.length).toBeLessThanOrEqual(2);
      expect(c.view(book)).toEqual([...now.positions].sort((a, b) => (id(a) < id(b) ? -1 : 1)));
    }
    c.close();
  });

  it('answers a resync after a gap with a fresh snapshot, and deltas go on from it', async () => {
    const c = await Client.open(ws);
    c.send({ op: 'subscribe', books: ['mm'] });
    await c.next((m) => m.type === 'snapshot', 'the snapshot');
    // The client loses the next delta: the one after it shows the gap.
    await post([trade('mm', 'BTC/USD', 'buy', '0.1', '41000')]);
    const lost = await c.next((m) => m.type === 'delta', 'a delta');
    c.msgs.splice(c.msgs.indexOf(lost), 1);
    await new Promise((r) => setTimeout(r, 120));
    await post([trade('mm', 'BTC/USD', 'buy', '0.1', '41001')]);
    const next = await c.next((m) => m.type === 'delta', 'the delta after the gap');
    const mine = c.of('mm');
    expect(next.prevSeq).not.toBe(mine[0]!.seq);
    c.send({ op: 'resync', book: 'mm' });
    await waitUntil(() => c.of('mm').filter((m) => m.type === 'snapshot').length === 2, 5000, 'the resync snapshot');
    const snap = c.of('mm').filter((m) => m.type === 'snapshot')[1]!;
    expect(snap.seq).toBe(run.service.stats.lastSeq);
    expect(snap.positions).toEqual((await positions('mm')).positions);
    await new Promise((r) => setTimeout(r, 120));
    await post([trade('mm', 'BTC/USD', 'sell', '0.1', '41002')]);
    await waitUntil(() => c.of('mm').at(-1)!.type === 'delta' && c.of('mm').at(-1)!.prevSeq === snap.seq, 5000, 'a delta after the snapshot');
    c.close();
  });

  it('sends heartbeats, answers ping, and closes a client that does not answer pings', async () => {
    const c = await Client.open(ws);
    c.send({ op: 'ping' });
    expect(await c.next((m) => m.type === 'pong', 'the pong')).toMatchObject({ seq: run.service.stats.lastSeq });
    const hb = await c.next((m) => m.type === 'heartbeat', 'a heartbeat', 2000);
    expect(hb.seq).toBe(run.service.stats.lastSeq);
    expect(typeof hb.at).toBe('string');

    const silent = await Client.open(ws, { autoPong: false });
    await waitUntil(() => silent.closed !== undefined, 3000, 'the silent client closed');
    expect(silent.closed!.code).toBe(4408);
    // The answering client is still there.
    const beats = c.msgs.filter((m) => m.type === 'heartbeat').length;
    await waitUntil(() => c.msgs.filter((m) => m.type === 'heartbeat').length > beats, 2000, 'one more heartbeat');
    expect(c.closed).toBeUndefined();
    c.close();
  });

  it('answers bad frames with an error and closes a client that keeps sending them', async () => {
    const c = await Client.open(ws);
    c.send('not json');
    c.send({ op: 'dance' });
    c.send({ op: 'subscribe', books: [1] });
    c.send({ op: 'subscribe' });
    c.send({ op: 'resync', book: 'mm' });
    c.ws.send(Buffer.from([1, 2, 3]), { binary: true });
    await waitUntil(() => c.msgs.filter((m) => m.type === 'error').length === 6, 3000, 'six errors');
    expect(c.msgs.filter((m) => m.type === 'error').map((m) => m.code)).toEqual(['BAD_JSON', 'UNKNOWN_OP', 'BAD_BOOKS', 'BAD_BOOKS', 'NOT_SUBSCRIBED', 'BAD_FRAME']);
    expect(c.closed).toBeUndefined();
    for (let i = 0; i < 10; i++) c.send('{');
    await waitUntil(() => c.closed !== undefined, 3000, 'the abusive client closed');
    expect(c.closed!.code).toBe(1008);
  });

  describe('on a hub of its own', () => {
    let app: FastifyInstance;
    let authHub: LiveHub;
    let slowHub: LiveHub;
    let app2: FastifyInstance;
    const auth: WsAuth = {
      authenticate: (req) => (req.headers['x-api-key'] === 'k-mm' ? { canSee: (b) => b === 'mm' } : undefined),
    };

    beforeAll(async () => {
      authHub = new LiveHub(run.service, { heartbeatMs: 60_000 });
      slowHub = new LiveHub(run.service, { heartbeatMs: 60_000, maxBufferedBytes: 256 * 1024 });
      const first = run.service.onUpdate;
      run.service.onUpdate = (u) => {
        first?.(u);
        authHub.publish(u);
        slowHub.publish(u);
      };
      app = Fastify();
      await app.register(wsRoutes(authHub, { auth }));
      await app.listen({ host: '127.0.0.1', port: 0 });
      app2 = Fastify();
      await app2.register(wsRoutes(slowHub, { closeGraceMs: 200 }));
      await app2.listen({ host: '127.0.0.1', port: 0 });
    });
    afterAll(async () => {
      await app.close();
      await app2.close();
    });
    const urlOf = (a: FastifyInstance): string => {
      const addr = a.server.address();
      if (addr === null || typeof addr === 'string') throw new Error('not listening');
      return `ws://127.0.0.1:${addr.port}/ws`;
    };

    it('refuses a request without a valid key with 401 before the upgrade', async () => {
      const status = await new Promise<number>((resolve, reject) => {
        const w = new WebSocket(urlOf(app), { headers: { 'x-api-key': 'wrong' } });
        w.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
        w.on('open', () => reject(new Error('upgraded without a key')));
        w.on('error', () => undefined);
      });
      expect(status).toBe(401);
    });

    it('never sends a book the key may not see: not in snapshots, deltas or errors', async () => {
      const c = await Client.open(urlOf(app), { headers: { 'x-api-key': 'k-mm' } });
      c.send({ op: 'subscribe', books: '*' });
      c.send({ op: 'subscribe', books: ['otc', 'nosuch'] });
      c.send({ op: 'resync', book: 'otc' });
      await c.next((m) => m.type === 'snapshot' && m.book === 'mm', 'the mm snapshot');
      await waitUntil(() => c.msgs.filter((m) => m.type === 'error').length === 2, 3000, 'two errors');
      expect(c.msgs.filter((m) => m.type === 'error').map((m) => m.code)).toEqual(['BOOK_NOT_VISIBLE', 'NOT_SUBSCRIBED']);
      await post([trade('otc', 'ETH/USD', 'buy', '1', '2600'), trade('mm', 'BTC/USD', 'buy', '0.2', '42000'), trade('hidden', 'SOL/USD', 'buy', '3', '100')]);
      const seq = run.service.stats.lastSeq;
      await waitUntil(() => c.of('mm').at(-1)?.seq === seq, 5000, 'the mm delta');
      await new Promise((r) => setTimeout(r, 200));
      expect(c.raw.some((t) => t.includes('otc') || t.includes('hidden') || t.includes('nosuch'))).toBe(false);
      expect(new Set(c.msgs.map((m) => m.book).filter((b) => b !== undefined))).toEqual(new Set(['mm']));
      c.close();
    });

    it('drops a client that does not read (1013) while another goes on', async () => {
      // A wide book: every snapshot carries hundreds of positions, so unread bytes pile up fast
      // (the client that does not read still asks for a resync, a snapshot, every 20 ms).
      const assets = Array.from({ length: 400 }, (_, i) => `W${String(i).padStart(4, '0')}`);
      await post(assets.map((a) => trade('wide', `${a}/USD`, 'buy', '1', '10')));
      const slow = await Client.open(urlOf(app2));
      const ok = await Client.open(urlOf(app2));
      slow.send({ op: 'subscribe', books: ['wide'] });
      ok.send({ op: 'subscribe', books: ['wide'] });
      await slow.next((m) => m.type === 'snapshot', 'the slow snapshot');
      await ok.next((m) => m.type === 'snapshot', 'the ok snapshot');
      const socket = (slow.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
      socket.pause();
      const deadline = Date.now() + 20_000;
      let i = 0;
      while (slowHub.stats.droppedSlow === 0 && Date.now() < deadline) {
        await post([trade('wide', `${assets[i % assets.length]!}/USD`, 'buy', '1', String(10 + (i % 7)))]);
        slow.send({ op: 'resync', book: 'wide' });
        i++;
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(slowHub.stats.droppedSlow).toBe(1);
      expect(slowHub.stats.sessions).toBe(1);
      socket.resume();
      await waitUntil(() => slow.closed !== undefined, 5000, 'the slow client closed');
      // Its close frame may sit behind what it never read: it is then cut (1006).
      expect([1013, 1006]).toContain(slow.closed!.code);
      const before = ok.of('wide').length;
      await post([trade('wide', 'W0001/USD', 'sell', '1', '12')]);
      const seq = run.service.stats.lastSeq;
      await waitUntil(() => ok.of('wide').at(-1)?.seq === seq, 5000, 'the reading client goes on');
      expect(ok.of('wide').length).toBeGreaterThan(before);
      expect(ok.closed).toBeUndefined();
      ok.close();
    });
  });
});
