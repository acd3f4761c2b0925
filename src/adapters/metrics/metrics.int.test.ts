/**
 * GET /metrics on a real service (PostgreSQL server, fresh database; the in-process bus as its
 * NATS source): events posted over HTTP and delivered from the bus — booked, duplicated,
 * rejected at validation, refused as a conflicting repeat, left unbooked — show in the counters
 * with their labels; the histograms count every committed batch; the lag is the bus's backlog.
 */
import { readFileSync } from 'node:fs';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase } from '../../../test/support/pg.js';
import { parseExposition, type Exposition } from '../../../test/support/prometheus.js';
import { quiet, serviceConfig, waitUntil } from '../../../test/support/service.js';
import { Service } from '../../app/service.js';
import { InstrumentRegistry } from '../../domain/instrument.js';
import { buildServer } from '../http/server.js';
import { InProcessBus } from '../nats/bus.js';
import { pgSql } from '../pg/sql.js';
import { PgStore } from '../pg/store.js';
import { ServiceMetrics } from './metrics.js';

const deskLines = readFileSync('examples/desk.jsonl', 'utf8').split('\n').filter((l) => l.trim().length > 0);

/** What the desk log should book, by `type|venue`: each distinct line once, the bad one not. */
function expectedDesk(): Map<string, number> {
  const out = new Map<string, number>();
  const seen = new Set<string>();
  for (const line of deskLines) {
    if (seen.has(line)) continue;
    seen.add(line);
    const e = JSON.parse(line) as { id?: string; type: string; venue?: string; from?: string };
    if (e.id === 'bad-1') continue;
    const k = `${e.type}|${(e.type === 'transfer' ? e.from : e.venue) ?? 'unknown'}`;
    out.set(k, (out.get(k) ?? 0) + 1);
  }
  return out;
}

describe('GET /metrics', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let sql: ReturnType<typeof pgSql>;
  let service: Service;
  let metrics: ServiceMetrics;
  let bus: InProcessBus;
  let app: FastifyInstance;

  const scrape = async (): Promise<Exposition> => {
    const r = await app.inject({ url: '/metrics' });
    expect(r.statusCode).toBe(200);
    return parseExposition(r.body);
  };
  const post = (payload: string, contentType = 'application/json'): Promise<LightMyRequestResponse> =>
    app.inject({ method: 'POST', url: '/events', headers: { 'content-type': contentType }, payload });

  beforeAll(async () => {
    db = await freshDatabase();
    sql = pgSql(db.url);
    metrics = new ServiceMetrics();
    service = new Service(new PgStore(sql, new InstrumentRegistry()), undefined, serviceConfig({ batchWaitMs: 1 }), quiet, metrics);
    metrics.attach(service);
    await service.start();
    bus = new InProcessBus();
    app = buildServer(service, { metrics });
  });
  afterAll(async () => {
    await app.close();
    await service.stop();
    await sql.close();
    await db.drop();
  });

  it('serves the Prometheus text format; a fresh service has its metrics at zero', async () => {
    const r = await app.inject({ url: '/metrics' });
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4; charset=utf-8$/);
    const e = parseExposition(r.body);
    expect(e.types.get('utl_events_booked_total')).toBe('counter');
    expect(e.types.get('utl_booking_latency_seconds')).toBe('histogram');
    expect(e.value('utl_batch_commit_seconds_count')).toBe(0);
    expect(e.value('utl_last_seq')).toBe(0);
    // No source attached yet: the lag is unknown, not 0.
    expect(e.value('utl_consumer_lag_messages')).toBeNaN();
    expect(e.value('utl_process_start_time_seconds')).toBeGreaterThan(0);
  });

  it('counts events posted over HTTP by type, venue and code', async () => {
    const desk = await post(deskLines.join('\n'), 'application/x-ndjson');
    expect(desk.json()).toMatchObject({ accepted: deskLines.length - 2, duplicate: 1, rejected: 1 });
    const more = await post(
      JSON.stringify([
        // A repeat of a desk fill with other content; one with the same content; a withdrawal of an unpriced asset.
        { type: 'trade', id: 'bn-1002', ts: '2026-01-02T10:04:00Z', book: 'mm', venue: 'binance', instrument: 'BTC/USDT', side: 'buy', qty: '9', price: '41950' },
        JSON.parse(deskLines[0]!) as unknown,
        { type: 'withdrawal', id: 'w-unvalued', ts: '2026-01-03T00:00:00Z', book: 'mm', venue: 'binance', asset: 'DOGE', qty: '1' },
      ]),
    );
    expect(more.json()).toMatchObject({ accepted: 1, duplicate: 1, rejected: 1 });
    const broken = await post('{"type":"trade",\n', 'application/x-ndjson');
    expect(broken.json()).toMatchObject({ rejected: 1 });

    const e = await scrape();
    const booked = new Map<string, number>();
    for (const s of e.samples.filter((x) => x.name === 'utl_events_booked_total' || x.name === 'utl_events_unbooked_total')) {
      const k = `${s.labels.type}|${s.labels.venue}`;
      booked.set(k, (booked.get(k) ?? 0) + s.value);
    }
    const want = expectedDesk();
    want.set('withdrawal|binance', (want.get('withdrawal|binance') ?? 0) + 1);
    expect(booked).toEqual(want);
    expect(e.value('utl_events_unbooked_total', { type: 'withdrawal', venue: 'binance', code: 'UNVALUED' })).toBe(1);
    expect(e.value('utl_events_rejected_total', { type: 'trade', venue: 'binance', code: 'UNKNOWN_SIDE' })).toBe(1);
    expect(e.value('utl_events_rejected_total', { type: 'trade', venue: 'binance', code: 'DUPLICATE_CONFLICT' })).toBe(1);
    expect(e.value('utl_events_rejected_total', { type: 'unknown', venue: 'unknown', code: 'JSON_SYNTAX' })).toBe(1);
    expect(e.value('utl_events_duplicate_total', { type: 'trade', venue: 'binance' })).toBe(1);
    expect(e.value('utl_events_duplicate_total', { type: 'instrument', venue: 'binance' })).toBe(1);

    // The counters agree with GET /state's.
    const { stats } = service;
    expect([e.sum('utl_events_booked_total'), e.sum('utl_events_unbooked_total'), e.sum('utl_events_duplicate_total'), e.sum('utl_events_rejected_total')]).toEqual([
      stats.booked,
      stats.unbooked,
      stats.duplicates,
      stats.rejected,
    ]);
    expect(e.value('utl_last_seq')).toBe(stats.lastSeq);
    // Three committed POSTs: one observation each, of their sizes.
    expect(e.value('utl_batch_commit_seconds_count')).toBe(3);
    expect(e.value('utl_batch_size_count')).toBe(3);
    expect(e.value('utl_batch_size_sum')).toBe(deskLines.length + 3 + 1);
    expect(e.value('utl_booking_latency_seconds_count')).toBe(3);
    expect(e.value('utl_booking_latency_seconds_sum')).toBeGreaterThan(0);
    expect(e.value('utl_booking_latency_seconds_bucket', { le: '+Inf' })).toBe(3);
    expect(e.value('utl_checkpoints_total')).toBe(stats.checkpoints);
    expect(e.value('utl_commit_errors_total')).toBe(0);
  });

  it('counts events delivered from the NATS source; the lag is its backlog', async () => {
    const before = await scrape();
    const trades = Array.from({ length: 5 }, (_, i) =>
      JSON.stringify({ type: 'trade', id: `nats-${i}`, ts: '2026-01-02T18:00:00Z', book: 'mm', venue: 'okx', instrument: 'BTC/USDT', side: 'buy', qty: '0.01', price: '42000' }),
    );
    for (const t of [...trades, 'not json']) bus.publish('utl.events.mm', Buffer.from(t));
    service.attach(bus.source());
    // Published before the consumer started: all six wait. (The lag is read before the first
    // delivery only if the scrape wins the race, so wait for the service and check the end state.)
    await waitUntil(() => bus.pendingCount() === 0 && bus.inFlightCount() === 0, 10_000, 'the bus to drain');
    const e = await scrape();
    expect(e.value('utl_consumer_lag_messages')).toBe(0);
    const delta = (name: string, labels: Record<string, string>): number => (e.value(name, labels) ?? 0) - (before.value(name, labels) ?? 0);
    expect(delta('utl_events_booked_total', { type: 'trade', venue: 'okx' })).toBe(5);
    expect(delta('utl_events_rejected_total', { type: 'unknown', venue: 'unknown', code: 'JSON_SYNTAX' })).toBe(1);
    const batches = e.value('utl_batch_commit_seconds_count')! - before.value('utl_batch_commit_seconds_count')!;
    expect(batches).toBeGreaterThanOrEqual(1);
    expect(e.value('utl_batch_size_sum')! - before.value('utl_batch_size_sum')!).toBe(6);
    expect(e.value('utl_booking_latency_seconds_count')! - before.value('utl_booking_latency_seconds_count')!).toBe(batches);
    expect(e.value('utl_last_seq')).toBe(service.stats.lastSeq);
  });

  it('shows the lag of messages not yet consumed', async () => {
    const lagging = new InProcessBus();
    for (let i = 0; i < 7; i++) lagging.publish('utl.events.mm', Buffer.from('{}'));
    const m = new ServiceMetrics({ processMetrics: false }).attach({ stats: service.stats, pending: () => lagging.source().pending() });
    expect(parseExposition(await m.metrics()).value('utl_consumer_lag_messages')).toBe(7);
  });
});
