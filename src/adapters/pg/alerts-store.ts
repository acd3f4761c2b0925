/**
 * The alerts' store in PostgreSQL (server or PGlite), tables of migration 3:
 * - `utl_alerts`: one row per instance (rule, key) with its status and the engine's copy of it
 *   (`state`), which a restart restores; a resolved row stays until the instance fires again;
 * - `utl_alert_events`: every notification decided, with the payload the sinks received, paged
 *   newest first by id;
 * - `utl_alert_engine`: the engine's memory beside its instances (one row).
 *
 * `save` writes one evaluation's changes in one transaction, so the stored state and its history
 * never disagree. Times are epoch milliseconds (bigint); amounts only ever as text in JSON.
 */
import type { AlertStore, AlertChange, AlertHistoryItem, StoredAlert } from '../../app/alerting.js';
import type { Sql } from '../../app/ports.js';
import { formatTimestamp } from '../../domain/time.js';
import type { AlertDocument } from '../../domain/alerts/payload.js';
import type { Severity } from '../../domain/alerts/rules.js';

/** Most history rows one page returns. */
export const MAX_HISTORY_PAGE = 1_000;

interface AlertRow {
  rule: string;
  key: string;
  labels: string;
  severity: Severity;
  status: 'pending' | 'firing' | 'resolved';
  active_since_ms: string;
  first_fired_ms: string | null;
  last_sent_ms: string | null;
  resolved_at_ms: string | null;
  summary: string;
}

const msOrNull = (v: string | null): number | null => (v === null ? null : Number(v));
const iso = (ms: number): string => formatTimestamp(ms * 1000);

export class PgAlertStore implements AlertStore {
  constructor(readonly sql: Sql) {}

  async load(): Promise<{ instances: unknown[]; memory: unknown }> {
    const { rows } = await this.sql.query<{ state: string }>(`SELECT state::text AS state FROM utl_alerts WHERE status IN ('pending', 'firing') AND state IS NOT NULL ORDER BY rule, key`);
    const mem = await this.sql.query<{ memory: string }>('SELECT memory::text AS memory FROM utl_alert_engine WHERE id = 1');
    return { instances: rows.map((r) => JSON.parse(r.state) as unknown), memory: mem.rows[0] === undefined ? null : (JSON.parse(mem.rows[0].memory) as unknown) };
  }

  async save(change: AlertChange): Promise<void> {
    await this.sql.transaction(async (tx) => {
      if (change.upserts.length > 0) {
        const rows = change.upserts.map((i) => ({
          rule: i.rule,
          key: i.key,
          labels: i.labels,
          severity: i.severity,
          status: i.status,
          active_since_ms: i.activeSinceMs,
          first_fired_ms: i.firedAtMs,
          last_sent_ms: i.lastSentMs,
          summary: i.summary,
          state: i,
        }));
        await tx.query(
          `INSERT INTO utl_alerts (rule, key, labels, severity, status, active_since_ms, first_fired_ms, last_sent_ms, resolved_at_ms, summary, state)
           SELECT rule, key, labels, severity, status, active_since_ms, first_fired_ms, last_sent_ms, NULL, summary, state
           FROM jsonb_to_recordset($1::jsonb) AS x(rule text, key text, labels jsonb, severity text, status text, active_since_ms bigint, first_fired_ms bigint, last_sent_ms bigint, summary text, state jsonb)
           ON CONFLICT (rule, key) DO UPDATE SET labels = EXCLUDED.labels, severity = EXCLUDED.severity, status = EXCLUDED.status,
             active_since_ms = EXCLUDED.active_since_ms, first_fired_ms = EXCLUDED.first_fired_ms, last_sent_ms = EXCLUDED.last_sent_ms,
             resolved_at_ms = NULL, summary = EXCLUDED.summary, state = EXCLUDED.state, updated_at = now()`,
          [JSON.stringify(rows)],
        );
      }
      if (change.resolved.length > 0) {
        await tx.query(
          `UPDATE utl_alerts a SET status = 'resolved', resolved_at_ms = x.at_ms, last_sent_ms = x.at_ms, state = NULL, updated_at = now()
           FROM jsonb_to_recordset($1::jsonb) AS x(rule text, key text, at_ms bigint) WHERE a.rule = x.rule AND a.key = x.key`,
          [JSON.stringify(change.resolved.map((r) => ({ rule: r.rule, key: r.key, at_ms: r.atMs })))],
        );
      }
      if (change.dropped.length > 0) {
        await tx.query(
          `DELETE FROM utl_alerts a USING jsonb_to_recordset($1::jsonb) AS x(rule text, key text) WHERE a.rule = x.rule AND a.key = x.key AND a.status = 'pending'`,
          [JSON.stringify(change.dropped)],
        );
      }
      if (change.events.length > 0) {
        await tx.query(
          `INSERT INTO utl_alert_events (at_ms, rule, key, kind, severity, payload)
           SELECT (e->>'at_ms')::bigint, e->>'rule', e->>'key', e->>'kind', e->>'severity', e->'payload'
           FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS x(e, n) ORDER BY n`,
          [JSON.stringify(change.events.map((e) => ({ at_ms: e.atMs, rule: e.rule, key: e.key, kind: e.kind, severity: e.severity, payload: e })))],
        );
      }
      await tx.query(
        `INSERT INTO utl_alert_engine (id, memory) VALUES (1, $1::jsonb) ON CONFLICT (id) DO UPDATE SET memory = EXCLUDED.memory, updated_at = now()`,
        [JSON.stringify(change.memory)],
      );
    });
  }

  /** The alerts pending or firing, as stored (newest first). */
  async listActive(): Promise<StoredAlert[]> {
    const { rows } = await this.sql.query<AlertRow>(
      `SELECT rule, key, labels::text AS labels, severity, status, active_since_ms::text, first_fired_ms::text, last_sent_ms::text, resolved_at_ms::text, summary
       FROM utl_alerts a WHERE status <> 'resolved' ORDER BY a.active_since_ms DESC, rule, key`,
    );
    return rows.map((r) => ({
      rule: r.rule,
      key: r.key,
      labels: JSON.parse(r.labels) as Record<string, string>,
      severity: r.severity,
      status: r.status as 'pending' | 'firing',
      activeSinceMs: Number(r.active_since_ms),
      firedAtMs: msOrNull(r.first_fired_ms),
      lastSentMs: msOrNull(r.last_sent_ms),
      summary: r.summary,
    }));
  }

  /** Notifications newest first: at most `limit`, with ids below `beforeId` when given; `next` pages on. */
  async history(opts: { limit: number; beforeId?: string | undefined }): Promise<{ items: AlertHistoryItem[]; next: string | null }> {
    const limit = Math.min(Math.max(1, Math.floor(opts.limit)), MAX_HISTORY_PAGE);
    const { rows } = await this.sql.query<{ id: string; at_ms: string; payload: string }>(
      `SELECT id::text, at_ms::text, payload::text AS payload FROM utl_alert_events a WHERE ($1::bigint IS NULL OR a.id < $1::bigint) ORDER BY a.id DESC LIMIT $2`,
      [opts.beforeId ?? null, limit],
    );
    const items = rows.map((r) => ({ id: r.id, at: iso(Number(r.at_ms)), alert: JSON.parse(r.payload) as AlertDocument }));
    return { items, next: items.length === limit ? items[items.length - 1]!.id : null };
  }
}
