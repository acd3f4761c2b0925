/**
 * Alerting around the engine: a failed save leaves the state as it was (the next evaluation
 * decides the same notification again); sinks get what their rule names and their minimum
 * severity allow; the in-flight bound drops and logs; the timer evaluates with the clock.
 */
import { describe, expect, it } from 'vitest';
import { MemoryAlertStore, recordingLogger } from '../../test/support/alerts.js';
import type { AlertNotification } from '../domain/alerts/engine.js';
import type { Severity } from '../domain/alerts/rules.js';
import { quietFacts, rulesOf } from '../domain/alerts/testing.js';
import { Alerting, type AlertSink } from './alerting.js';

const T0 = Date.UTC(2026, 3, 1);

function recordingSink(name: string, minSeverity: Severity = 'info', hold?: Promise<void>): AlertSink & { got: string[] } {
  const got: string[] = [];
  return {
    name,
    minSeverity,
    got,
    async send(n: AlertNotification) {
      got.push(`${n.kind} ${n.rule}`);
      if (hold !== undefined) await hold;
    },
  };
}

const rules = rulesOf(
  { name: 'checks', kind: 'check_failed', severity: 'critical', sinks: ['pager'] },
  { name: 'lag', kind: 'consumer_lag', severity: 'info', above: 0 },
);
const config = { evaluateEveryMs: 1000, sinks: [], rules };
const bad = (nowMs: number) => quietFacts(nowMs, { consumerLag: 5, checks: [{ name: 'c', ok: false, detail: 'd' }] });

describe('Alerting', () => {
  it('given a save that fails, then nothing is sent and the next evaluation decides it again', async () => {
    const store = new MemoryAlertStore();
    const sink = recordingSink('pager');
    const a = new Alerting({ config, sinks: [sink, recordingSink('log')], store, log: recordingLogger(), facts: bad });
    store.failNext = new Error('store down');
    await expect(a.evaluate(T0)).rejects.toThrow('store down');
    expect(sink.got).toEqual([]);
    expect(a.active()).toEqual([]);
    expect((await a.evaluate(T0 + 1000)).map((n) => n.kind)).toEqual(['firing', 'firing']);
    await a.drain();
    expect(a.stats).toMatchObject({ evaluations: 2, failedEvaluations: 1 });
  });

  it('given rule sinks and minimum severities, then each sink gets only its share', async () => {
    const pager = recordingSink('pager');
    const chat = recordingSink('chat', 'warning');
    const log = recordingSink('log');
    const a = new Alerting({ config, sinks: [pager, chat, log], store: new MemoryAlertStore(), log: recordingLogger(), facts: bad });
    await a.evaluate(T0);
    await a.drain();
    expect(pager.got).toEqual(['firing checks', 'firing lag']);
    expect(chat.got).toEqual([]); // checks names only pager; lag is info
    expect(log.got).toEqual(['firing lag']);
  });

  it('given more sends than the bound, then the rest are dropped and logged', async () => {
    let release!: () => void;
    const hold = new Promise<void>((r) => (release = r));
    const log = recordingLogger();
    const a = new Alerting({ config, sinks: [recordingSink('pager', 'info', hold)], store: new MemoryAlertStore(), log, facts: bad, maxInFlight: 1 });
    await a.evaluate(T0);
    expect(a.stats.droppedSends).toBe(1);
    expect(log.lines.filter((l) => l.level === 'warn').map((l) => l.msg)).toEqual(['alert not sent: too many sends in flight']);
    release();
    await a.stop();
    expect(a.stats.sent).toBe(1);
  });

  it('given start, then it restores and evaluates on the timer with its clock until stop', async () => {
    const store = new MemoryAlertStore();
    let now = T0;
    let evaluated!: () => void;
    const once = new Promise<void>((r) => (evaluated = r));
    const a = new Alerting({ config, sinks: [recordingSink('pager')], store, log: recordingLogger(), clock: () => (now += 1000), facts: (nowMs) => (evaluated(), bad(nowMs)) });
    await a.start(10);
    await once;
    await a.stop();
    expect(a.stats.evaluations).toBeGreaterThanOrEqual(1);
    expect(a.active().map((x) => x.rule)).toEqual(['checks', 'lag']);
    expect(a.firingCounts()).toEqual([{ rule: 'checks', severity: 'critical', count: 1 }, { rule: 'lag', severity: 'info', count: 1 }]);
  });

  it('given a rule naming a sink that was not built, then construction fails', () => {
    expect(() => new Alerting({ config, sinks: [], store: new MemoryAlertStore(), log: recordingLogger(), facts: bad })).toThrow(/names sink pager/);
  });
});
