/**
 * The alert configuration as data: rules (what to watch), sinks (where notifications go) and
 * defaults, and `validateAlertConfig`, which turns a parsed YAML/JSON document into that data or
 * into every problem found, each with its path (`rules[2].older_than: expected a duration …`).
 * Pure: the file is read and parsed by the application (src/app/alert-config.ts).
 *
 * Thresholds in money are `Dec`, read from strings (a YAML/JSON number is accepted only when it is
 * a safe integer, so nothing passes through a binary float); counts are integers; durations are
 * whole milliseconds.
 */
import { Dec, parseDecimal } from '../decimal.js';
import { MAX_DURATION_MS, parseDuration } from './duration.js';

export const SEVERITIES = ['info', 'warning', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];
export const RULE_KINDS = ['break_age', 'break_value', 'stale_source', 'stale_mark', 'consumer_lag', 'rejected_rate', 'exposure_limit', 'drawdown', 'check_failed'] as const;
export type RuleKind = (typeof RULE_KINDS)[number];
export const EXPOSURE_SCOPES = ['asset', 'venue', 'book', 'firm'] as const;
export const EXPOSURE_MEASURES = ['net', 'gross', 'held'] as const;
export const OPEN_BREAK_STATUSES = ['open', 'acknowledged'] as const;

/** What every rule has. `forMs`: how long the condition must hold before firing; `repeatMs`: 0 never repeats. */
interface RuleBase {
  readonly name: string;
  readonly severity: Severity;
  readonly forMs: number;
  readonly repeatMs: number;
  /** The sinks this rule notifies (names); undefined: every sink. */
  readonly sinks: readonly string[] | undefined;
}

/** What one kind of rule adds to the common fields. */
export type RuleSpec =
    | { readonly kind: 'break_age'; readonly olderThanMs: number; readonly statuses: readonly ('open' | 'acknowledged')[] }
    | { readonly kind: 'break_value'; readonly above: Dec; readonly statuses: readonly ('open' | 'acknowledged')[] }
    | { readonly kind: 'stale_source'; readonly silentForMs: number; readonly venues: readonly string[] | undefined }
    | { readonly kind: 'stale_mark'; readonly olderThanMs: number }
    | { readonly kind: 'consumer_lag'; readonly above: number }
    | { readonly kind: 'rejected_rate'; readonly above: number; readonly windowMs: number }
    | { readonly kind: 'exposure_limit'; readonly scope: (typeof EXPOSURE_SCOPES)[number]; readonly key: string; readonly measure: (typeof EXPOSURE_MEASURES)[number]; readonly limit: Dec }
    | { readonly kind: 'drawdown'; readonly limit: Dec; readonly dayStartHour: number; readonly books: readonly string[] | undefined }
    | { readonly kind: 'check_failed'; readonly checks: readonly string[] | undefined };

export type AlertRule = RuleBase & RuleSpec;

export type SinkConfig =
  | { readonly type: 'webhook'; readonly name: string; readonly minSeverity: Severity; readonly url: string; readonly headers: Readonly<Record<string, string>>; readonly timeoutMs: number; readonly retries: number }
  | { readonly type: 'nats'; readonly name: string; readonly minSeverity: Severity; readonly subject: string }
  | { readonly type: 'log'; readonly name: string; readonly minSeverity: Severity };

export interface AlertConfig {
  /** How often the application evaluates the rules. */
  readonly evaluateEveryMs: number;
  readonly rules: readonly AlertRule[];
  readonly sinks: readonly SinkConfig[];
}

export const DEFAULT_REPEAT_MS = 4 * 3_600_000;
export const DEFAULT_EVALUATE_EVERY_MS = 5_000;
export const DEFAULT_NATS_SUBJECT = 'utl.alerts';
export const DEFAULT_WEBHOOK_TIMEOUT_MS = 5_000;
export const DEFAULT_WEBHOOK_RETRIES = 3;
/** Upper bounds that keep one evaluation and one notification small. */
export const MAX_RULES = 200;
export const MAX_SINKS = 20;
export const MAX_WEBHOOK_RETRIES = 10;

export function severityRank(s: Severity): number {
  return SEVERITIES.indexOf(s);
}

/** The fields each kind takes beyond the common ones (`name`, `kind`, `severity`, `for`, `for_ms`, `repeat`, `repeat_ms`, `sinks`). */
const KIND_FIELDS: Record<RuleKind, readonly string[]> = {
  break_age: ['older_than', 'older_than_ms', 'statuses'],
  break_value: ['above', 'statuses'],
  stale_source: ['silent_for', 'silent_for_ms', 'venues'],
  stale_mark: ['older_than', 'older_than_ms'],
  consumer_lag: ['above'],
  rejected_rate: ['above', 'window', 'window_ms'],
  exposure_limit: ['scope', 'key', 'measure', 'limit'],
  drawdown: ['limit', 'day_start_hour', 'books'],
  check_failed: ['checks'],
};
const COMMON_RULE_FIELDS = ['name', 'kind', 'severity', 'for', 'for_ms', 'repeat', 'repeat_ms', 'sinks'];
const SINK_FIELDS: Record<SinkConfig['type'], readonly string[]> = {
  webhook: ['url', 'headers', 'timeout', 'timeout_ms', 'retries'],
  nats: ['subject'],
  log: [],
};
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$/;
const SUBJECT = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const show = (v: unknown): string => (v === undefined ? 'nothing' : JSON.stringify(v));

/** Collects problems with their paths while reading one document. */
class Reader {
  readonly problems: string[] = [];

  problem(path: string, message: string): undefined {
    this.problems.push(`${path}: ${message}`);
    return undefined;
  }

  unknownFields(obj: Record<string, unknown>, allowed: readonly string[], path: string): void {
    for (const k of Object.keys(obj)) if (!allowed.includes(k)) this.problem(`${path}.${k}`, `unknown field (expected one of ${allowed.join(', ')})`);
  }

  string(v: unknown, path: string, re?: RegExp, what = 'a name'): string | undefined {
    if (typeof v !== 'string' || v === '' || (re !== undefined && !re.test(v))) return this.problem(path, `expected ${what}, got ${show(v)}`);
    return v;
  }

  choice<T extends string>(v: unknown, choices: readonly T[], path: string): T | undefined {
    if (typeof v !== 'string' || !(choices as readonly string[]).includes(v)) return this.problem(path, `expected one of ${choices.join(', ')}, got ${show(v)}`);
    return v as T;
  }

  /** A whole number in [min, max], from a number or its decimal text (YAML read as strings). */
  integer(v: unknown, path: string, min: number, max: number): number | undefined {
    const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d{1,15}$/.test(v) ? Number(v) : NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) return this.problem(path, `expected a whole number from ${min} to ${max}, got ${show(v)}`);
    return n;
  }

  /** A non-negative decimal from its text, or from a safe integer (never from a binary float). */
  decimal(v: unknown, path: string): Dec | undefined {
    const d = typeof v === 'string' ? parseDecimal(v) : typeof v === 'number' && Number.isSafeInteger(v) ? Dec.int(v) : undefined;
    if (d === undefined) {
      const hint = typeof v === 'number' ? ' (write a fractional amount as a string, e.g. "0.5")' : '';
      return this.problem(path, `expected a decimal amount${hint}, got ${show(v)}`);
    }
    if (d.isNeg()) return this.problem(path, `expected an amount of at least 0, got ${show(v)}`);
    return d;
  }

  /**
   * A duration from `<field>` (text like `15m`) or `<field>_ms` (whole milliseconds); one of them
   * at most. `fallback` when neither is given (undefined: required).
   */
  duration(obj: Record<string, unknown>, field: string, path: string, fallback: number | undefined): number | undefined {
    const text = obj[field];
    const ms = obj[`${field}_ms`];
    if (text !== undefined && ms !== undefined) return this.problem(`${path}.${field}`, `give ${field} or ${field}_ms, not both`);
    if (ms !== undefined) return this.integer(ms, `${path}.${field}_ms`, 0, MAX_DURATION_MS);
    if (text === undefined) return fallback === undefined ? this.problem(`${path}.${field}`, 'required (a duration like 30s, 15m, 24h)') : fallback;
    const parsed = typeof text === 'string' ? parseDuration(text) : undefined;
    if (parsed === undefined) return this.problem(`${path}.${field}`, `expected a duration like 30s, 15m, 24h (at most 366d), got ${show(text)}`);
    return parsed;
  }

  /** A list of names; undefined when absent. */
  names(v: unknown, path: string): string[] | undefined {
    if (v === undefined) return undefined;
    if (!Array.isArray(v) || v.length === 0) return this.problem(path, `expected a non-empty list of names, got ${show(v)}`);
    const out: string[] = [];
    v.forEach((x, i) => {
      const s = this.string(x, `${path}[${i}]`, NAME);
      if (s !== undefined) out.push(s);
    });
    return out;
  }
}

/** The alert configuration in a parsed document, or every problem found in it. */
export function validateAlertConfig(doc: unknown): { ok: true; config: AlertConfig } | { ok: false; problems: string[] } {
  const r = new Reader();
  if (!isObject(doc)) return { ok: false, problems: ['expected a mapping with rules, sinks and (optionally) defaults, evaluate_every'] };
  r.unknownFields(doc, ['defaults', 'evaluate_every', 'evaluate_every_ms', 'sinks', 'rules'], '(top)');
  const evaluateEveryMs = r.duration(doc, 'evaluate_every', '(top)', DEFAULT_EVALUATE_EVERY_MS);
  if (evaluateEveryMs === 0) r.problem('(top).evaluate_every', 'expected a duration above 0');
  let defaultFor = 0;
  let defaultRepeat = DEFAULT_REPEAT_MS;
  if (doc.defaults !== undefined) {
    if (!isObject(doc.defaults)) r.problem('defaults', `expected a mapping (for, repeat), got ${show(doc.defaults)}`);
    else {
      r.unknownFields(doc.defaults, ['for', 'for_ms', 'repeat', 'repeat_ms'], 'defaults');
      defaultFor = r.duration(doc.defaults, 'for', 'defaults', 0) ?? 0;
      defaultRepeat = r.duration(doc.defaults, 'repeat', 'defaults', DEFAULT_REPEAT_MS) ?? DEFAULT_REPEAT_MS;
    }
  }
  const sinks = readSinks(r, doc.sinks);
  const sinkNames = new Set(sinks.map((s) => s.name));
  const rules: AlertRule[] = [];
  if (!Array.isArray(doc.rules)) r.problem('rules', `expected a list of rules, got ${show(doc.rules)}`);
  else if (doc.rules.length > MAX_RULES) r.problem('rules', `at most ${MAX_RULES} rules, got ${doc.rules.length}`);
  else {
    const seen = new Set<string>();
    doc.rules.forEach((raw, i) => {
      const rule = readRule(r, raw, `rules[${i}]`, { forMs: defaultFor, repeatMs: defaultRepeat, sinkNames });
      if (rule === undefined) return;
      if (seen.has(rule.name)) r.problem(`rules[${i}].name`, `${JSON.stringify(rule.name)} is already the name of another rule`);
      seen.add(rule.name);
      rules.push(rule);
    });
  }
  if (r.problems.length > 0) return { ok: false, problems: r.problems };
  return { ok: true, config: { evaluateEveryMs: evaluateEveryMs ?? DEFAULT_EVALUATE_EVERY_MS, rules, sinks } };
}

function readSinks(r: Reader, raw: unknown): SinkConfig[] {
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) return r.problem('sinks', `expected a list of sinks, got ${show(raw)}`) ?? [];
  if (raw.length > MAX_SINKS) return r.problem('sinks', `at most ${MAX_SINKS} sinks, got ${raw.length}`) ?? [];
  const out: SinkConfig[] = [];
  const seen = new Set<string>();
  raw.forEach((s, i) => {
    const path = `sinks[${i}]`;
    if (!isObject(s)) return r.problem(path, `expected a mapping with name and type, got ${show(s)}`);
    const type = r.choice(s.type, ['webhook', 'nats', 'log'] as const, `${path}.type`);
    const name = r.string(s.name, `${path}.name`, NAME);
    const minSeverity = s.min_severity === undefined ? 'info' : r.choice(s.min_severity, SEVERITIES, `${path}.min_severity`);
    if (type === undefined) return;
    r.unknownFields(s, ['name', 'type', 'min_severity', ...SINK_FIELDS[type]], path);
    if (name !== undefined && seen.has(name)) r.problem(`${path}.name`, `${JSON.stringify(name)} is already the name of another sink`);
    if (name !== undefined) seen.add(name);
    if (name === undefined || minSeverity === undefined) return;
    if (type === 'log') out.push({ type, name, minSeverity });
    else if (type === 'nats') {
      const subject = s.subject === undefined ? DEFAULT_NATS_SUBJECT : r.string(s.subject, `${path}.subject`, SUBJECT, 'a NATS subject without wildcards');
      if (subject !== undefined) out.push({ type, name, minSeverity, subject });
    } else {
      const url = r.string(s.url, `${path}.url`, /^https?:\/\/\S+$/, 'an http(s) URL');
      const headers: Record<string, string> = {};
      if (s.headers !== undefined) {
        if (!isObject(s.headers)) r.problem(`${path}.headers`, `expected a mapping of header names to text, got ${show(s.headers)}`);
        else {
          for (const [h, v] of Object.entries(s.headers)) {
            if (!/^[A-Za-z0-9-]+$/.test(h)) r.problem(`${path}.headers.${h}`, 'not a header name');
            else if (typeof v !== 'string') r.problem(`${path}.headers.${h}`, `expected text, got ${show(v)}`);
            else headers[h] = v;
          }
        }
      }
      const timeoutMs = r.duration(s, 'timeout', path, DEFAULT_WEBHOOK_TIMEOUT_MS);
      if (timeoutMs === 0) r.problem(`${path}.timeout`, 'expected a duration above 0');
      const retries = s.retries === undefined ? DEFAULT_WEBHOOK_RETRIES : r.integer(s.retries, `${path}.retries`, 0, MAX_WEBHOOK_RETRIES);
      if (url !== undefined && timeoutMs !== undefined && retries !== undefined) out.push({ type, name, minSeverity, url, headers, timeoutMs, retries });
    }
    return;
  });
  return out;
}

function readRule(r: Reader, raw: unknown, path: string, defaults: { forMs: number; repeatMs: number; sinkNames: ReadonlySet<string> }): AlertRule | undefined {
  if (!isObject(raw)) return r.problem(path, `expected a mapping with name, kind and severity, got ${show(raw)}`);
  const kind = r.choice(raw.kind, RULE_KINDS, `${path}.kind`);
  const name = r.string(raw.name, `${path}.name`, NAME);
  const severity = r.choice(raw.severity, SEVERITIES, `${path}.severity`);
  if (kind !== undefined) r.unknownFields(raw, [...COMMON_RULE_FIELDS, ...KIND_FIELDS[kind]], path);
  const forMs = r.duration(raw, 'for', path, defaults.forMs);
  const repeatMs = r.duration(raw, 'repeat', path, defaults.repeatMs);
  const sinks = r.names(raw.sinks, `${path}.sinks`);
  sinks?.forEach((s, j) => {
    if (!defaults.sinkNames.has(s)) r.problem(`${path}.sinks[${j}]`, `no sink is named ${JSON.stringify(s)}`);
  });
  const before = r.problems.length;
  if (kind === undefined || name === undefined || severity === undefined || forMs === undefined || repeatMs === undefined) {
    if (kind !== undefined) readKind(r, raw, path, kind); // report the kind's problems too
    return undefined;
  }
  const specific = readKind(r, raw, path, kind);
  if (specific === undefined || r.problems.length > before) return undefined;
  return { name, severity, forMs, repeatMs, sinks, ...specific };
}

function statuses(r: Reader, v: unknown, path: string): ('open' | 'acknowledged')[] | undefined {
  if (v === undefined) return [...OPEN_BREAK_STATUSES];
  if (!Array.isArray(v) || v.length === 0) return r.problem(path, `expected a non-empty list of open, acknowledged, got ${show(v)}`);
  const out: ('open' | 'acknowledged')[] = [];
  v.forEach((x, i) => {
    const s = r.choice(x, OPEN_BREAK_STATUSES, `${path}[${i}]`);
    if (s !== undefined) out.push(s);
  });
  return out;
}

function readKind(r: Reader, o: Record<string, unknown>, path: string, kind: RuleKind): RuleSpec | undefined {
  switch (kind) {
    case 'break_age': {
      const olderThanMs = r.duration(o, 'older_than', path, undefined);
      const st = statuses(r, o.statuses, `${path}.statuses`);
      return olderThanMs === undefined || st === undefined ? undefined : { kind, olderThanMs, statuses: st };
    }
    case 'break_value': {
      const above = r.decimal(o.above, `${path}.above`);
      const st = statuses(r, o.statuses, `${path}.statuses`);
      return above === undefined || st === undefined ? undefined : { kind, above, statuses: st };
    }
    case 'stale_source': {
      const silentForMs = r.duration(o, 'silent_for', path, undefined);
      const venues = r.names(o.venues, `${path}.venues`);
      return silentForMs === undefined ? undefined : { kind, silentForMs, venues };
    }
    case 'stale_mark': {
      const olderThanMs = r.duration(o, 'older_than', path, undefined);
      return olderThanMs === undefined ? undefined : { kind, olderThanMs };
    }
    case 'consumer_lag': {
      const above = r.integer(o.above, `${path}.above`, 0, Number.MAX_SAFE_INTEGER);
      return above === undefined ? undefined : { kind, above };
    }
    case 'rejected_rate': {
      const above = r.integer(o.above, `${path}.above`, 0, Number.MAX_SAFE_INTEGER);
      const windowMs = r.duration(o, 'window', path, undefined);
      if (windowMs === 0) return r.problem(`${path}.window`, 'expected a duration above 0');
      return above === undefined || windowMs === undefined ? undefined : { kind, above, windowMs };
    }
    case 'exposure_limit': {
      const scope = r.choice(o.scope, EXPOSURE_SCOPES, `${path}.scope`);
      const measure = o.measure === undefined ? 'gross' : r.choice(o.measure, EXPOSURE_MEASURES, `${path}.measure`);
      const key = o.key === undefined ? '*' : r.string(o.key, `${path}.key`, /^(\*|[A-Za-z0-9][A-Za-z0-9_.:/-]{0,99})$/, 'a name or *');
      const limit = r.decimal(o.limit, `${path}.limit`);
      if (measure === 'held' && scope !== undefined && scope !== 'venue') return r.problem(`${path}.measure`, 'held is measured per venue only (scope: venue)');
      if (scope === 'firm' && o.key !== undefined && o.key !== '*') return r.problem(`${path}.key`, 'the firm scope has no key');
      return scope === undefined || measure === undefined || key === undefined || limit === undefined ? undefined : { kind, scope, key, measure, limit };
    }
    case 'drawdown': {
      const limit = r.decimal(o.limit, `${path}.limit`);
      const dayStartHour = o.day_start_hour === undefined ? 0 : r.integer(o.day_start_hour, `${path}.day_start_hour`, 0, 23);
      const books = r.names(o.books, `${path}.books`);
      return limit === undefined || dayStartHour === undefined ? undefined : { kind, limit, dayStartHour, books };
    }
    case 'check_failed':
      return { kind, checks: r.names(o.checks, `${path}.checks`) };
  }
}
