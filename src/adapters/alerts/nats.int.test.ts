/**
 * The NATS alert sink against the real NATS server (127.0.0.1:4222): an evaluation's firing and
 * resolve arrive on the configured subject as the structured alert (JSON), through the
 * service's core-NATS update sink. The subject is unique to the run.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryAlertStore, recordingLogger } from '../../../test/support/alerts.js';
import { Alerting } from '../../app/alerting.js';
import { quietFacts, rulesOf } from '../../domain/alerts/testing.js';
import { connectNats, natsUpdateSink, type NatsConnection } from '../nats/jetstream.js';
import { buildSinks } from './sinks.js';

const NATS_URL = process.env.UTL_NATS_URL ?? '127.0.0.1:4222';
const RUN = randomBytes(4).toString('hex');
const dec = new TextDecoder();
const T0 = Date.UTC(2026, 3, 1, 9, 0, 0);

describe('NATS alert sink (real NATS)', () => {
  let nc: NatsConnection;

  beforeAll(async () => {
    nc = await connectNats(NATS_URL, 'utl-test-alerts');
  });

  afterAll(async () => {
    await nc.close();
  });

  it('given a check that fails then passes, then a firing and a resolve arrive on the subject', async () => {
    const subject = `utl_test_${RUN}.alerts`;
    const sub = nc.subscribe(subject, { max: 2 });
    const log = recordingLogger();
    const updates = natsUpdateSink(nc);
    let ok = false;
    const alerting = new Alerting({
      config: { evaluateEveryMs: 5000, rules: rulesOf({ name: 'consistency', kind: 'check_failed', severity: 'critical' }), sinks: [] },
      sinks: buildSinks([{ type: 'nats', name: 'bus', minSeverity: 'info', subject }], { log, publisher: updates }),
      store: new MemoryAlertStore(),
      log,
      facts: (nowMs) => quietFacts(nowMs, { checks: [{ name: 'balances', ok, detail: 'desk BTC: lots 1, position 2' }] }),
    });
    await alerting.evaluate(T0);
    ok = true;
    await alerting.evaluate(T0 + 5000);
    await alerting.stop();
    await updates.close();
    const got: Record<string, unknown>[] = [];
    for await (const m of sub) got.push(JSON.parse(dec.decode(m.data)) as Record<string, unknown>);
    expect(got.map((g) => [g.kind, g.rule, g.key, g.at])).toEqual([
      ['firing', 'consistency', 'balances', '2026-04-01T09:00:00Z'],
      ['resolved', 'consistency', 'balances', '2026-04-01T09:00:05Z'],
    ]);
    expect(got[0]).toMatchObject({ ruleKind: 'check_failed', severity: 'critical', labels: { check: 'balances' }, summary: 'check balances failed: desk BTC: lots 1, position 2' });
  });

  it('given a nats sink in the config and no publisher, then building the sinks fails at start', () => {
    expect(() => buildSinks([{ type: 'nats', name: 'bus', minSeverity: 'info', subject: 'utl.alerts' }], { log: recordingLogger() })).toThrow(/no publisher/);
  });
});
