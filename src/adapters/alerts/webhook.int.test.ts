/**
 * The webhook sink end to end against a real HTTP receiver (node:http on 127.0.0.1): a firing
 * arrives as a Slack-compatible JSON POST, repeats at the rule's interval, and a resolve arrives
 * when the condition clears; time is driven with `evaluate(nowMs)`, never slept. Then the sink's
 * bounds: retries with doubling backoff on 5xx, none on a 4xx, a timeout per attempt, and an
 * evaluation that never waits for a slow receiver.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MemoryAlertStore, recordingLogger } from '../../../test/support/alerts.js';
import { Alerting } from '../../app/alerting.js';
import type { AlertNotification } from '../../domain/alerts/engine.js';
import type { AlertFacts } from '../../domain/alerts/facts.js';
import { validateAlertConfig, type AlertConfig } from '../../domain/alerts/rules.js';
import { quietFacts } from '../../domain/alerts/testing.js';
import { WebhookDeliveryError, webhookSink } from './webhook.js';

interface Received {
  readonly headers: IncomingMessage['headers'];
  readonly body: { text: string; attachments: { color: string; fields: { title: string; value: string }[] }[]; utl: Record<string, unknown> };
}

const MIN = 60_000;
const T0 = Date.UTC(2026, 3, 1, 9, 0, 0);

describe('webhook sink (real HTTP receiver)', () => {
  let server: Server;
  let url: string;
  const received: Received[] = [];
  /** How the receiver answers the next requests (first element first); 200 when empty. */
  let script: (number | 'hang')[] = [];
  const hanging: ServerResponse[] = [];
  let onHang: (() => void) | undefined;

  beforeAll(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const answer = script.shift() ?? 200;
        if (answer === 'hang') {
          hanging.push(res);
          onHang?.();
          return;
        }
        if (answer === 200) received.push({ headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Received['body'] });
        res.writeHead(answer, { 'content-type': 'text/plain' }).end(answer === 200 ? 'ok' : 'no');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}/hook`;
  });

  afterEach(() => {
    received.length = 0;
    script = [];
    for (const r of hanging.splice(0)) r.destroy();
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  function config(): AlertConfig {
    const r = validateAlertConfig({
      sinks: [{ name: 'hook', type: 'webhook', url, headers: { Authorization: 'Bearer s3cret' }, timeout: '2s', retries: 2 }],
      rules: [{ name: 'lag', kind: 'consumer_lag', severity: 'critical', above: 100, repeat: '10m' }],
    });
    if (!r.ok) throw new Error(r.problems.join('\n'));
    return r.config;
  }

  it('given lag over the limit, then a firing arrives, repeats every 10 minutes, and a resolve arrives when it clears', async () => {
    const cfg = config();
    const sink = cfg.sinks[0]!;
    if (sink.type !== 'webhook') throw new Error('webhook expected');
    let lag = 500;
    const log = recordingLogger();
    const alerting = new Alerting({
      config: cfg,
      sinks: [webhookSink({ ...sink, sleep: () => Promise.resolve() })],
      store: new MemoryAlertStore(),
      log,
      facts: (nowMs): AlertFacts => quietFacts(nowMs, { consumerLag: lag }),
    });
    const at = async (minutes: number): Promise<string[]> => {
      const sent = await alerting.evaluate(T0 + minutes * MIN);
      await alerting.drain();
      return sent.map((n) => n.kind);
    };
    expect(await at(0)).toEqual(['firing']);
    expect(received).toHaveLength(1);
    const first = received[0]!;
    expect(first.headers['content-type']).toBe('application/json');
    expect(first.headers.authorization).toBe('Bearer s3cret');
    expect(first.body.text).toBe('[FIRING] critical lag: consumer lag 500 messages, over 100');
    expect(first.body.attachments[0]!.color).toBe('#d40e0d');
    expect(first.body.utl).toMatchObject({ kind: 'firing', rule: 'lag', ruleKind: 'consumer_lag', severity: 'critical', value: '500', threshold: '100', at: '2026-04-01T09:00:00Z', firedAt: '2026-04-01T09:00:00Z', resolvedAt: null });

    expect(await at(5)).toEqual([]);
    expect(await at(9)).toEqual([]);
    expect(await at(10)).toEqual(['repeat']);
    expect(await at(15)).toEqual([]);
    lag = 700;
    expect(await at(20)).toEqual(['repeat']);
    expect(received.map((r) => [r.body.utl.kind, r.body.utl.at, r.body.utl.value])).toEqual([
      ['firing', '2026-04-01T09:00:00Z', '500'],
      ['repeat', '2026-04-01T09:10:00Z', '500'],
      ['repeat', '2026-04-01T09:20:00Z', '700'],
    ]);

    lag = 3;
    expect(await at(21)).toEqual(['resolved']);
    expect(await at(31)).toEqual([]);
    const last = received[received.length - 1]!;
    expect(last.body.text).toMatch(/^\[RESOLVED\] critical lag:/);
    expect(last.body.utl).toMatchObject({ kind: 'resolved', resolvedAt: '2026-04-01T09:21:00Z', firedAt: '2026-04-01T09:00:00Z' });
    expect(received).toHaveLength(4);
    expect(alerting.stats).toMatchObject({ sent: 4, failedSends: 0 });
    expect((await alerting.history({ limit: 10 })).items.map((i) => i.alert.kind)).toEqual(['resolved', 'repeat', 'repeat', 'firing']);
    await alerting.stop();
  });

  const notification: AlertNotification = {
    kind: 'firing', rule: 'r', ruleKind: 'check_failed', key: 'k', labels: { check: 'k' }, severity: 'warning', summary: 's', value: null, threshold: null,
    atMs: T0, activeSinceMs: T0, firedAtMs: T0, resolvedAtMs: null, sinks: undefined,
  };

  it('given a receiver failing twice with 503, then the third attempt delivers, after backoffs that double', async () => {
    const waits: number[] = [];
    const sink = webhookSink({ name: 'h', minSeverity: 'info', url, timeoutMs: 2000, retries: 3, backoffMs: 100, sleep: (ms) => (waits.push(ms), Promise.resolve()) });
    script = [503, 503];
    await sink.send(notification);
    expect(received).toHaveLength(1);
    expect(waits).toEqual([100, 200]);
  });

  it('given a receiver that refuses with 400, then it is not retried', async () => {
    const waits: number[] = [];
    const sink = webhookSink({ name: 'h', minSeverity: 'info', url, timeoutMs: 2000, retries: 3, sleep: (ms) => (waits.push(ms), Promise.resolve()) });
    script = [400];
    const err = await sink.send(notification).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WebhookDeliveryError);
    expect(err).toMatchObject({ attempts: 1, status: 400 });
    expect(waits).toEqual([]);
  });

  it('given a receiver that never answers, then each attempt times out and the last error is the cause', async () => {
    const sink = webhookSink({ name: 'h', minSeverity: 'info', url, timeoutMs: 200, retries: 1, sleep: () => Promise.resolve() });
    script = ['hang', 'hang'];
    const err = await sink.send(notification).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'WebhookDeliveryError', attempts: 2, status: undefined });
    expect((err as Error).cause).toBeDefined();
  });

  it('given a receiver that hangs, then the evaluation returns at once and the failure is logged, not thrown', async () => {
    const cfg = config();
    const log = recordingLogger();
    const alerting = new Alerting({
      config: cfg,
      sinks: [webhookSink({ name: 'hook', minSeverity: 'info', url, timeoutMs: 30_000, retries: 0 })],
      store: new MemoryAlertStore(),
      log,
      facts: (nowMs) => quietFacts(nowMs, { consumerLag: 1000 }),
    });
    script = ['hang'];
    const arrived = new Promise<void>((resolve) => (onHang = resolve));
    expect((await alerting.evaluate(T0)).map((n) => n.kind)).toEqual(['firing']);
    await arrived; // the request is at the receiver, unanswered, and the evaluation is done
    expect(alerting.stats).toMatchObject({ evaluations: 1, sent: 0, failedSends: 0 });
    hanging.splice(0).forEach((r) => r.destroy());
    await alerting.stop();
    expect(alerting.stats.failedSends).toBe(1);
    expect(log.lines.filter((l) => l.level === 'error').map((l) => l.msg)).toEqual(['alert notification not delivered']);
  });
});
