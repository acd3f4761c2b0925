/**
 * Alerting wired into the running service (real PostgreSQL, a real HTTP receiver on 127.0.0.1):
 * a venue report that disagrees opens a break, the break_value rule fires to the webhook, shows
 * in GET /alerts and in /metrics; resolving the break sends the resolve.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase } from '../../test/support/pg.js';
import { serviceConfig, startOptions, waitUntil } from '../../test/support/service.js';
import { parseAlertConfig } from './alert-config.js';
import { DEFAULT_RECON } from './recon-config.js';
import { startService, type Running } from './start.js';

describe('alerts from the running service', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let running: Running;
  let receiver: Server;
  const received: { text: string; utl: { rule?: string; kind?: string } }[] = [];

  beforeAll(async () => {
    receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as (typeof received)[number]);
        res.writeHead(200).end('ok');
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    db = await freshDatabase();
    const alerts = parseAlertConfig(`
evaluate_every: 100ms
sinks:
  - { name: hook, type: webhook, url: "${url}", timeout: 2s, retries: 1 }
rules:
  - { name: large-break, kind: break_value, severity: critical, above: 1000 }
`);
    running = await startService(startOptions({ service: serviceConfig(), databaseUrl: db.url, recon: { ...DEFAULT_RECON, checkIntervalMs: 0 }, alerts }));
  });
  afterAll(async () => {
    await running.stop();
    await db.drop();
    await new Promise((r) => receiver.close(r));
  });

  it('a break over the limit fires to the webhook, is listed and counted, and resolves when the break is resolved', async () => {
    const post = (path: string, body: unknown): Promise<Response> => fetch(`${running.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    await post('/events', [
      { type: 'price', id: 'p', ts: '2026-01-02T09:00:00Z', asset: 'BTC', quote: 'USD', price: '40000' },
      { type: 'deposit', id: 'd', ts: '2026-01-02T09:00:00Z', book: 'mm', venue: 'binance', asset: 'BTC', qty: '2', cost: '80000' },
      { type: 'balance', id: 'r1', ts: '2026-01-02T10:00:00Z', venue: 'binance', asset: 'BTC', total: '1.9' },
    ]);
    await waitUntil(() => received.some((m) => m.utl.kind === 'firing'), 10_000, 'the firing webhook');
    expect(received[0]!.utl).toMatchObject({ rule: 'large-break', kind: 'firing' });
    expect(received[0]!.text).toContain('brk:r1');
    const alerts = (await (await fetch(`${running.url}/alerts`)).json()) as { firing: number };
    expect(alerts.firing).toBe(1);
    const metrics = await (await fetch(`${running.url}/metrics`)).text();
    expect(metrics).toMatch(/^utl_alerts_firing\{rule="large-break",severity="critical"\} 1$/m);
    expect(metrics).toMatch(/^utl_open_breaks\{venue="binance",age="lt_1h"\} 1$/m);

    expect((await post('/breaks/brk:r1/resolve', { by: 'carol', reason: 'venue snapshot was wrong' })).status).toBe(200);
    await waitUntil(() => received.some((m) => m.utl.kind === 'resolved'), 10_000, 'the resolve webhook');
    expect(received.filter((m) => m.utl.kind === 'firing')).toHaveLength(1);
  });
});
