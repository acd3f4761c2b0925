/**
 * The metrics without I/O: a batch's tally becomes counters with bounded labels; values read at
 * scrape time (stats, lag, providers) with their timeout; two services' registries apart.
 */
import { describe, expect, it } from 'vitest';
import { parseExposition } from '../../../test/support/prometheus.js';
import { EventTally, labelsOfInput } from '../../app/observer.js';
import type { ServiceStats } from '../../app/service.js';
import type { LedgerEvent } from '../../domain/events.js';
import { InstrumentRegistry } from '../../domain/instrument.js';
import { validateEvent } from '../../domain/validate.js';
import { breakAge, countOpenBreaks, ServiceMetrics } from './metrics.js';

const instruments = new InstrumentRegistry();
function event(value: Record<string, unknown>): LedgerEvent {
  const v = validateEvent(value, instruments);
  if (!v.ok) throw new Error(JSON.stringify(v.issues));
  return v.event;
}
const TS = '2026-01-02T10:00:00Z';
const trade = (id: string, venue: string): LedgerEvent => event({ type: 'trade', id, ts: TS, book: 'b', venue, instrument: 'BTC/USDT', side: 'buy', qty: '1', price: '100' });
const mark = (id: string): LedgerEvent => event({ type: 'price', id, ts: TS, asset: 'BTC', quote: 'USD', price: '100' });
const transfer = (id: string): LedgerEvent => event({ type: 'transfer', id, ts: TS, book: 'b', asset: 'BTC', qty: '1', from: 'binance', to: 'okx' });

function stats(over: Partial<ServiceStats> = {}): ServiceStats {
  return { booked: 0, unbooked: 0, duplicates: 0, rejected: 0, batches: 0, historyLoads: 0, lastSeq: 0, checkpoints: 0, commitErrors: 0, ...over };
}

async function scrape(m: ServiceMetrics): Promise<ReturnType<typeof parseExposition>> {
  return parseExposition(await m.metrics());
}

describe('ServiceMetrics', () => {
  it('counts a batch by type, venue and code, once per label set', async () => {
    const m = new ServiceMetrics({ processMetrics: false });
    const t = new EventTally(0, 7);
    t.bookedEvent(trade('a', 'binance'));
    t.bookedEvent(trade('b', 'binance'));
    t.bookedEvent(trade('c', 'okx'));
    t.bookedEvent(mark('p'));
    t.bookedEvent(transfer('x'));
    t.duplicateEvent(trade('a', 'binance'));
    t.unbookedEvent('UNVALUED', trade('d', 'okx'));
    t.rejectedEvent('DUPLICATE_CONFLICT', trade('a', 'binance'));
    t.rejectedInput('JSON_SYNTAX', undefined);
    t.rejectedInput('UNKNOWN_SIDE', { type: 'trade', venue: 'kraken', side: 'long' });
    m.committed(0.004, 7);
    m.booked(t, 250);
    const e = await scrape(m);
    expect(e.value('utl_events_booked_total', { type: 'trade', venue: 'binance' })).toBe(2);
    expect(e.value('utl_events_booked_total', { type: 'trade', venue: 'okx' })).toBe(1);
    expect(e.value('utl_events_booked_total', { type: 'price', venue: 'unknown' })).toBe(1);
    expect(e.value('utl_events_booked_total', { type: 'transfer', venue: 'binance' })).toBe(1);
    expect(e.value('utl_events_duplicate_total', { type: 'trade', venue: 'binance' })).toBe(1);
    expect(e.value('utl_events_unbooked_total', { type: 'trade', venue: 'okx', code: 'UNVALUED' })).toBe(1);
    expect(e.value('utl_events_rejected_total', { type: 'trade', venue: 'binance', code: 'DUPLICATE_CONFLICT' })).toBe(1);
    expect(e.value('utl_events_rejected_total', { type: 'unknown', venue: 'unknown', code: 'JSON_SYNTAX' })).toBe(1);
    expect(e.value('utl_events_rejected_total', { type: 'trade', venue: 'kraken', code: 'UNKNOWN_SIDE' })).toBe(1);
    expect(e.value('utl_booking_latency_seconds_count')).toBe(1);
    expect(e.value('utl_booking_latency_seconds_sum')).toBeCloseTo(0.25);
    expect(e.value('utl_booking_latency_seconds_bucket', { le: '0.1' })).toBe(0);
    expect(e.value('utl_booking_latency_seconds_bucket', { le: '0.25' })).toBe(1);
    expect(e.value('utl_batch_commit_seconds_count')).toBe(1);
    expect(e.value('utl_batch_size_sum')).toBe(7);
    expect(e.value('utl_batch_size_bucket', { le: '5' })).toBe(0);
    expect(e.value('utl_batch_size_bucket', { le: '10' })).toBe(1);
  });

  it('keeps labels of refused inputs bounded: unknown types and odd venues become unknown', () => {
    expect(labelsOfInput({ type: 'trade', venue: 'binance' })).toEqual({ type: 'trade', venue: 'binance' });
    expect(labelsOfInput({ type: 'transfer', from: 'okx', venue: 'x' })).toEqual({ type: 'transfer', venue: 'okx' });
    expect(labelsOfInput({ type: 'hack', venue: 'a b' })).toEqual({ type: 'unknown', venue: 'unknown' });
    expect(labelsOfInput({ type: 'toString', venue: 'x'.repeat(65) })).toEqual({ type: 'unknown', venue: 'unknown' });
    expect(labelsOfInput([1, 2])).toEqual({ type: 'unknown', venue: 'unknown' });
    expect(labelsOfInput('trade')).toEqual({ type: 'unknown', venue: 'unknown' });
  });

  it('caps the distinct venues: the rest count as other', async () => {
    const m = new ServiceMetrics({ processMetrics: false, maxVenues: 2 });
    const t = new EventTally(0, 3);
    for (const v of ['v1', 'v2', 'v3', 'v4']) t.bookedEvent(trade(`t-${v}`, v));
    m.booked(t, 0);
    const e = await scrape(m);
    expect(e.sum('utl_events_booked_total')).toBe(4);
    expect(e.value('utl_events_booked_total', { type: 'trade', venue: 'other' })).toBe(2);
    expect(new Set(e.samples.filter((s) => s.name === 'utl_events_booked_total').map((s) => s.labels.venue))).toEqual(new Set(['v1', 'v2', 'other']));
  });

  it('reads stats and lag at scrape time; lag is NaN when unknown or too slow', async () => {
    const s = stats({ lastSeq: 42, checkpoints: 3, historyLoads: 2, commitErrors: 1 });
    let pending: () => Promise<number | undefined> = () => Promise.resolve(17);
    const m = new ServiceMetrics({ processMetrics: false, collectTimeoutMs: 50 }).attach({ stats: s, pending: () => pending() });
    let e = await scrape(m);
    expect(e.value('utl_last_seq')).toBe(42);
    expect(e.value('utl_checkpoints_total')).toBe(3);
    expect(e.value('utl_history_loads_total')).toBe(2);
    expect(e.value('utl_commit_errors_total')).toBe(1);
    expect(e.value('utl_consumer_lag_messages')).toBe(17);
    s.checkpoints = 5;
    pending = () => Promise.resolve(undefined);
    e = await scrape(m);
    expect(e.value('utl_checkpoints_total')).toBe(5);
    expect(e.value('utl_consumer_lag_messages')).toBeNaN();
    pending = () => new Promise(() => undefined); // never answers
    e = await scrape(m);
    expect(e.value('utl_consumer_lag_messages')).toBeNaN();
    expect(e.value('utl_metrics_provider_errors_total', { provider: 'consumer_lag' })).toBe(1);
  });

  it('serves open breaks and firing alerts from providers; a failing provider empties its gauge only', async () => {
    const m = new ServiceMetrics({ processMetrics: false, collectTimeoutMs: 50 });
    let breaks = [
      { venue: 'binance', age: breakAge(10), count: 2 },
      { venue: 'binance', age: breakAge(7200), count: 1 },
      { venue: 'okx', age: breakAge(90_000), count: 4 },
    ];
    m.setProviders({ openBreaks: () => breaks });
    m.setProviders({ alertsFiring: () => Promise.resolve([{ rule: 'break_older_than_24h', severity: 'critical', count: 1 }]) });
    let e = await scrape(m);
    expect(e.value('utl_open_breaks', { venue: 'binance', age: 'lt_1h' })).toBe(2);
    expect(e.value('utl_open_breaks', { venue: 'binance', age: '1h_24h' })).toBe(1);
    expect(e.value('utl_open_breaks', { venue: 'okx', age: 'gt_24h' })).toBe(4);
    expect(e.value('utl_alerts_firing', { rule: 'break_older_than_24h', severity: 'critical' })).toBe(1);
    // A break resolved: its series goes (the gauge is rebuilt at each scrape).
    breaks = breaks.slice(2);
    e = await scrape(m);
    expect(e.value('utl_open_breaks', { venue: 'binance', age: 'lt_1h' })).toBeUndefined();
    m.setProviders({
      openBreaks: () => {
        throw new Error('recon store down');
      },
    });
    e = await scrape(m);
    expect(e.sum('utl_open_breaks')).toBe(0);
    expect(e.value('utl_alerts_firing', { rule: 'break_older_than_24h', severity: 'critical' })).toBe(1);
    expect(e.value('utl_metrics_provider_errors_total', { provider: 'open_breaks' })).toBe(1);
  });

  it('gives each service its own registry; process metrics are shared, started once', async () => {
    const a = new ServiceMetrics();
    const b = new ServiceMetrics();
    const t = new EventTally(0, 1);
    t.bookedEvent(trade('a', 'binance'));
    a.booked(t, 0);
    const [ea, eb] = [await scrape(a), await scrape(b)];
    expect(ea.sum('utl_events_booked_total')).toBe(1);
    expect(eb.sum('utl_events_booked_total')).toBe(0);
    for (const e of [ea, eb]) {
      // CPU counts from when the process metrics started (a moment ago here: maybe 0 ticks yet).
      expect(e.value('utl_process_cpu_user_seconds_total')).toBeGreaterThanOrEqual(0);
      expect(e.value('utl_process_start_time_seconds')).toBeGreaterThan(0);
      expect(e.types.get('utl_nodejs_heap_size_used_bytes')).toBe('gauge');
    }
    expect(a.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
  });

  it('buckets break ages; counts open breaks per venue and age', () => {
    expect([0, 3599, 3600, 86_399, 86_400, 1e9].map(breakAge)).toEqual(['lt_1h', 'lt_1h', '1h_24h', '1h_24h', 'gt_24h', 'gt_24h']);
    const now = 100 * 86_400_000;
    const open = [
      { venue: 'binance', firstSeenMs: now - 60_000 },
      { venue: 'binance', firstSeenMs: now - 120_000 },
      { venue: 'binance', firstSeenMs: now - 2 * 86_400_000 },
      { venue: 'okx', firstSeenMs: now - 7_200_000 },
    ];
    expect(countOpenBreaks(open, now)).toEqual([
      { venue: 'binance', age: 'lt_1h', count: 2 },
      { venue: 'binance', age: 'gt_24h', count: 1 },
      { venue: 'okx', age: '1h_24h', count: 1 },
    ]);
  });
});
