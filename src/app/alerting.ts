/**
 * The alerting service: evaluates the configured rules (src/domain/alerts) against the facts the
 * application gathers, every `evaluateEveryMs`; stores each evaluation's changes and history;
 * then hands the notifications to the sinks.
 *
 * Invariants:
 * - One evaluation at a time: a tick that finds the previous one still running is skipped.
 * - The engine's state advances only once the store has saved it with its history: a failed
 *   save leaves the state as it was, so the next evaluation decides the same notifications again
 *   (nothing is sent that the history does not hold).
 * - Sinks never hold up an evaluation (nor booking): sends run in the background, at most
 *   `maxInFlight` at once; beyond that a notification is dropped for that sink and logged.
 *   Delivery is at most once across a crash between the save and the send.
 * - A restart restores the instances and the engine's memory from the store: a firing alert is
 *   not sent again as new, and a pending one keeps the time its condition started.
 */
import { EMPTY_STATE, firingCounts as countFiring, readEngineState, step, type AlertInstance, type AlertNotification, type EngineState } from '../domain/alerts/engine.js';
import type { AlertFacts } from '../domain/alerts/facts.js';
import { alertDocument, type AlertDocument } from '../domain/alerts/payload.js';
import { severityRank, type AlertConfig, type Severity } from '../domain/alerts/rules.js';
import { formatTimestamp } from '../domain/time.js';
import type { Logger } from './service.js';

/** Where notifications go (src/adapters/alerts): a webhook, NATS, the log. */
export interface AlertSink {
  readonly name: string;
  /** Notifications below this severity are not sent here. */
  readonly minSeverity: Severity;
  /** Resolves when delivered; rejects (after the sink's own retries) when it could not be. */
  send(n: AlertNotification): Promise<void>;
  close?(): Promise<void>;
}

/** One evaluation's changes, saved in one transaction. */
export interface AlertChange {
  /** Instances new or changed (pending or firing). */
  readonly upserts: readonly AlertInstance[];
  /** Firing instances that resolved. */
  readonly resolved: readonly { rule: string; key: string; atMs: number }[];
  /** Pending instances whose condition cleared before they fired. */
  readonly dropped: readonly { rule: string; key: string }[];
  /** The notifications decided, as sent. */
  readonly events: readonly AlertDocument[];
  /** The engine's memory (rejection samples, day highs). */
  readonly memory: unknown;
}

export type StoredAlert = Pick<AlertInstance, 'rule' | 'key' | 'labels' | 'severity' | 'status' | 'activeSinceMs' | 'firedAtMs' | 'lastSentMs' | 'summary'>;

export interface AlertHistoryItem {
  readonly id: string;
  readonly at: string;
  readonly alert: AlertDocument;
}

/** What alerting needs from storage (src/adapters/pg/alerts-store.ts). */
export interface AlertStore {
  load(): Promise<{ instances: unknown[]; memory: unknown }>;
  save(change: AlertChange): Promise<void>;
  history(opts: { limit: number; beforeId?: string | undefined }): Promise<{ items: AlertHistoryItem[]; next: string | null }>;
}

export interface AlertingOptions {
  readonly config: AlertConfig;
  readonly sinks: readonly AlertSink[];
  readonly store: AlertStore;
  readonly log: Logger;
  /** The facts of one evaluation. Its `nowMs` is replaced by the evaluation's own. */
  readonly facts: (nowMs: number) => Promise<AlertFacts> | AlertFacts;
  /** The wall clock (epoch ms) of timed evaluations; `Date.now` by default. */
  readonly clock?: () => number;
  /** Most sends in flight at once, across sinks (default 256). */
  readonly maxInFlight?: number;
}

/** An alert as the HTTP API shows it. */
export interface ActiveAlert {
  readonly rule: string;
  readonly ruleKind: string;
  readonly key: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly severity: Severity;
  readonly status: 'pending' | 'firing';
  readonly summary: string;
  readonly value: string | null;
  readonly threshold: string | null;
  readonly activeSince: string;
  readonly firedAt: string | null;
  readonly lastSentAt: string | null;
}

export const DEFAULT_MAX_IN_FLIGHT = 256;

const iso = (ms: number): string => formatTimestamp(ms * 1000);
const idOf = (i: { rule: string; key: string }): string => `${i.rule}\u0000${i.key}`;

/** The store's part of one step: what changed between two states, given the notifications. */
export function changeOf(before: EngineState, after: EngineState, notifications: readonly AlertNotification[]): AlertChange {
  const prior = new Map(before.instances.map((i) => [idOf(i), i]));
  const now = new Set(after.instances.map(idOf));
  const upserts = after.instances.filter((i) => {
    const p = prior.get(idOf(i));
    return p === undefined || JSON.stringify(p) !== JSON.stringify(i);
  });
  const resolved = notifications.filter((n) => n.kind === 'resolved').map((n) => ({ rule: n.rule, key: n.key, atMs: n.atMs }));
  const resolvedIds = new Set(resolved.map(idOf));
  const dropped = before.instances.filter((i) => !now.has(idOf(i)) && !resolvedIds.has(idOf(i))).map((i) => ({ rule: i.rule, key: i.key }));
  return { upserts, resolved, dropped, events: notifications.map(alertDocument), memory: { rejected: after.rejected, highs: after.highs } };
}

export class Alerting {
  private state: EngineState = EMPTY_STATE;
  private restored = false;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly maxInFlight: number;
  private readonly clock: () => number;
  readonly stats = { evaluations: 0, failedEvaluations: 0, skippedTicks: 0, sent: 0, failedSends: 0, droppedSends: 0 };

  constructor(private readonly opts: AlertingOptions) {
    this.maxInFlight = opts.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT;
    this.clock = opts.clock ?? Date.now;
    const names = new Set(opts.sinks.map((s) => s.name));
    for (const r of opts.config.rules) {
      for (const s of r.sinks ?? []) if (!names.has(s)) throw new Error(`alert rule ${r.name} names sink ${s}, which was not given`);
    }
  }

  /** Reads the engine's state back from the store (once; `start` and `evaluate` call it). */
  async restore(): Promise<void> {
    if (this.restored) return;
    const { instances, memory } = await this.opts.store.load();
    this.state = readEngineState(instances, memory);
    this.restored = true;
    const firing = this.state.instances.filter((i) => i.status === 'firing').length;
    this.opts.log.info({ firing, pending: this.state.instances.length - firing }, 'alerts restored');
  }

  /** Restores, then evaluates every `intervalMs` (the config's `evaluate_every` by default) until `stop()`. */
  async start(intervalMs: number = this.opts.config.evaluateEveryMs): Promise<void> {
    if (this.timer !== undefined) return;
    await this.restore();
    this.timer = setInterval(() => this.tick(), intervalMs);
    this.timer.unref();
  }

  private tick(): void {
    if (this.running !== undefined) {
      this.stats.skippedTicks++;
      return;
    }
    const run = this.evaluate(this.clock()).catch((err: unknown) => {
      this.opts.log.error({ err }, 'alert evaluation failed; the state stays as it was');
    });
    this.running = run.finally(() => {
      this.running = undefined;
    });
  }

  /** One evaluation at `nowMs`: decide, save, then send (in the background). Returns the notifications decided. */
  async evaluate(nowMs: number): Promise<readonly AlertNotification[]> {
    await this.restore();
    this.stats.evaluations++;
    try {
      const facts = { ...(await this.opts.facts(nowMs)), nowMs };
      const result = step(this.opts.config.rules, this.state, facts);
      await this.opts.store.save(changeOf(this.state, result.state, result.notifications));
      this.state = result.state;
      for (const n of result.notifications) this.dispatch(n);
      return result.notifications;
    } catch (err) {
      this.stats.failedEvaluations++;
      throw err;
    }
  }

  private dispatch(n: AlertNotification): void {
    for (const sink of this.opts.sinks) {
      if (n.sinks !== undefined && !n.sinks.includes(sink.name)) continue;
      if (severityRank(n.severity) < severityRank(sink.minSeverity)) continue;
      if (this.inFlight.size >= this.maxInFlight) {
        this.stats.droppedSends++;
        this.opts.log.warn({ sink: sink.name, rule: n.rule, key: n.key, kind: n.kind, inFlight: this.inFlight.size }, 'alert not sent: too many sends in flight');
        continue;
      }
      const p: Promise<void> = sink
        .send(n)
        .then(
          () => {
            this.stats.sent++;
          },
          (err: unknown) => {
            this.stats.failedSends++;
            this.opts.log.error({ err, sink: sink.name, rule: n.rule, key: n.key, kind: n.kind }, 'alert notification not delivered');
          },
        )
        .finally(() => this.inFlight.delete(p));
      this.inFlight.add(p);
    }
  }

  /** Resolves when every send started so far has finished (tests; shutdown). */
  async drain(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  /** Stops the timer, waits for the running evaluation and the sends in flight, closes the sinks. */
  async stop(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    if (this.running !== undefined) await this.running;
    await this.drain();
    for (const s of this.opts.sinks) await s.close?.();
  }

  /** The alerts pending or firing now, firing first, then by severity (critical first), rule and key. */
  active(): ActiveAlert[] {
    return [...this.state.instances]
      .sort((a, b) => (a.status === b.status ? 0 : a.status === 'firing' ? -1 : 1) || severityRank(b.severity) - severityRank(a.severity) || (a.rule < b.rule ? -1 : a.rule > b.rule ? 1 : 0) || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
      .map((i) => ({
        rule: i.rule,
        ruleKind: i.kind,
        key: i.key,
        labels: i.labels,
        severity: i.severity,
        status: i.status,
        summary: i.summary,
        value: i.value,
        threshold: i.threshold,
        activeSince: iso(i.activeSinceMs),
        firedAt: i.firedAtMs === null ? null : iso(i.firedAtMs),
        lastSentAt: i.lastSentMs === null ? null : iso(i.lastSentMs),
      }));
  }

  /** Notifications newest first, paged by id (`next` of the previous page as `beforeId`). */
  history(opts: { limit: number; beforeId?: string | undefined }): Promise<{ items: AlertHistoryItem[]; next: string | null }> {
    return this.opts.store.history(opts);
  }

  /**
   * Firing instances per (rule, severity), for metrics: every configured rule with its severity
   * appears (0 when nothing fires), so a gauge goes back to 0 when its alerts resolve.
   */
  firingCounts(): { rule: string; severity: Severity; count: number }[] {
    const counts = new Map(this.opts.config.rules.map((r) => [`${r.name}\u0000${r.severity}`, { rule: r.name, severity: r.severity, count: 0 }]));
    for (const c of countFiring(this.state)) counts.set(`${c.rule}\u0000${c.severity}`, c);
    return [...counts.values()];
  }
}
