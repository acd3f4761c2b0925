/**
 * The alert engine, given/when/then: each rule kind fires on its condition, and the lifecycle
 * (pending for `for`, firing once, repeats every `repeat`, resolved once, held when unknown).
 */
import { describe, expect, it } from 'vitest';
import { EMPTY_STATE, firingCounts, readEngineState, step, type AlertNotification, type EngineState } from './engine.js';
import type { AlertFacts } from './facts.js';
import type { AlertRule } from './rules.js';
import { quietFacts, rulesOf } from './testing.js';

const MIN = 60_000;
const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 2, 10, 12, 0, 0);

/** Runs facts through the engine one after another; returns every notification as `kind rule key`. */
function run(rules: AlertRule[], facts: AlertFacts[], state: EngineState = EMPTY_STATE): { state: EngineState; sent: string[]; all: AlertNotification[] } {
  const sent: string[] = [];
  const all: AlertNotification[] = [];
  for (const f of facts) {
    const r = step(rules, state, f);
    state = r.state;
    for (const n of r.notifications) {
      sent.push(`${n.kind} ${n.rule} ${n.key}`.trimEnd());
      all.push(n);
    }
  }
  return { state, sent, all };
}

const brk = (id: string, firstSeenMs: number, value: string | null = '100', status: 'open' | 'acknowledged' | 'resolved' | 'auto_resolved' = 'open') =>
  ({ id, venue: 'binance', account: 'main', asset: 'BTC', status, firstSeenMs, diff: '0.01', value });

describe('break_age', () => {
  const rules = rulesOf({ name: 'old', kind: 'break_age', severity: 'warning', older_than: '24h' });
  it('given a break younger than the limit, when evaluated, then nothing fires', () => {
    expect(run(rules, [quietFacts(T0, { breaks: [brk('b1', T0 - 23 * HOUR)] })]).sent).toEqual([]);
  });
  it('given a break older than the limit, then it fires once per break and resolves when the break resolves', () => {
    const r = run(rules, [
      quietFacts(T0, { breaks: [brk('b1', T0 - 25 * HOUR), brk('b2', T0 - HOUR)] }),
      quietFacts(T0 + MIN, { breaks: [brk('b1', T0 - 25 * HOUR), brk('b2', T0 - HOUR)] }),
      quietFacts(T0 + 2 * MIN, { breaks: [brk('b1', T0 - 25 * HOUR, '100', 'resolved')] }),
    ]);
    expect(r.sent).toEqual(['firing old b1', 'resolved old b1']);
    expect(r.all[0]!.labels).toEqual({ break: 'b1', venue: 'binance', account: 'main', asset: 'BTC' });
    expect(r.all[0]!.summary).toBe('break b1 (binance/main BTC, diff 0.01) open for 1d1h, over 1d');
  });
  it('given statuses [open], then an acknowledged break does not fire', () => {
    const only = rulesOf({ name: 'old', kind: 'break_age', severity: 'warning', older_than: '24h', statuses: ['open'] });
    expect(run(only, [quietFacts(T0, { breaks: [brk('b1', T0 - 25 * HOUR, '1', 'acknowledged')] })]).sent).toEqual([]);
  });
});

describe('break_value', () => {
  const rules = rulesOf({ name: 'big', kind: 'break_value', severity: 'critical', above: '10000' });
  it('given values around the limit, then only the one above it fires (exactly, as decimals)', () => {
    const r = run(rules, [quietFacts(T0, { breaks: [brk('b1', T0, '10000'), brk('b2', T0, '10000.000000000000000001'), brk('b3', T0, '-20000')] })]);
    expect(r.sent).toEqual(['firing big b2', 'firing big b3']);
    expect(r.all[1]!.value).toBe('20000');
  });
  it('given a firing break that becomes unpriced, then it stays firing (held), and resolves when priced below', () => {
    const r = run(rules, [quietFacts(T0, { breaks: [brk('b1', T0, '20000')] }), quietFacts(T0 + MIN, { breaks: [brk('b1', T0, null)] }), quietFacts(T0 + 2 * MIN, { breaks: [brk('b1', T0, '5')] })]);
    expect(r.sent).toEqual(['firing big b1', 'resolved big b1']);
    expect(r.all[1]!.atMs).toBe(T0 + 2 * MIN);
  });
});

describe('stale_source', () => {
  it('given a venue silent for longer than the limit, then it fires; a listed venue never heard from fires too', () => {
    const rules = rulesOf({ name: 'silent', kind: 'stale_source', severity: 'warning', silent_for: '15m', venues: ['binance', 'okx', 'kraken'] });
    const r = run(rules, [quietFacts(T0, { sources: [{ venue: 'binance', lastReportMs: T0 - 16 * MIN }, { venue: 'okx', lastReportMs: T0 - 14 * MIN }, { venue: 'deribit', lastReportMs: 0 }] })]);
    expect(r.sent).toEqual(['firing silent binance', 'firing silent kraken']);
    expect(r.all[1]!.summary).toBe('no balance report from kraken yet');
  });
  it('given no list, then every venue that reported is watched', () => {
    const rules = rulesOf({ name: 'silent', kind: 'stale_source', severity: 'warning', silent_for: '15m' });
    expect(run(rules, [quietFacts(T0, { sources: [{ venue: 'deribit', lastReportMs: T0 - HOUR }] })]).sent).toEqual(['firing silent deribit']);
  });
});

describe('stale_mark', () => {
  it('given open positions, then an old or missing mark fires and a flat asset does not', () => {
    const rules = rulesOf({ name: 'marks', kind: 'stale_mark', severity: 'warning', older_than: '10m' });
    const marks = [
      { asset: 'BTC', openQty: '1', lastMarkMs: T0 - 11 * MIN },
      { asset: 'ETH', openQty: '-2', lastMarkMs: T0 - 9 * MIN },
      { asset: 'SOL', openQty: '5', lastMarkMs: null },
      { asset: 'XRP', openQty: '0', lastMarkMs: null },
    ];
    expect(run(rules, [quietFacts(T0, { marks })]).sent).toEqual(['firing marks BTC', 'firing marks SOL']);
  });
});

describe('consumer_lag', () => {
  const rules = rulesOf({ name: 'lag', kind: 'consumer_lag', severity: 'warning', above: 1000, for: '1m' });
  it('given lag over the limit for the `for` duration, then it fires only once the duration has passed', () => {
    const r = run(rules, [quietFacts(T0, { consumerLag: 5000 }), quietFacts(T0 + 30_000, { consumerLag: 5000 }), quietFacts(T0 + MIN, { consumerLag: 4000 })]);
    expect(r.sent).toEqual(['firing lag']);
    expect(r.all[0]).toMatchObject({ atMs: T0 + MIN, activeSinceMs: T0, firedAtMs: T0 + MIN, value: '4000' });
  });
  it('given lag that clears while pending, then nothing is ever sent', () => {
    const r = run(rules, [quietFacts(T0, { consumerLag: 5000 }), quietFacts(T0 + 30_000, { consumerLag: 10 }), quietFacts(T0 + 2 * MIN, { consumerLag: 10 })]);
    expect(r.sent).toEqual([]);
    expect(r.state.instances).toEqual([]);
  });
  it('given an unknown lag, then a firing alert is held, not resolved', () => {
    const r = run(rulesOf({ name: 'lag', kind: 'consumer_lag', severity: 'warning', above: 1000 }), [quietFacts(T0, { consumerLag: 5000 }), quietFacts(T0 + MIN, { consumerLag: undefined })]);
    expect(r.sent).toEqual(['firing lag']);
    expect(r.state.instances.map((i) => i.status)).toEqual(['firing']);
  });
});

describe('rejected_rate', () => {
  const rules = rulesOf({ name: 'rej', kind: 'rejected_rate', severity: 'warning', above: 10, window: '5m' });
  it('given a counter rising by more than N within the window, then it fires, and resolves once the window has passed', () => {
    const r = run(rules, [
      quietFacts(T0, { rejectedTotal: 100 }),
      quietFacts(T0 + MIN, { rejectedTotal: 105 }),
      quietFacts(T0 + 2 * MIN, { rejectedTotal: 111 }),
      quietFacts(T0 + 5 * MIN, { rejectedTotal: 111 }), // since T0: 11
      quietFacts(T0 + 6 * MIN, { rejectedTotal: 111 }), // since T0 + 1m: 6
    ]);
    expect(r.sent).toEqual(['firing rej', 'resolved rej']);
    expect(r.all[0]!.atMs).toBe(T0 + 2 * MIN);
    expect(r.all[1]!.atMs).toBe(T0 + 6 * MIN);
  });
  it('given a counter that restarts from zero, then the drop is not a negative rate and the new counts count', () => {
    const r = run(rules, [quietFacts(T0, { rejectedTotal: 500 }), quietFacts(T0 + MIN, { rejectedTotal: 0 }), quietFacts(T0 + 2 * MIN, { rejectedTotal: 11 })]);
    expect(r.sent).toEqual(['firing rej']);
  });
});

describe('exposure_limit', () => {
  const exposure = {
    byAsset: [{ asset: 'BTC', net: '-6000000', gross: '6000000' }, { asset: 'ETH', net: '100', gross: '900' }],
    byVenue: [{ venue: 'binance', net: '10', gross: '10', held: '2000000.01' }, { venue: 'okx', net: '1', gross: '1', held: '2000000' }],
    byBook: [{ book: 'desk', net: '1', gross: '1' }],
    firm: { net: '-5999900', gross: '6000900' },
  };
  it('given a key, then only that line is compared, by absolute value', () => {
    const rules = rulesOf({ name: 'btc', kind: 'exposure_limit', severity: 'critical', scope: 'asset', key: 'BTC', measure: 'net', limit: '5000000' });
    const r = run(rules, [quietFacts(T0, { exposure })]);
    expect(r.sent).toEqual(['firing btc BTC']);
    expect(r.all[0]).toMatchObject({ labels: { scope: 'asset', asset: 'BTC' }, value: '-6000000', threshold: '5000000' });
  });
  it('given * and held, then every venue holding more than the limit fires', () => {
    const rules = rulesOf({ name: 'held', kind: 'exposure_limit', severity: 'warning', scope: 'venue', measure: 'held', limit: '2000000' });
    expect(run(rules, [quietFacts(T0, { exposure })]).sent).toEqual(['firing held binance']);
  });
  it('given the firm scope, then gross is compared', () => {
    const rules = rulesOf({ name: 'firm', kind: 'exposure_limit', severity: 'warning', scope: 'firm', limit: '6000000' });
    expect(run(rules, [quietFacts(T0, { exposure })]).sent).toEqual(['firing firm firm']);
  });
});

describe('drawdown', () => {
  const rules = rulesOf({ name: 'dd', kind: 'drawdown', severity: 'critical', limit: '1000', day_start_hour: 8 });
  const pnl = (total: string | null) => [{ book: 'desk', total }];
  it('given PnL falling from its high by more than the limit, then it fires; a new day resets the high', () => {
    const r = run(rules, [
      quietFacts(T0, { pnl: pnl('500') }),
      quietFacts(T0 + HOUR, { pnl: pnl('2500.5') }),
      quietFacts(T0 + 2 * HOUR, { pnl: pnl('1500.5') }), // 1000 below: not over
      quietFacts(T0 + 3 * HOUR, { pnl: pnl('1500.49') }), // over
      quietFacts(T0 + 4 * HOUR, { pnl: pnl(null) }), // unpriced: held
      quietFacts(T0 + 20 * HOUR + MIN, { pnl: pnl('1400') }), // 08:01 the next day: the high is 1400
    ]);
    expect(r.sent).toEqual(['firing dd desk', 'resolved dd desk']);
    expect(r.all[0]!.value).toBe('1000.01');
    expect(r.state.highs).toEqual([{ rule: 'dd', book: 'desk', day: r.state.highs[0]!.day, high: '1400' }]);
  });
  it('given the cut-off hour, then 07:59 UTC still belongs to the previous day', () => {
    const before = Date.UTC(2026, 2, 11, 7, 59);
    const r = run(rules, [quietFacts(T0, { pnl: pnl('3000') }), quietFacts(before, { pnl: pnl('1000') })]);
    expect(r.sent).toEqual(['firing dd desk']);
  });
});

describe('check_failed', () => {
  it('given failing checks, then each fires with its detail', () => {
    const rules = rulesOf({ name: 'checks', kind: 'check_failed', severity: 'critical' });
    const r = run(rules, [quietFacts(T0, { checks: [{ name: 'balances', ok: false, detail: 'desk BTC 1 != 2' }, { name: 'lots', ok: true, detail: '' }] })]);
    expect(r.sent).toEqual(['firing checks balances']);
    expect(r.all[0]!.summary).toBe('check balances failed: desk BTC 1 != 2');
  });
});

describe('lifecycle', () => {
  const rules = rulesOf({ name: 'lag', kind: 'consumer_lag', severity: 'warning', above: 0, repeat: '10m' });
  it('given a condition that holds, then it repeats every `repeat` (measured from the last send), and resolves once', () => {
    const times = [0, 5, 9, 10, 15, 19, 20, 21, 35].map((m) => T0 + m * MIN);
    const r = run(rules, [...times.map((t) => quietFacts(t, { consumerLag: 5 })), quietFacts(T0 + 36 * MIN, { consumerLag: 0 }), quietFacts(T0 + 37 * MIN, { consumerLag: 0 })]);
    expect(r.all.map((n) => [n.kind, (n.atMs - T0) / MIN])).toEqual([['firing', 0], ['repeat', 10], ['repeat', 20], ['repeat', 35], ['resolved', 36]]);
    expect(r.all.every((n) => n.firedAtMs === T0)).toBe(true);
  });
  it('given a rule removed from the config, then its firing instance resolves', () => {
    const first = run(rules, [quietFacts(T0, { consumerLag: 5 })]);
    const r = run([], [quietFacts(T0 + MIN, { consumerLag: 5 })], first.state);
    expect(r.sent).toEqual(['resolved lag']);
    expect(r.state.instances).toEqual([]);
  });
  it('given a state written as JSON and read back, then the engine goes on as if never stopped', () => {
    const dd = rulesOf({ name: 'dd', kind: 'drawdown', severity: 'critical', limit: '1' }, { name: 'rej', kind: 'rejected_rate', severity: 'info', above: 1, window: '1h' }, ...[{ name: 'lag', kind: 'consumer_lag', severity: 'warning', above: 0, repeat: '10m' }]);
    const first = run(dd, [quietFacts(T0, { consumerLag: 5, pnl: [{ book: 'a', total: '10' }], rejectedTotal: 3 })]);
    const stored = JSON.parse(JSON.stringify({ instances: first.state.instances, memory: { rejected: first.state.rejected, highs: first.state.highs } })) as { instances: unknown[]; memory: unknown };
    const back = readEngineState(stored.instances, stored.memory);
    expect(back).toEqual(first.state);
    const later = [quietFacts(T0 + 10 * MIN, { consumerLag: 5, pnl: [{ book: 'a', total: '8' }], rejectedTotal: 6 })];
    expect(run(dd, later, back).all).toEqual(run(dd, later, first.state).all);
    expect(run(dd, later, back).sent).toEqual(['firing dd a', 'firing rej', 'repeat lag']);
    expect(firingCounts(run(dd, later, back).state)).toEqual([{ rule: 'dd', severity: 'critical', count: 1 }, { rule: 'lag', severity: 'warning', count: 1 }, { rule: 'rej', severity: 'info', count: 1 }]);
  });
  it('given a malformed stored instance, then reading the state throws', () => {
    expect(() => readEngineState([{ rule: 'x' }], null)).toThrow(/malformed/);
  });
});
