/**
 * Prometheus metrics of one service (prom-client), served by `GET /metrics`. Every metric lives
 * in the service's own `Registry`, never prom-client's global one, so several services in one
 * process (tests) do not clash; the process metrics (`utl_process_*`, `utl_nodejs_*`) are
 * process-wide by nature and are collected once per process, into one shared registry whose
 * metrics each service's registry also registers (starting them per service would add a GC
 * observer and an event-loop monitor per service that nothing ever stops).
 *
 * Where each value comes from:
 * - the booking counters and histograms: the service's `ServiceObserver` calls, one per batch
 *   (an `EventTally` of plain Map counts; one `inc` per label set per batch, not per event);
 * - `utl_last_seq`, `utl_checkpoints_total`, `utl_history_loads_total`, `utl_commit_errors_total`:
 *   read from the service's `stats` at scrape time;
 * - `utl_consumer_lag_messages`: the sources' `pending()` at scrape time, at most
 *   `collectTimeoutMs` (NaN when unknown, failed or too slow: never a made-up 0);
 * - `utl_open_breaks`, `utl_alerts_firing`: providers set by the reconciliation and alerting
 *   components (`setProviders`), read at scrape time with the same timeout. A provider that
 *   fails or is too slow leaves its gauge empty and counts in `utl_metrics_provider_errors_total`.
 *
 * Names follow the Prometheus conventions: the `utl_` prefix, base units (seconds), `_total` on
 * counters. Label values are bounded: event types are the canonical ones or `unknown`, codes come
 * from the error catalogue, venues from validated events (capped at `maxVenues` distinct values,
 * the rest `other`), break ages from three buckets (`BREAK_AGES`).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics, type Metric } from 'prom-client';
import type { ServiceStats } from '../../app/service.js';
import { UNKNOWN, type EventTally, type ServiceObserver } from '../../app/observer.js';

/**
 * The age buckets of `utl_open_breaks{age}`: how long a reconciliation break has been open.
 * `lt_1h`: under an hour; `1h_24h`: an hour up to a day; `gt_24h`: a day or more.
 */
export const BREAK_AGES = ['lt_1h', '1h_24h', 'gt_24h'] as const;
export type BreakAge = (typeof BREAK_AGES)[number];

/** The age bucket of a break open for `ageSeconds`. */
export function breakAge(ageSeconds: number): BreakAge {
  if (ageSeconds < 3600) return 'lt_1h';
  if (ageSeconds < 86_400) return '1h_24h';
  return 'gt_24h';
}

/**
 * The `openBreaks` provider's answer from a list of open breaks (reconciliation's active ones):
 * counted per venue and age bucket, the age from when each was first seen to `nowMs`.
 */
export function countOpenBreaks(breaks: Iterable<{ readonly venue: string; readonly firstSeenMs: number }>, nowMs: number): { venue: string; age: BreakAge; count: number }[] {
  const counts = new Map<string, { venue: string; age: BreakAge; count: number }>();
  for (const b of breaks) {
    const age = breakAge(Math.max(0, nowMs - b.firstSeenMs) / 1000);
    const k = `${b.venue}\u0000${age}`;
    const c = counts.get(k);
    if (c === undefined) counts.set(k, { venue: b.venue, age, count: 1 });
    else c.count++;
  }
  return [...counts.values()];
}

/** Values read at scrape time from components that are not the service's booking path. */
export interface MetricsProviders {
  /** Open reconciliation breaks, counted per venue and age bucket. */
  openBreaks?(): readonly { venue: string; age: BreakAge; count: number }[] | Promise<readonly { venue: string; age: BreakAge; count: number }[]>;
  /** Alerts firing now, counted per rule and severity. */
  alertsFiring?(): readonly { rule: string; severity: string; count: number }[] | Promise<readonly { rule: string; severity: string; count: number }[]>;
}

/** What the metrics read from the service at scrape time (`Service` is one). */
export interface MetricsTarget {
  readonly stats: Readonly<ServiceStats>;
  /** Messages not yet delivered to the service, over its sources; undefined when unknown. */
  pending(): Promise<number | undefined>;
}

export interface MetricsOptions {
  /** Longest a scrape waits for `pending()` or a provider (ms). */
  readonly collectTimeoutMs: number;
  /** Most distinct `venue` label values; further venues are counted as `other`. */
  readonly maxVenues: number;
  /** Collect the process metrics (`utl_process_*`, `utl_nodejs_*`). */
  readonly processMetrics: boolean;
}

export const DEFAULT_METRICS: MetricsOptions = { collectTimeoutMs: 1000, maxVenues: 200, processMetrics: true };

/** Seconds: 1 ms to 10 s. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Seconds: 0.5 ms to 5 s. */
const COMMIT_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
/** Inputs per batch: 1 to 10,000 (the largest POST; NATS batches stop at `batchMax`). */
const SIZE_BUCKETS = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000];

let processRegistry: Registry | undefined;

/** The process metrics, started once per process. */
function processMetrics(): Metric[] {
  if (processRegistry === undefined) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry, prefix: 'utl_' });
  }
  // At run time these are the metric objects themselves (the typing says MetricObject).
  return processRegistry.getMetricsAsArray() as unknown as Metric[];
}

class Timeout extends Error {
  constructor(ms: number) {
    super(`no answer in ${ms} ms`);
    this.name = 'Timeout';
  }
}

/** `p`, or a `Timeout` after `ms`; the timer never outlives the answer. */
async function within<T>(p: Promise<T> | T, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Timeout(ms)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

export class ServiceMetrics implements ServiceObserver {
  readonly registry = new Registry();
  private readonly opts: MetricsOptions;
  private target: MetricsTarget | undefined;
  private providers: MetricsProviders = {};
  private readonly venues = new Set<string>();
  /** Values being read for the scrape in progress. */
  private readonly reads = new Set<Promise<unknown>>();

  private readonly bookedTotal: Counter<'type' | 'venue'>;
  private readonly rejectedTotal: Counter<'type' | 'venue' | 'code'>;
  private readonly duplicateTotal: Counter<'type' | 'venue'>;
  private readonly unbookedTotal: Counter<'type' | 'venue' | 'code'>;
  private readonly bookingLatency: Histogram;
  private readonly commitSeconds: Histogram;
  private readonly batchSize: Histogram;
  private readonly providerErrors: Counter<'provider'>;

  constructor(options: Partial<MetricsOptions> = {}) {
    this.opts = { ...DEFAULT_METRICS, ...options };
    const registers = [this.registry];
    this.bookedTotal = new Counter({ name: 'utl_events_booked_total', help: 'Events committed as new and booked into their book.', labelNames: ['type', 'venue'], registers });
    this.rejectedTotal = new Counter({
      name: 'utl_events_rejected_total',
      help: 'Inputs refused: invalid, a conflicting repeat of an id (DUPLICATE_CONFLICT), or refused by the ledger; by rejection code.',
      labelNames: ['type', 'venue', 'code'],
      registers,
    });
    this.duplicateTotal = new Counter({ name: 'utl_events_duplicate_total', help: 'Repeats of a committed event with the same content (acknowledged, not booked again).', labelNames: ['type', 'venue'], registers });
    this.unbookedTotal = new Counter({
      name: 'utl_events_unbooked_total',
      help: 'Events committed that their book could not book (UNVALUED, INSUFFICIENT_QUANTITY...), listed by GET /unbooked.',
      labelNames: ['type', 'venue', 'code'],
      registers,
    });
    this.bookingLatency = new Histogram({
      name: 'utl_booking_latency_seconds',
      help: "Per batch: from its first input's arrival (a POST's request, a NATS batch's first message) to the end of its booking (committed and booked).",
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.commitSeconds = new Histogram({ name: 'utl_batch_commit_seconds', help: 'Duration of the one store commit of a batch (successful commits).', buckets: COMMIT_BUCKETS, registers });
    this.batchSize = new Histogram({ name: 'utl_batch_size', help: 'Inputs (valid or not) per committed batch.', buckets: SIZE_BUCKETS, registers });

    const stat = (name: string, help: string, key: 'checkpoints' | 'historyLoads' | 'commitErrors'): void => {
      const c: Counter = new Counter({
        name,
        help,
        registers,
        collect: () => {
          c.reset();
          c.inc(this.target?.stats[key] ?? 0);
        },
      });
    };
    stat('utl_checkpoints_total', 'Checkpoints written.', 'checkpoints');
    stat('utl_history_loads_total', "Times a late event made the service read a book's history from the store.", 'historyLoads');
    stat('utl_commit_errors_total', 'NATS batches whose commit failed (they are redelivered).', 'commitErrors');

    const lastSeq: Gauge = new Gauge({
      name: 'utl_last_seq',
      help: 'The seq of the last event booked (the arrival order of the committed log).',
      registers,
      collect: () => lastSeq.set(this.target?.stats.lastSeq ?? 0),
    });
    const lag: Gauge = new Gauge({
      name: 'utl_consumer_lag_messages',
      help: 'Messages in the inbound stream not yet delivered to the service (NaN when unknown).',
      registers,
      collect: async () => lag.set((await this.read('consumer_lag', () => this.target?.pending())) ?? Number.NaN),
    });
    const breaks: Gauge<'venue' | 'age'> = new Gauge({
      name: 'utl_open_breaks',
      help: 'Open reconciliation breaks by venue and age bucket (lt_1h, 1h_24h, gt_24h).',
      labelNames: ['venue', 'age'],
      registers,
      collect: async () => {
        breaks.reset();
        const rows = await this.read('open_breaks', this.providers.openBreaks?.bind(this.providers));
        for (const r of rows ?? []) breaks.inc({ venue: this.venue(r.venue), age: r.age }, r.count);
      },
    });
    const alerts: Gauge<'rule' | 'severity'> = new Gauge({
      name: 'utl_alerts_firing',
      help: 'Alerts firing now, by rule and severity.',
      labelNames: ['rule', 'severity'],
      registers,
      collect: async () => {
        alerts.reset();
        const rows = await this.read('alerts_firing', this.providers.alertsFiring?.bind(this.providers));
        for (const r of rows ?? []) alerts.inc({ rule: r.rule, severity: r.severity }, r.count);
      },
    });
    // Registered after the gauges that read, and waiting for their reads: a scrape shows its own failures.
    this.providerErrors = new Counter({
      name: 'utl_metrics_provider_errors_total',
      help: 'Scrapes where a value read at scrape time failed or timed out, by what was read.',
      labelNames: ['provider'],
      registers,
      collect: async () => {
        await Promise.all([...this.reads]);
      },
    });
    if (this.opts.processMetrics) for (const m of processMetrics()) this.registry.registerMetric(m);
  }

  /** The service whose stats and sources are read at scrape time. */
  attach(target: MetricsTarget): this {
    this.target = target;
    return this;
  }

  /** Sets (or replaces) providers; those not given are kept. */
  setProviders(p: MetricsProviders): this {
    this.providers = { ...this.providers, ...p };
    return this;
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The text exposition of every metric. */
  metrics(): Promise<string> {
    return this.registry.metrics();
  }

  // ---- ServiceObserver ----

  committed(seconds: number, size: number): void {
    this.commitSeconds.observe(seconds);
    this.batchSize.observe(size);
  }

  booked(t: EventTally, nowMs: number): void {
    this.bookingLatency.observe(Math.max(0, nowMs - t.arrivedAtMs) / 1000);
    for (const [type, byVenue] of t.booked) for (const [venue, n] of byVenue) this.bookedTotal.inc({ type, venue: this.venue(venue) }, n);
    for (const [type, byVenue] of t.duplicates) for (const [venue, n] of byVenue) this.duplicateTotal.inc({ type, venue: this.venue(venue) }, n);
    for (const [k, n] of t.unbooked) {
      const [type = UNKNOWN, venue = UNKNOWN, code = UNKNOWN] = k.split('\t');
      this.unbookedTotal.inc({ type, venue: this.venue(venue), code }, n);
    }
    for (const [k, n] of t.rejected) {
      const [type = UNKNOWN, venue = UNKNOWN, code = UNKNOWN] = k.split('\t');
      this.rejectedTotal.inc({ type, venue: this.venue(venue), code }, n);
    }
  }

  // ---- helpers ----

  /** The label value of a venue: itself while fewer than `maxVenues` are known, else `other`. */
  private venue(v: string): string {
    if (v === UNKNOWN || this.venues.has(v)) return v;
    if (this.venues.size >= this.opts.maxVenues) return 'other';
    this.venues.add(v);
    return v;
  }

  /** A value read at scrape time; undefined (and counted) when it fails or is too slow. */
  private read<T>(provider: string, fn: (() => T | Promise<T>) | undefined): Promise<T | undefined> {
    if (fn === undefined) return Promise.resolve(undefined);
    const p = (async () => {
      try {
        return await within(fn(), this.opts.collectTimeoutMs);
      } catch {
        // Converted: a scrape never fails for one value; the count says it is missing.
        this.providerErrors.inc({ provider });
        return undefined;
      }
    })();
    this.reads.add(p);
    void p.finally(() => this.reads.delete(p));
    return p;
  }
}
