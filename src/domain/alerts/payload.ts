/**
 * What a notification looks like outside: `alertDocument` (the structured alert, stable field
 * names, times as ISO-8601 UTC and epoch ms) and `slackPayload` (a Slack-compatible webhook body:
 * `text` and `attachments` for chat tools, the structured alert under `utl` for machines).
 */
import { formatTimestamp } from '../time.js';
import type { AlertNotification } from './engine.js';
import type { Severity } from './rules.js';

export interface AlertDocument {
  readonly kind: AlertNotification['kind'];
  readonly rule: string;
  readonly ruleKind: string;
  readonly key: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly severity: Severity;
  readonly summary: string;
  readonly value: string | null;
  readonly threshold: string | null;
  readonly at: string;
  readonly atMs: number;
  readonly activeSince: string;
  readonly firedAt: string;
  readonly resolvedAt: string | null;
}

const iso = (ms: number): string => formatTimestamp(ms * 1000);

export function alertDocument(n: AlertNotification): AlertDocument {
  return {
    kind: n.kind,
    rule: n.rule,
    ruleKind: n.ruleKind,
    key: n.key,
    labels: n.labels,
    severity: n.severity,
    summary: n.summary,
    value: n.value,
    threshold: n.threshold,
    at: iso(n.atMs),
    atMs: n.atMs,
    activeSince: iso(n.activeSinceMs),
    firedAt: iso(n.firedAtMs),
    resolvedAt: n.resolvedAtMs === null ? null : iso(n.resolvedAtMs),
  };
}

const COLOR: Record<Severity, string> = { info: '#439fe0', warning: '#f2c744', critical: '#d40e0d' };
const RESOLVED_COLOR = '#2eb886';

/** One line for people: `[FIRING] critical old-breaks: break b7 … open for 26h, over 24h`. */
export function alertText(n: AlertNotification): string {
  const tag = n.kind === 'resolved' ? 'RESOLVED' : n.kind === 'repeat' ? 'STILL FIRING' : 'FIRING';
  return `[${tag}] ${n.severity} ${n.rule}: ${n.summary}`;
}

export function slackPayload(n: AlertNotification): { text: string; attachments: unknown[]; utl: AlertDocument } {
  const doc = alertDocument(n);
  const fields = [
    { title: 'rule', value: `${n.rule} (${n.ruleKind})`, short: true },
    { title: 'severity', value: n.severity, short: true },
    ...Object.entries(n.labels).map(([k, v]) => ({ title: k, value: v, short: true })),
    ...(n.value === null ? [] : [{ title: 'value', value: n.value, short: true }]),
    ...(n.threshold === null ? [] : [{ title: 'threshold', value: n.threshold, short: true }]),
    { title: 'firing since', value: doc.firedAt, short: true },
  ];
  return {
    text: alertText(n),
    attachments: [
      {
        color: n.kind === 'resolved' ? RESOLVED_COLOR : COLOR[n.severity],
        fallback: alertText(n),
        title: `${n.kind === 'resolved' ? 'Resolved' : 'Firing'}: ${n.rule}`,
        text: n.summary,
        fields,
        ts: Math.floor(n.atMs / 1000),
      },
    ],
    utl: doc,
  };
}
