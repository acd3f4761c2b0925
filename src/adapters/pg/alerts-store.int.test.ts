/**
 * The alerts' store on the real PostgreSQL (a fresh database) and on PGlite: an evaluation's
 * state and history are saved together; a restart restores the firing instance so that it is
 * neither sent again as new nor forgets when it last repeated; a pending instance that clears
 * leaves no row; history pages newest first; the HTTP routes answer from it.
 */
import Fastify from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { recordingLogger } from '../../../test/support/alerts.js';
import { bothStores, type OpenedStore } from '../../../test/support/pg.js';
import { Alerting } from '../../app/alerting.js';
import type { AlertFacts } from '../../domain/alerts/facts.js';
import type { AlertConfig } from '../../domain/alerts/rules.js';
import { quietFacts, rulesOf } from '../../domain/alerts/testing.js';
import { alertRoutes } from '../http/alerts-routes.js';
import { PgAlertStore } from './alerts-store.js';
import { migrate } from './migrations.js';

const MIN = 60_000;
const T0 = Date.UTC(2026, 3, 1, 9, 0, 0);

const config: AlertConfig = {
  evaluateEveryMs: 5000,
  sinks: [],
  rules: rulesOf(
    { name: 'big-break', kind: 'break_value', severity: 'critical', above: '1000', repeat: '10m' },
    { name: 'lag', kind: 'consumer_lag', severity: 'warning', above: 10, for: '5m' },
    { name: 'dd', kind: 'drawdown', severity: 'critical', limit: '100' },
  ),
};

describe.each(bothStores())('alert store on $name', (factory) => {
  let opened: OpenedStore | undefined;

  afterEach(async () => {
    await opened?.close();
    opened = undefined;
  });

  it('saves state with history, restores it across a restart, and pages the history', async () => {
    opened = await factory.open();
    await migrate(opened.sql);
    let facts: Omit<AlertFacts, 'nowMs'> = quietFacts(0, {
      breaks: [{ id: 'b1', venue: 'binance', account: 'main', asset: 'BTC', status: 'open', firstSeenMs: T0, diff: '0.5', value: '30000.123456789012345678' }],
      consumerLag: 50,
      pnl: [{ book: 'desk', total: '500' }],
    });
    const alerting = (): Alerting => new Alerting({ config, sinks: [], store: new PgAlertStore(opened!.sql), log: recordingLogger(), facts: (nowMs) => ({ ...facts, nowMs }) });

    const a = alerting();
    expect((await a.evaluate(T0)).map((n) => `${n.kind} ${n.rule}`)).toEqual(['firing big-break']);
    facts = { ...facts, pnl: [{ book: 'desk', total: '350' }] };
    expect((await a.evaluate(T0 + MIN)).map((n) => `${n.kind} ${n.rule}`)).toEqual(['firing dd']);
    let store = new PgAlertStore(opened.sql);
    expect((await store.listActive()).map((s) => [s.rule, s.key, s.status, s.firedAtMs])).toEqual([
      ['dd', 'desk', 'firing', T0 + MIN],
      ['big-break', 'b1', 'firing', T0],
      ['lag', '', 'pending', null],
    ]);

    // A restart: a new Alerting on a new connection restores, and goes on where it was.
    await opened.reopen();
    store = new PgAlertStore(opened.sql);
    const b = alerting();
    expect((await b.evaluate(T0 + 6 * MIN)).map((n) => `${n.kind} ${n.rule}`)).toEqual(['firing lag']); // pending since T0: 6 minutes
    expect((await b.evaluate(T0 + 10 * MIN)).map((n) => `${n.kind} ${n.rule}`)).toEqual(['repeat big-break']); // 10m after T0, not after the restart
    expect(b.active().map((x) => [x.rule, x.status, x.value])).toEqual([
      ['big-break', 'firing', '30000.123456789012345678'],
      ['dd', 'firing', '150'],
      ['lag', 'firing', '50'],
    ]);
    // The day's high survived the restart: 500 is still the high, so 350 is still a drawdown of 150.
    facts = { ...facts, pnl: [{ book: 'desk', total: '450' }], breaks: [], consumerLag: 0 };
    expect((await b.evaluate(T0 + 11 * MIN)).map((n) => `${n.kind} ${n.rule}`)).toEqual(['resolved big-break', 'resolved lag', 'resolved dd']);
    expect(await store.listActive()).toEqual([]);
    expect(b.firingCounts()).toEqual([
      { rule: 'big-break', severity: 'critical', count: 0 },
      { rule: 'lag', severity: 'warning', count: 0 },
      { rule: 'dd', severity: 'critical', count: 0 },
    ]);

    const page1 = await store.history({ limit: 4 });
    expect(page1.items.map((i) => `${i.alert.kind} ${i.alert.rule}`)).toEqual(['resolved dd', 'resolved lag', 'resolved big-break', 'repeat big-break']);
    expect(page1.items[0]!.at).toBe('2026-04-01T09:11:00Z');
    expect(page1.next).not.toBeNull();
    const page2 = await store.history({ limit: 4, beforeId: page1.next! });
    expect(page2.items.map((i) => `${i.alert.kind} ${i.alert.rule}`)).toEqual(['firing lag', 'firing dd', 'firing big-break']);
    expect(page2.next).toBeNull();
    expect(page2.items[2]!.alert).toMatchObject({ value: '30000.123456789012345678', labels: { break: 'b1', venue: 'binance', account: 'main', asset: 'BTC' } });

    // The HTTP routes, as the server will register them.
    const app = Fastify();
    await app.register(alertRoutes(b));
    const active = await app.inject({ method: 'GET', url: '/alerts' });
    expect(active.json()).toEqual({ firing: 0, pending: 0, items: [] });
    const hist = await app.inject({ method: 'GET', url: `/alerts/history?limit=2&before=${page1.next}` });
    expect(hist.json<{ items: unknown[] }>().items).toHaveLength(2);
    const bad = await app.inject({ method: 'GET', url: '/alerts/history?limit=0' });
    expect(bad.statusCode).toBe(400);
    expect(bad.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(bad.json()).toMatchObject({ code: 'BAD_QUERY', title: 'Bad `limit`' });
    expect((await app.inject({ method: 'GET', url: '/alerts/history?before=x' })).statusCode).toBe(400);
    await app.close();
  });

  it('drops the row of a pending instance that clears', async () => {
    opened = await factory.open();
    await migrate(opened.sql);
    let lag = 50;
    const store = new PgAlertStore(opened.sql);
    const a = new Alerting({ config, sinks: [], store, log: recordingLogger(), facts: (nowMs) => quietFacts(nowMs, { consumerLag: lag }) });
    await a.evaluate(T0);
    expect((await store.listActive()).map((s) => s.status)).toEqual(['pending']);
    lag = 0;
    await a.evaluate(T0 + MIN);
    expect(await store.listActive()).toEqual([]);
    const { rows } = await opened.sql.query<{ n: string }>('SELECT count(*)::text AS n FROM utl_alerts');
    expect(rows[0]!.n).toBe('0');
  });
});
