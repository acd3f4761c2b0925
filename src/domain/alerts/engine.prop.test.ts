/**
 * Properties of the alert engine over random sequences of facts (fast-check): per instance the
 * notifications alternate firing (repeat*) resolved, never a resolve without a firing before it,
 * never two firings without a resolve between; a firing comes `for` after the condition started;
 * a repeat comes at least `repeat` after the previous notification; the engine is deterministic
 * and a JSON round trip of its state (a restart) changes nothing; the firing instances in the
 * state are exactly those with an open episode.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EMPTY_STATE, readEngineState, step, type AlertNotification, type EngineState } from './engine.js';
import type { AlertFacts } from './facts.js';
import type { AlertRule } from './rules.js';
import { quietFacts, rulesOf } from './testing.js';

const MIN = 60_000;
const T0 = Date.UTC(2026, 0, 1);

const durations = fc.constantFrom('0s', '1m', '5m', '30m');
const rulesArb: fc.Arbitrary<AlertRule[]> = fc.tuple(durations, durations, durations, durations, durations, durations).map(([f1, r1, f2, r2, f3, r3]) =>
  rulesOf(
    { name: 'age', kind: 'break_age', severity: 'warning', older_than: '10m', for: f1, repeat: r1 },
    { name: 'value', kind: 'break_value', severity: 'critical', above: '50', for: f2, repeat: r2 },
    { name: 'lag', kind: 'consumer_lag', severity: 'warning', above: 10, for: f3, repeat: r3 },
    { name: 'rej', kind: 'rejected_rate', severity: 'info', above: 3, window: '10m', repeat: r1 },
    { name: 'dd', kind: 'drawdown', severity: 'critical', limit: '5', repeat: r2, for: f1 },
    { name: 'exp', kind: 'exposure_limit', severity: 'warning', scope: 'asset', measure: 'net', limit: '7', repeat: r3 },
    { name: 'marks', kind: 'stale_mark', severity: 'info', older_than: '15m', for: f2 },
    { name: 'src', kind: 'stale_source', severity: 'info', silent_for: '15m', venues: ['v1', 'v2'] },
    { name: 'chk', kind: 'check_failed', severity: 'critical', repeat: r1 },
  ),
);

const money = fc.integer({ min: -20, max: 20 }).map(String);

/** One evaluation's facts, relative to the previous time (`dtMs`). */
const stepArb = fc.record({
  dtMs: fc.integer({ min: 0, max: 12 * MIN }),
  breaks: fc.uniqueArray(
    fc.record({ id: fc.constantFrom('b1', 'b2', 'b3'), ageMin: fc.integer({ min: 0, max: 30 }), value: fc.option(fc.integer({ min: 0, max: 100 }).map(String)), status: fc.constantFrom('open' as const, 'acknowledged' as const, 'resolved' as const) }),
    { selector: (b) => b.id, maxLength: 3 },
  ),
  lag: fc.option(fc.integer({ min: 0, max: 20 }), { nil: undefined }),
  rejectedDelta: fc.integer({ min: -1, max: 3 }),
  pnl: fc.option(money),
  net: money,
  markAgeMin: fc.option(fc.integer({ min: 0, max: 30 })),
  sourceAgeMin: fc.option(fc.integer({ min: 0, max: 30 })),
  checkOk: fc.boolean(),
  restart: fc.boolean(),
});

type Step = typeof stepArb extends fc.Arbitrary<infer T> ? T : never;

function factsOf(steps: fc.Arbitrary<Step[]>): fc.Arbitrary<{ facts: AlertFacts[]; restarts: boolean[] }> {
  return steps.map((list) => {
    let now = T0;
    let rejected = 0;
    const facts: AlertFacts[] = [];
    for (const s of list) {
      now += s.dtMs;
      rejected = s.rejectedDelta < 0 ? 0 : rejected + s.rejectedDelta; // -1: the counter restarts
      facts.push(
        quietFacts(now, {
          breaks: s.breaks.map((b) => ({ id: b.id, venue: 'v1', account: 'a', asset: 'BTC', status: b.status, firstSeenMs: now - b.ageMin * MIN, diff: '1', value: b.value })),
          consumerLag: s.lag,
          rejectedTotal: rejected,
          pnl: [{ book: 'desk', total: s.pnl }],
          exposure: { byAsset: [{ asset: 'BTC', net: s.net, gross: s.net.replace('-', '') }], byVenue: [], byBook: [], firm: { net: s.net, gross: s.net.replace('-', '') } },
          marks: [{ asset: 'BTC', openQty: '1', lastMarkMs: s.markAgeMin === null ? null : now - s.markAgeMin * MIN }],
          sources: s.sourceAgeMin === null ? [] : [{ venue: 'v1', lastReportMs: now - s.sourceAgeMin * MIN }],
          checks: [{ name: 'balances', ok: s.checkOk, detail: 'x' }],
        }),
      );
    }
    return { facts, restarts: list.map((s) => s.restart) };
  });
}

const scenario = fc.record({ rules: rulesArb, run: factsOf(fc.array(stepArb, { minLength: 1, maxLength: 40 })) });

/** Every notification of the run; with `restarts`, the state goes through JSON where asked. */
function drive(rules: AlertRule[], facts: AlertFacts[], restarts?: boolean[]): { sent: AlertNotification[]; state: EngineState } {
  let state = EMPTY_STATE;
  const sent: AlertNotification[] = [];
  facts.forEach((f, n) => {
    if (restarts?.[n] === true) {
      const json = JSON.parse(JSON.stringify({ instances: state.instances, memory: { rejected: state.rejected, highs: state.highs } })) as { instances: unknown[]; memory: unknown };
      state = readEngineState(json.instances, json.memory);
    }
    const r = step(rules, state, f);
    state = r.state;
    sent.push(...r.notifications);
  });
  return { sent, state };
}

describe('alert engine properties', () => {
  it('notifications of one instance alternate firing (repeat*) resolved, with for and repeat respected', () => {
    fc.assert(
      fc.property(scenario, ({ rules, run }) => {
        const { sent, state } = drive(rules, run.facts);
        const byRule = new Map(rules.map((r) => [r.name, r]));
        const open = new Map<string, AlertNotification>(); // instance → last notification of its open episode
        for (const n of sent) {
          const id = `${n.rule}/${n.key}`;
          const rule = byRule.get(n.rule)!;
          const last = open.get(id);
          if (n.kind === 'firing') {
            expect(last, `${id}: a second firing without a resolve`).toBeUndefined();
            expect(n.atMs - n.activeSinceMs).toBeGreaterThanOrEqual(rule.forMs);
            open.set(id, n);
          } else {
            expect(last, `${id}: ${n.kind} without a firing`).toBeDefined();
            if (n.kind === 'repeat') {
              expect(rule.repeatMs).toBeGreaterThan(0);
              expect(n.atMs - last!.atMs).toBeGreaterThanOrEqual(rule.repeatMs);
              open.set(id, n);
            } else open.delete(id);
          }
        }
        const firing = state.instances.filter((i) => i.status === 'firing').map((i) => `${i.rule}/${i.key}`);
        expect(firing.sort()).toEqual([...open.keys()].sort());
      }),
      { numRuns: 300 },
    );
  });

  it('is deterministic, and a restart through JSON at any point changes nothing', () => {
    fc.assert(
      fc.property(scenario, ({ rules, run }) => {
        const plain = drive(rules, run.facts);
        expect(drive(rules, run.facts)).toEqual(plain);
        expect(drive(rules, run.facts, run.restarts)).toEqual(plain);
      }),
      { numRuns: 200 },
    );
  });
});
