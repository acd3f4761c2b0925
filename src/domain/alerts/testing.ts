/**
 * Builders for alert tests (engine, app, integration): facts with everything quiet, and rules
 * from their config form. Pure, so it may sit in the domain beside what it builds.
 */
import type { AlertFacts } from './facts.js';
import { validateAlertConfig, type AlertRule } from './rules.js';

/** Facts where nothing is wrong, at `nowMs`, with `over` replacing whole fields. */
export function quietFacts(nowMs: number, over: Partial<AlertFacts> = {}): AlertFacts {
  return {
    nowMs,
    reporting: 'USD',
    breaks: [],
    sources: [],
    marks: [],
    consumerLag: 0,
    rejectedTotal: 0,
    exposure: { byAsset: [], byVenue: [], byBook: [], firm: { net: '0', gross: '0' } },
    pnl: [],
    checks: [],
    ...over,
  };
}

/** Rules from their config form (as in the YAML file), the sinks they name declared; throws listing the problems. */
export function rulesOf(...raw: Record<string, unknown>[]): AlertRule[] {
  const named = new Set(raw.flatMap((x) => (Array.isArray(x.sinks) ? (x.sinks as unknown[]).filter((s): s is string => typeof s === 'string') : [])));
  const r = validateAlertConfig({ rules: raw, sinks: [...named].map((name) => ({ name, type: 'log' })) });
  if (!r.ok) throw new Error(r.problems.join('\n'));
  return [...r.config.rules];
}
