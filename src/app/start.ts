/**
 * The composition root of `utl start`: the store (PostgreSQL at DATABASE_URL, else the embedded
 * PGlite in the data folder), the inbound source (NATS JetStream at NATS_URL, else the in-process
 * bus), the service, and the HTTP server. Nothing else wires adapters together.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { buildServer, type HttpOptions } from '../adapters/http/server.js';
import { HttpFront } from '../adapters/http/front.js';
import { buildBookUpdate } from '../domain/report.js';
import { ServiceMetrics } from '../adapters/metrics/metrics.js';
import { InProcessBus } from '../adapters/nats/bus.js';
import { connectNats, ensureEventStream, jetStreamSource, natsUpdateSink, type NatsConnection } from '../adapters/nats/jetstream.js';
import { openSql } from '../adapters/pg/sql.js';
import { PgStore } from '../adapters/pg/store.js';
import { ReconStore } from '../adapters/pg/recon-store.js';
import { reconRoutes } from '../adapters/http/recon-routes.js';
import { Reconciler } from './recon.js';
import { alertRoutes } from '../adapters/http/alerts-routes.js';
import { wsRoutes } from '../adapters/http/ws.js';
import { uiRoutes } from '../adapters/http/ui-routes.js';
import { docsRoutes } from '../adapters/http/docs-routes.js';
import { routesOf, type HttpRoute } from '../adapters/http/route-table.js';
import { wsAuth } from '../adapters/http/auth.js';
import type { WriteLimit } from '../adapters/http/limits.js';
import { PgKeyStore } from '../adapters/pg/keys-store.js';
import { Authenticator } from './api-keys.js';
import { LiveHub, type LiveOptions } from './live.js';
import { DEFAULT_SNAPSHOTS, Snapshots, type SnapshotOptions } from './snapshots.js';
import { PgSnapshotStore } from '../adapters/pg/snapshot-store.js';
import { reportRoutes } from '../adapters/http/reports-routes.js';
import { buildSinks } from '../adapters/alerts/sinks.js';
import { PgAlertStore } from '../adapters/pg/alerts-store.js';
import { countOpenBreaks } from '../adapters/metrics/metrics.js';
import type { AlertConfig } from '../domain/alerts/rules.js';
import { parseAlertConfig } from './alert-config.js';
import { DEFAULT_ALERTS_YAML } from './alert-defaults.js';
import { Alerting } from './alerting.js';
import { alertFacts } from './facts.js';
import type { ReconConfig } from './recon-config.js';
import { InstrumentRegistry } from '../domain/instrument.js';
import type { Logger, ServiceConfig } from './service.js';
import { Service } from './service.js';
import type { EventSource, UpdateSink } from './ports.js';

export interface StartOptions {
  readonly service: ServiceConfig;
  /** PostgreSQL server; undefined: the embedded store in `dataDir`. */
  readonly databaseUrl: string | undefined;
  /** NATS server; undefined: the in-process bus. */
  readonly natsUrl: string | undefined;
  readonly dataDir: string;
  /** JetStream stream and the subjects it holds (`<subjectPrefix>.<book>`). */
  readonly stream: string;
  readonly subjectPrefix: string;
  /** JetStream consumer: unacked messages at most, and redelivery after this long. */
  readonly maxInFlight: number;
  readonly ackWaitMs: number;
  readonly host: string;
  /** 0: any free port. */
  readonly port: number;
  readonly http: Partial<HttpOptions>;
  readonly logLevel: string;
  /** Reconciliation: tolerances, lending venues, transfer matching, check intervals. */
  readonly recon: ReconConfig;
  /** Alert rules and sinks (`--alerts FILE`); undefined: the defaults (alert-defaults.ts). */
  readonly alerts: AlertConfig | undefined;
  /** The WebSocket API (`GET /ws`): heartbeat, coalescing, slow-client limits; undefined: the defaults. */
  readonly live?: Partial<LiveOptions>;
  /**
   * `required`: every route but /healthz and /readyz needs an API key (utl_api_keys, `utl keys`);
   * `off`: every route open. `utl start` defaults to required with DATABASE_URL, off on the
   * embedded store (the one-command local run); see docs/config.md.
   */
  readonly auth?: 'required' | 'off';
  /** POST requests per window per key (or address); undefined or max 0: none (`utl start` sets DEFAULT_WRITE_LIMIT). */
  readonly writeLimit?: WriteLimit;
  /** End-of-day snapshots: how long after midnight UTC the closed day is taken; undefined: the defaults. */
  readonly snapshots?: Partial<SnapshotOptions>;
  /**
   * The HTTP front (adapters/http/front.ts): a thread that answers `GET /positions` from a copy
   * kept by the book updates and passes the rest on to the API. Default on; `false`: the API
   * listens on `host:port` itself (docs/operations.md "The HTTP front").
   */
  readonly front?: boolean;
}

export { DEFAULT_START, DEFAULT_WRITE_LIMIT } from './start-defaults.js';

export interface Running {
  readonly service: Service;
  readonly url: string;
  /** The in-process bus when no NATS_URL was given (publish events to it; listen to updates). */
  readonly bus: InProcessBus | undefined;
  readonly startup: { restoredSeq: number; tail: number; ms: number };
  readonly recon: Reconciler;
  readonly alerting: Alerting;
  /** What `GET /metrics` serves; `metrics.setProviders(...)` adds the breaks and alerts gauges. */
  readonly metrics: ServiceMetrics;
  /** Every route the HTTP server registered (method, pattern): what the OpenAPI document must describe. */
  readonly routes: readonly HttpRoute[];
  /** End-of-day snapshots and PnL over periods. */
  readonly snapshots: Snapshots;
  stop(): Promise<void>;
}

export async function startService(opts: StartOptions, logger?: Logger): Promise<Running> {
  const log = logger ?? pino({ level: opts.logLevel }, pino.destination(2));
  if (opts.databaseUrl === undefined) mkdirSync(opts.dataDir, { recursive: true });
  const sql = await openSql({ databaseUrl: opts.databaseUrl, dataDir: join(opts.dataDir, 'pg') });
  const store = new PgStore(sql, new InstrumentRegistry());

  let nc: NatsConnection | undefined;
  let bus: InProcessBus | undefined;
  let source: EventSource;
  let sink: UpdateSink;
  if (opts.natsUrl !== undefined) {
    nc = await connectNats(opts.natsUrl, 'utl');
    await ensureEventStream(nc, { stream: opts.stream, subjects: [`${opts.subjectPrefix}.>`] });
    source = await jetStreamSource(nc, { stream: opts.stream, consumer: opts.service.consumer, maxInFlight: opts.maxInFlight, ackWaitMs: opts.ackWaitMs, batch: Math.min(opts.service.batchMax, opts.maxInFlight) });
    sink = natsUpdateSink(nc);
  } else {
    bus = new InProcessBus({ maxInFlight: opts.maxInFlight, ackWaitMs: opts.ackWaitMs });
    source = bus.source();
    sink = bus.sink();
  }

  const metrics = new ServiceMetrics();
  const service = new Service(store, sink, opts.service, log, metrics);
  metrics.attach(service);
  const startup = await service.start();
  const reconStore = new ReconStore(sql, () => service.ledger.instruments);
  const recon = new Reconciler(service, reconStore, opts.recon, log);
  await recon.start();
  const alertConfig = opts.alerts ?? parseAlertConfig(DEFAULT_ALERTS_YAML, 'the default alert rules');
  const alerting = new Alerting({
    config: alertConfig,
    sinks: buildSinks(alertConfig.sinks, { log, publisher: sink }),
    store: new PgAlertStore(sql),
    log,
    facts: (nowMs) => alertFacts(service, recon, nowMs),
  });
  metrics.setProviders({ openBreaks: () => countOpenBreaks(recon.breaks.active(), Date.now()), alertsFiring: () => alerting.firingCounts() });
  service.attach(source);
  const onError = (err: unknown, where: string): void => log.error({ err: String(err), where }, 'HTTP request failed');
  const auth = opts.auth === 'required' ? new Authenticator(new PgKeyStore(sql), { onError }) : undefined;
  const writeLimit = opts.writeLimit ?? { max: 0, timeWindowMs: 0 };
  // Behind the front, the API listens on a Unix socket of this process's own (under 108 bytes).
  const upstream = opts.front === false ? undefined : join(tmpdir(), `utl-${process.pid}-${randomBytes(4).toString('hex')}.sock`);
  const app = buildServer(service, {
    ...opts.http,
    metrics,
    onError,
    behindFront: upstream !== undefined,
    ...(auth === undefined ? {} : { auth }),
    ...(writeLimit.max > 0 ? { writeLimit } : {}),
    audit: (actor, action, target, detail) => reconStore.audit(actor, action, target, detail),
  });
  const snapshots = new Snapshots(service, new PgSnapshotStore(sql), { ...DEFAULT_SNAPSHOTS, ...opts.snapshots }, log);
  await app.register(reportRoutes(service, snapshots, (actor, action, target, detail) => reconStore.audit(actor, action, target, detail)));
  await app.register(reconRoutes(recon, reconStore));
  await app.register(alertRoutes(alerting));
  const live = new LiveHub(service, opts.live);
  service.onUpdate = (u) => live.publish(u);
  await app.register(wsRoutes(live, auth === undefined ? {} : { auth: wsAuth }));
  await app.register(uiRoutes());
  await app.register(docsRoutes());
  let url: string;
  let front: HttpFront | undefined;
  if (upstream === undefined) url = await app.listen({ host: opts.host, port: opts.port });
  else {
    await app.listen({ path: upstream });
    chmodSync(upstream, 0o600); // this user's processes only: the front is the way in
    front = await HttpFront.start({
      host: opts.host,
      port: opts.port,
      upstream,
      reporting: service.config.reporting,
      ...(auth === undefined ? {} : { auth }),
      onError,
      // Nothing serves the port then: stop as SIGTERM would, for the supervisor to restart us.
      onFail: (err) => {
        log.error({ err: String(err) }, 'HTTP front failed: stopping');
        process.kill(process.pid, 'SIGTERM');
      },
    });
    const f = front;
    url = `http://${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${f.port}`;
    // Every book as it stands, then its updates: in the booking lane, so none falls in between.
    await service.withLedger(() => {
      for (const book of service.ledger.bookNames()) f.update({ book, seq: service.stats.lastSeq, positions: buildBookUpdate(service.ledger, book)?.positions ?? [] });
      f.caughtUp(service.stats.lastSeq);
      service.onUpdate = (u) => {
        live.publish(u);
        f.update(u);
      };
      service.onCaughtUp = (seq) => f.caughtUp(seq);
      f.ready();
      return Promise.resolve();
    });
  }
  await alerting.start();
  snapshots.start();
  log.info({ url, store: sql.kind, bus: nc === undefined ? 'in-process' : 'nats', ...startup }, 'serving');

  let stopped = false;
  return {
    service,
    url,
    bus,
    startup,
    recon,
    alerting,
    metrics,
    snapshots,
    routes: routesOf(app),
    async stop() {
      if (stopped) return;
      stopped = true;
      await front?.close();
      await app.close();
      if (upstream !== undefined) rmSync(upstream, { force: true });
      await snapshots.stop();
      await alerting.stop();
      await service.stop();
      await recon.stop();
      await sink.close();
      if (nc !== undefined) await nc.drain().catch(() => undefined);
      await sql.close();
    },
  };
}
