/**
 * The alert engine: a pure step from (rules, state, facts) to (state, notifications).
 *
 * Each rule's condition yields instances keyed within the rule (conditions.ts). Per instance:
 *
 * ```
 *   (absent) ──holds──► pending ──held for `forMs`──► firing ──every `repeatMs` while it holds──► repeat
 *       ▲                  │ clears (no notification)     │ clears
 *       └──────────────────┴──────────────────────────────┴──► "resolved" sent once, instance dropped
 * ```
 *
 * A key the facts cannot decide (`unknown`) keeps its instance as it is. An instance of a rule no
 * longer configured is dropped, with a "resolved" if it was firing.
 *
 * Invariants (property-tested in engine.prop.test.ts): for each (rule, key) the notifications
 * alternate firing (repeat*) resolved; no resolved without a firing before it; two notifications
 * of one instance in one firing episode are at least `repeatMs` apart; the same rules, state and
 * facts give the same result; the state is plain JSON and reads back (`readEngineState`) to an
 * equal state.
 */
import { Dec } from '../decimal.js';
import { highKey, observe, sampleRejected, type DayHigh, type RateSample } from './conditions.js';
import type { AlertFacts } from './facts.js';
import { RULE_KINDS, SEVERITIES, type AlertRule, type RuleKind, type Severity } from './rules.js';

export interface AlertInstance {
  readonly rule: string;
  readonly kind: RuleKind;
  readonly key: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly severity: Severity;
  readonly status: 'pending' | 'firing';
  /** The first evaluation at which the condition held (the start of `forMs`). */
  readonly activeSinceMs: number;
  readonly firedAtMs: number | null;
  readonly lastSentMs: number | null;
  readonly summary: string;
  readonly value: string | null;
  readonly threshold: string | null;
}

export interface EngineState {
  readonly version: 1;
  /** Sorted by (rule, key). */
  readonly instances: readonly AlertInstance[];
  readonly rejected: readonly RateSample[];
  /** Sorted by (rule, book). */
  readonly highs: readonly DayHigh[];
}

export type NotificationKind = 'firing' | 'repeat' | 'resolved';

export interface AlertNotification {
  readonly kind: NotificationKind;
  readonly rule: string;
  readonly ruleKind: RuleKind;
  readonly key: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly severity: Severity;
  readonly summary: string;
  readonly value: string | null;
  readonly threshold: string | null;
  /** When this notification was decided (the evaluation's `nowMs`). */
  readonly atMs: number;
  readonly activeSinceMs: number;
  readonly firedAtMs: number;
  /** Set on "resolved" only. */
  readonly resolvedAtMs: number | null;
  /** The rule's sinks (names), undefined: every sink. */
  readonly sinks: readonly string[] | undefined;
}

export interface StepResult {
  readonly state: EngineState;
  readonly notifications: readonly AlertNotification[];
}

export const EMPTY_STATE: EngineState = { version: 1, instances: [], rejected: [], highs: [] };

function instanceKey(rule: string, key: string): string {
  return `${rule}\u0000${key}`;
}

function byRuleKey(a: { rule: string; key: string }, b: { rule: string; key: string }): number {
  return a.rule < b.rule ? -1 : a.rule > b.rule ? 1 : a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}

function notify(i: AlertInstance, kind: NotificationKind, atMs: number, sinks: readonly string[] | undefined): AlertNotification {
  return {
    kind,
    rule: i.rule,
    ruleKind: i.kind,
    key: i.key,
    labels: i.labels,
    severity: i.severity,
    summary: i.summary,
    value: i.value,
    threshold: i.threshold,
    atMs,
    activeSinceMs: i.activeSinceMs,
    firedAtMs: i.firedAtMs ?? atMs,
    resolvedAtMs: kind === 'resolved' ? atMs : null,
    sinks,
  };
}

/** One evaluation: the next state and the notifications to send, in rule order then key order. */
export function step(rules: readonly AlertRule[], state: EngineState, facts: AlertFacts): StepResult {
  const now = facts.nowMs;
  const longestWindow = rules.reduce((w, r) => (r.kind === 'rejected_rate' ? Math.max(w, r.windowMs) : w), 0);
  const rejected = longestWindow === 0 ? [] : sampleRejected(state.rejected, now, facts.rejectedTotal, longestWindow);
  const drawdownRules = new Set(rules.filter((r) => r.kind === 'drawdown').map((r) => r.name));
  const highs = new Map(state.highs.filter((h) => drawdownRules.has(h.rule)).map((h) => [highKey(h.rule, h.book), h]));
  const memory = { rejected, highs };

  const before = new Map(state.instances.map((i) => [instanceKey(i.rule, i.key), i]));
  const next: AlertInstance[] = [];
  const out: AlertNotification[] = [];
  for (const rule of rules) {
    const seen = observe(rule, facts, memory);
    const held = new Set(seen.unknown);
    const activeKeys = new Set<string>();
    const conditions = [...seen.active].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    for (const c of conditions) {
      if (activeKeys.has(c.key)) continue; // the facts named one thing twice: the first counts
      activeKeys.add(c.key);
      const prior = before.get(instanceKey(rule.name, c.key));
      const base = { rule: rule.name, kind: rule.kind, key: c.key, labels: c.labels, severity: rule.severity, summary: c.summary, value: c.value, threshold: c.threshold };
      let inst: AlertInstance =
        prior === undefined
          ? { ...base, status: 'pending', activeSinceMs: now, firedAtMs: null, lastSentMs: null }
          : { ...base, status: prior.status, activeSinceMs: prior.activeSinceMs, firedAtMs: prior.firedAtMs, lastSentMs: prior.lastSentMs };
      if (inst.status === 'pending' && now - inst.activeSinceMs >= rule.forMs) {
        inst = { ...inst, status: 'firing', firedAtMs: now, lastSentMs: now };
        out.push(notify(inst, 'firing', now, rule.sinks));
      } else if (inst.status === 'firing' && rule.repeatMs > 0 && inst.lastSentMs !== null && now - inst.lastSentMs >= rule.repeatMs) {
        inst = { ...inst, lastSentMs: now };
        out.push(notify(inst, 'repeat', now, rule.sinks));
      }
      next.push(inst);
    }
    const priorOfRule = state.instances.filter((i) => i.rule === rule.name && !activeKeys.has(i.key));
    for (const i of priorOfRule) {
      if (held.has(i.key)) next.push(i.severity === rule.severity ? i : { ...i, severity: rule.severity });
      else if (i.status === 'firing') out.push(notify(i, 'resolved', now, rule.sinks));
    }
  }
  // Instances of rules that are gone from the configuration.
  const names = new Set(rules.map((r) => r.name));
  for (const i of state.instances) if (!names.has(i.rule) && i.status === 'firing') out.push(notify({ ...i, summary: `${i.summary} (rule removed)` }, 'resolved', now, undefined));

  next.sort(byRuleKey);
  const nextHighs = [...memory.highs.values()].sort((a, b) => byRuleKey({ rule: a.rule, key: a.book }, { rule: b.rule, key: b.book }));
  return { state: { version: 1, instances: next, rejected, highs: nextHighs }, notifications: out };
}

/** The instances firing now, counted per (rule, severity), for metrics. */
export function firingCounts(state: EngineState): { rule: string; severity: Severity; count: number }[] {
  const counts = new Map<string, { rule: string; severity: Severity; count: number }>();
  for (const i of state.instances) {
    if (i.status !== 'firing') continue;
    const k = `${i.rule}\u0000${i.severity}`;
    const c = counts.get(k);
    if (c === undefined) counts.set(k, { rule: i.rule, severity: i.severity, count: 1 });
    else c.count++;
  }
  return [...counts.values()];
}

// ---- reading a stored state back ----

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const isMs = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v);
const isMsOrNull = (v: unknown): v is number | null => v === null || isMs(v);
const isTextOrNull = (v: unknown): v is string | null => v === null || typeof v === 'string';

/** One stored instance, or undefined when it is not one (the store's `state` column). */
export function readInstance(v: unknown): AlertInstance | undefined {
  if (!isObject(v)) return undefined;
  const { rule, kind, key, labels, severity, status, activeSinceMs, firedAtMs, lastSentMs, summary, value, threshold } = v;
  if (typeof rule !== 'string' || typeof key !== 'string' || typeof summary !== 'string') return undefined;
  if (!(RULE_KINDS as readonly unknown[]).includes(kind) || !(SEVERITIES as readonly unknown[]).includes(severity)) return undefined;
  if (status !== 'pending' && status !== 'firing') return undefined;
  if (!isObject(labels) || !Object.values(labels).every((x) => typeof x === 'string')) return undefined;
  if (!isMs(activeSinceMs) || !isMsOrNull(firedAtMs) || !isMsOrNull(lastSentMs) || !isTextOrNull(value) || !isTextOrNull(threshold)) return undefined;
  if (status === 'firing' && (firedAtMs === null || lastSentMs === null)) return undefined;
  return { rule, kind: kind as RuleKind, key, labels: labels as Record<string, string>, severity: severity as Severity, status, activeSinceMs, firedAtMs, lastSentMs, summary, value, threshold };
}

/**
 * A state from its stored parts: instances (one per row of utl_alerts) and the engine's memory
 * (rejection samples, day highs). Anything malformed is a corrupt store and throws: the engine
 * never guesses at what it had sent.
 */
export function readEngineState(instances: readonly unknown[], memory: unknown): EngineState {
  const list = instances.map((v, n) => {
    const i = readInstance(v);
    if (i === undefined) throw new Error(`stored alert state ${n} is malformed: ${JSON.stringify(v)}`);
    return i;
  });
  if (memory === undefined || memory === null) return { version: 1, instances: list.sort(byRuleKey), rejected: [], highs: [] };
  if (!isObject(memory) || !Array.isArray(memory.rejected) || !Array.isArray(memory.highs)) throw new Error(`stored alert engine memory is malformed: ${JSON.stringify(memory)}`);
  const rejected = memory.rejected.map((s: unknown) => {
    if (!isObject(s) || !isMs(s.ms) || !isMs(s.total)) throw new Error(`stored rejection sample is malformed: ${JSON.stringify(s)}`);
    return { ms: s.ms, total: s.total };
  });
  const highs = memory.highs.map((h: unknown) => {
    if (!isObject(h) || typeof h.rule !== 'string' || typeof h.book !== 'string' || !isMs(h.day) || typeof h.high !== 'string') throw new Error(`stored day high is malformed: ${JSON.stringify(h)}`);
    Dec.of(h.high);
    return { rule: h.rule, book: h.book, day: h.day, high: h.high };
  });
  return { version: 1, instances: list.sort(byRuleKey), rejected, highs };
}

/** The engine's memory beside the instances, as stored (utl_alert_engine). */
export function engineMemory(state: EngineState): { rejected: readonly RateSample[]; highs: readonly DayHigh[] } {
  return { rejected: state.rejected, highs: state.highs };
}
