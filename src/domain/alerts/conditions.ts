/**
 * What each rule kind sees in one `AlertFacts`: the instances whose condition holds now (keyed,
 * labelled, with a summary), and the keys the facts cannot decide (`unknown`: an unpriced break
 * or PnL, a lag nobody measured), which the engine holds as they are rather than resolve. Two
 * kinds need memory across evaluations, kept in the engine's state: `rejected_rate` (samples of
 * the counter) and `drawdown` (each book's high of the day).
 *
 * Money is compared with `Dec` only. A decimal in the facts that does not parse is a programmer
 * error (the application fills them from the report) and throws.
 */
import { Dec } from '../decimal.js';
import { formatDuration } from './duration.js';
import type { AlertFacts } from './facts.js';
import type { AlertRule } from './rules.js';

export interface Condition {
  /** Identifies the instance within its rule (break id, venue, asset, book, check; '' for one-instance rules). */
  readonly key: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly summary: string;
  /** The observed value (an amount, a count, a duration in ms), as text; null when none. */
  readonly value: string | null;
  /** The rule's threshold, as text. */
  readonly threshold: string | null;
}

export interface Observation {
  readonly active: readonly Condition[];
  /** Keys whose condition cannot be decided from these facts: held as they are. */
  readonly unknown: readonly string[];
}

/** A sample of the rejections counter. */
export interface RateSample {
  readonly ms: number;
  readonly total: number;
}

/** One book's high of the day for one drawdown rule; `day` counts days since the epoch from the rule's cut-off hour. */
export interface DayHigh {
  readonly rule: string;
  readonly book: string;
  readonly day: number;
  readonly high: string;
}

/** Most samples of the rejections counter kept (one per change of the counter): bounds the state. */
export const MAX_RATE_SAMPLES = 4_096;
const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;

/**
 * The counter's samples after `total` at `nowMs`: a sample only when the counter moved, all of
 * them dropped when it went down (a restart of whoever counts), none older than the last one
 * before `keepMs` ago (the baseline of the longest window).
 */
export function sampleRejected(samples: readonly RateSample[], nowMs: number, total: number, keepMs: number): RateSample[] {
  const last = samples[samples.length - 1];
  let out: RateSample[] = last !== undefined && total < last.total ? [] : [...samples];
  if (out.length === 0 || out[out.length - 1]!.total !== total) out.push({ ms: nowMs, total });
  let firstKept = 0;
  while (firstKept + 1 < out.length && out[firstKept + 1]!.ms <= nowMs - keepMs) firstKept++;
  if (firstKept > 0) out = out.slice(firstKept);
  if (out.length > MAX_RATE_SAMPLES) out = out.slice(out.length - MAX_RATE_SAMPLES);
  return out;
}

/** Rejections counted in the `windowMs` before `nowMs` (or since the first sample, when the samples are younger). */
export function rejectedInWindow(samples: readonly RateSample[], nowMs: number, windowMs: number): number {
  const last = samples[samples.length - 1];
  if (last === undefined) return 0;
  let base = samples[0]!;
  for (const s of samples) {
    if (s.ms <= nowMs - windowMs) base = s;
    else break;
  }
  return last.total - base.total;
}

/** The index of the day holding `nowMs` when days start at `startHour` UTC. */
export function dayIndex(nowMs: number, startHour: number): number {
  return Math.floor((nowMs - startHour * HOUR_MS) / DAY_MS);
}

const ZERO_LABELS: Readonly<Record<string, string>> = {};

export interface Memory {
  readonly rejected: readonly RateSample[];
  /** The highs, updated in place by drawdown rules during one evaluation. */
  readonly highs: Map<string, DayHigh>;
}

export function highKey(rule: string, book: string): string {
  return `${rule}\u0000${book}`;
}

/** What `rule` sees in `facts`. */
export function observe(rule: AlertRule, facts: AlertFacts, memory: Memory): Observation {
  const now = facts.nowMs;
  const active: Condition[] = [];
  const unknown: string[] = [];
  switch (rule.kind) {
    case 'break_age':
      for (const b of facts.breaks) {
        if (!(rule.statuses as readonly string[]).includes(b.status)) continue;
        const age = now - b.firstSeenMs;
        if (age > rule.olderThanMs) {
          active.push({
            key: b.id,
            labels: { break: b.id, venue: b.venue, account: b.account, asset: b.asset },
            summary: `break ${b.id} (${b.venue}/${b.account} ${b.asset}, diff ${b.diff}) ${b.status} for ${formatDuration(age)}, over ${formatDuration(rule.olderThanMs)}`,
            value: String(age),
            threshold: String(rule.olderThanMs),
          });
        }
      }
      break;
    case 'break_value':
      for (const b of facts.breaks) {
        if (!(rule.statuses as readonly string[]).includes(b.status)) continue;
        if (b.value === null) {
          unknown.push(b.id);
          continue;
        }
        const value = Dec.of(b.value).abs();
        if (value.gt(rule.above)) {
          active.push({
            key: b.id,
            labels: { break: b.id, venue: b.venue, account: b.account, asset: b.asset },
            summary: `break ${b.id} (${b.venue}/${b.account} ${b.asset}, diff ${b.diff}) worth ${value.toString()} ${facts.reporting}, over ${rule.above.toString()}`,
            value: value.toString(),
            threshold: rule.above.toString(),
          });
        }
      }
      break;
    case 'stale_source': {
      const last = new Map(facts.sources.map((s) => [s.venue, s.lastReportMs]));
      const venues = rule.venues ?? [...last.keys()].sort();
      for (const venue of venues) {
        const at = last.get(venue);
        const silent = at === undefined ? undefined : now - at;
        if (silent !== undefined && silent <= rule.silentForMs) continue;
        active.push({
          key: venue,
          labels: { venue },
          summary: silent === undefined ? `no balance report from ${venue} yet` : `no balance report from ${venue} for ${formatDuration(silent)}, over ${formatDuration(rule.silentForMs)}`,
          value: silent === undefined ? null : String(silent),
          threshold: String(rule.silentForMs),
        });
      }
      break;
    }
    case 'stale_mark':
      for (const m of facts.marks) {
        if (Dec.of(m.openQty).isZero()) continue;
        const age = m.lastMarkMs === null ? undefined : now - m.lastMarkMs;
        if (age !== undefined && age <= rule.olderThanMs) continue;
        active.push({
          key: m.asset,
          labels: { asset: m.asset },
          summary: age === undefined ? `${m.asset} (open ${m.openQty}) has never been marked` : `${m.asset} (open ${m.openQty}) last marked ${formatDuration(age)} ago, over ${formatDuration(rule.olderThanMs)}`,
          value: age === undefined ? null : String(age),
          threshold: String(rule.olderThanMs),
        });
      }
      break;
    case 'consumer_lag':
      if (facts.consumerLag === undefined) unknown.push('');
      else if (facts.consumerLag > rule.above) {
        active.push({ key: '', labels: ZERO_LABELS, summary: `consumer lag ${facts.consumerLag} messages, over ${rule.above}`, value: String(facts.consumerLag), threshold: String(rule.above) });
      }
      break;
    case 'rejected_rate': {
      const n = rejectedInWindow(memory.rejected, now, rule.windowMs);
      if (n > rule.above) {
        active.push({ key: '', labels: ZERO_LABELS, summary: `${n} events rejected in ${formatDuration(rule.windowMs)}, over ${rule.above}`, value: String(n), threshold: String(rule.above) });
      }
      break;
    }
    case 'exposure_limit': {
      const lines: { key: string; net: string; gross: string; held?: string }[] =
        rule.scope === 'asset'
          ? facts.exposure.byAsset.map((l) => ({ key: l.asset, net: l.net, gross: l.gross }))
          : rule.scope === 'venue'
            ? facts.exposure.byVenue.map((l) => ({ key: l.venue, net: l.net, gross: l.gross, held: l.held }))
            : rule.scope === 'book'
              ? facts.exposure.byBook.map((l) => ({ key: l.book, net: l.net, gross: l.gross }))
              : [{ key: 'firm', net: facts.exposure.firm.net, gross: facts.exposure.firm.gross }];
      for (const l of lines) {
        if (rule.key !== '*' && rule.scope !== 'firm' && l.key !== rule.key) continue;
        const text = rule.measure === 'net' ? l.net : rule.measure === 'gross' ? l.gross : l.held;
        if (text === undefined) continue;
        const value = Dec.of(text).abs();
        if (!value.gt(rule.limit)) continue;
        active.push({
          key: l.key,
          labels: rule.scope === 'firm' ? { scope: 'firm' } : { scope: rule.scope, [rule.scope]: l.key },
          summary: `${rule.measure} exposure of ${rule.scope === 'firm' ? 'the firm' : `${rule.scope} ${l.key}`} ${Dec.of(text).toString()} ${facts.reporting}, over ${rule.limit.toString()}`,
          value: Dec.of(text).toString(),
          threshold: rule.limit.toString(),
        });
      }
      break;
    }
    case 'drawdown': {
      const day = dayIndex(now, rule.dayStartHour);
      for (const p of facts.pnl) {
        if (rule.books !== undefined && !rule.books.includes(p.book)) continue;
        if (p.total === null) {
          unknown.push(p.book);
          continue;
        }
        const total = Dec.of(p.total);
        const hk = highKey(rule.name, p.book);
        const prior = memory.highs.get(hk);
        const high = prior === undefined || prior.day !== day ? total : Dec.of(prior.high).max(total);
        memory.highs.set(hk, { rule: rule.name, book: p.book, day, high: high.toString() });
        const drawdown = high.sub(total);
        if (drawdown.gt(rule.limit)) {
          active.push({
            key: p.book,
            labels: { book: p.book },
            summary: `book ${p.book} is ${drawdown.toString()} ${facts.reporting} below its high of the day (${high.toString()}), over ${rule.limit.toString()}`,
            value: drawdown.toString(),
            threshold: rule.limit.toString(),
          });
        }
      }
      break;
    }
    case 'check_failed':
      for (const c of facts.checks) {
        if (c.ok || (rule.checks !== undefined && !rule.checks.includes(c.name))) continue;
        active.push({ key: c.name, labels: { check: c.name }, summary: `check ${c.name} failed: ${c.detail}`, value: null, threshold: null });
      }
      break;
  }
  return { active, unknown };
}
