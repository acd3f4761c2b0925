/**
 * The shipped monitoring examples cannot drift from the code: every `utl_` metric an alert rule
 * (ops/prometheus/utl-alerts.rules.yml) or a dashboard query (ops/grafana/utl-dashboard.json)
 * names is one the service's registry exposes, and every metric the service defines is
 * documented in docs/api.md. The registry is the one a service gets (its metrics are all defined
 * when `ServiceMetrics` is constructed, process metrics included).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { exposedNames, parseExposition } from '../../../test/support/prometheus.js';
import { ServiceMetrics } from './metrics.js';

const ROOT = new URL('../../../', import.meta.url).pathname;
const read = (path: string): string => readFileSync(join(ROOT, path), 'utf8');

/** The `utl_…` names in a PromQL expression (label values such as job="utl" are not names). */
function metricNames(expr: string): string[] {
  return [...expr.matchAll(/\b(utl_[a-z0-9_]+)\b/g)].map((m) => m[1]!);
}

async function exposed(): Promise<Set<string>> {
  return exposedNames(parseExposition(await new ServiceMetrics().metrics()));
}

interface Rule {
  alert?: string;
  expr?: unknown;
  for?: unknown;
  labels?: Record<string, unknown>;
  annotations?: Record<string, unknown>;
}

describe('ops examples', () => {
  it('the alert rules parse, are well-formed, and name only metrics that exist', async () => {
    const doc = parse(read('ops/prometheus/utl-alerts.rules.yml')) as { groups: { name: string; rules: Rule[] }[] };
    const names = await exposed();
    const rules = doc.groups.flatMap((g) => g.rules);
    expect(rules.length).toBeGreaterThan(10);
    const alerts = new Set<string>();
    const referenced = new Set<string>();
    for (const r of rules) {
      expect(typeof r.alert, JSON.stringify(r)).toBe('string');
      expect(alerts.has(r.alert!), `${r.alert} twice`).toBe(false);
      alerts.add(r.alert!);
      expect(typeof r.expr, r.alert).toBe('string');
      if (r.for !== undefined) expect(r.for, r.alert).toMatch(/^\d+[smh]$/);
      expect(['critical', 'warning', '{{ $labels.severity }}'], r.alert).toContain(r.labels?.severity);
      expect(typeof r.annotations?.summary, r.alert).toBe('string');
      for (const n of metricNames(r.expr as string)) {
        referenced.add(n);
        expect(names.has(n), `${r.alert}: ${n} is not a metric of the service`).toBe(true);
      }
    }
    // What the brief asks to watch is watched.
    for (const a of ['UtlDown', 'UtlAbsent', 'UtlConsumerLagHigh', 'UtlRejectedRateHigh', 'UtlBreaksOlderThan24h', 'UtlAlertsFiring', 'UtlBookingLatencyP99High', 'UtlCommitErrors']) {
      expect(alerts.has(a), a).toBe(true);
    }
    expect(referenced.size).toBeGreaterThan(8);
  });

  it('the Grafana dashboard is importable JSON whose queries name only metrics that exist, on the DS_PROMETHEUS input', async () => {
    const dash = JSON.parse(read('ops/grafana/utl-dashboard.json')) as {
      __inputs: { name: string; type: string; pluginId: string }[];
      panels: { id: number; type: string; title: string; datasource?: { uid: string }; targets?: { expr: string }[] }[];
      templating: { list: { query: { query: string } }[] };
      schemaVersion: number;
      uid: string;
    };
    expect(dash.__inputs).toEqual([expect.objectContaining({ name: 'DS_PROMETHEUS', type: 'datasource', pluginId: 'prometheus' })]);
    expect(dash.schemaVersion).toBeGreaterThanOrEqual(36);
    const names = await exposed();
    const ids = new Set<number>();
    const exprs: string[] = dash.templating.list.map((v) => v.query.query);
    for (const p of dash.panels) {
      expect(ids.has(p.id), `panel id ${p.id} twice`).toBe(false);
      ids.add(p.id);
      if (p.type === 'row') continue;
      expect(p.datasource?.uid, p.title).toBe('${DS_PROMETHEUS}');
      expect(p.targets?.length ?? 0, p.title).toBeGreaterThan(0);
      exprs.push(...p.targets!.map((t) => t.expr));
    }
    const referenced = new Set(exprs.flatMap(metricNames));
    for (const n of referenced) expect(names.has(n), `dashboard: ${n} is not a metric of the service`).toBe(true);
    // Every metric of the service (not the process ones) has a panel.
    const own = [...(await exposed())].filter((n) => !/^utl_(process|nodejs)_/.test(n) && !/_(bucket|sum|count)$/.test(n));
    for (const n of own) expect([...referenced].some((r) => r === n || r.startsWith(`${n}_`)), `no panel shows ${n}`).toBe(true);
  });

  it('docs/api.md documents every metric of the service', async () => {
    const doc = read('docs/api.md');
    const own = [...(await exposed())].filter((n) => !/^utl_(process|nodejs)_/.test(n) && !/_(bucket|sum|count)$/.test(n));
    for (const n of own) expect(doc.includes(`\`${n}\``), `${n} is not in docs/api.md`).toBe(true);
  });
});
