/**
 * Reconciliation's rows in PostgreSQL: breaks (one row each, the document as jsonb), the cells'
 * last reports, the audit trail of what people did to breaks, and the reads reconciliation
 * makes of the event log (booked trades, deposits and withdrawals of a period, corrected).
 */
import type { Sql } from '../../app/ports.js';
import type { BalanceEvent, LedgerEvent, TsUs } from '../../domain/events.js';
import type { InstrumentRegistry } from '../../domain/instrument.js';
import type { Break, ReconSnapshot } from '../../domain/recon/breaks.js';
import type { CheckResult } from '../../domain/recon/checks.js';
import { effectiveEvents } from '../../domain/recon/trades.js';
import { formatTimestamp } from '../../domain/time.js';
import { decodeStored } from './store.js';

type CellState = ReconSnapshot['cells'][number][1];

export interface AuditEntry {
  readonly id: string;
  readonly at: string;
  readonly actor: string;
  readonly action: string;
  readonly target: string;
  readonly detail: unknown;
}

export class ReconStore {
  constructor(
    private readonly sql: Sql,
    private readonly instruments: () => InstrumentRegistry,
  ) {}

  async saveBreaks(breaks: readonly Break[]): Promise<void> {
    if (breaks.length === 0) return;
    await this.sql.query(
      `INSERT INTO utl_breaks (id, venue, account, asset, book, status, first_seen_ms, updated_ms, doc)
       SELECT id, venue, account, asset, book, status, first_seen_ms, updated_ms, doc::jsonb
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[], $8::bigint[], $9::text[])
         AS t(id, venue, account, asset, book, status, first_seen_ms, updated_ms, doc)
       ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, updated_ms = EXCLUDED.updated_ms, doc = EXCLUDED.doc`,
      [
        breaks.map((b) => b.id),
        breaks.map((b) => b.venue),
        breaks.map((b) => b.account),
        breaks.map((b) => b.asset),
        breaks.map((b) => b.book),
        breaks.map((b) => b.status),
        breaks.map((b) => String(b.firstSeenMs)),
        breaks.map((b) => String(b.updatedMs)),
        breaks.map((b) => JSON.stringify(b)),
      ],
    );
  }

  async saveCells(cells: readonly { key: string; state: CellState; report: BalanceEvent }[]): Promise<void> {
    if (cells.length === 0) return;
    await this.sql.query(
      `INSERT INTO utl_recon_cells (key, state, report) SELECT key, state::jsonb, report FROM unnest($1::text[], $2::text[], $3::text[]) AS t(key, state, report)
       ON CONFLICT (key) DO UPDATE SET state = EXCLUDED.state, report = EXCLUDED.report`,
      [cells.map((c) => c.key), cells.map((c) => JSON.stringify(c.state)), cells.map((c) => c.report.id)],
    );
  }

  /** Every break and cell (the cells' reports by id: the caller loads them from the log). */
  async load(): Promise<{ breaks: Break[]; cells: { key: string; state: CellState; report: string }[] }> {
    const b = await this.sql.query<{ doc: string }>('SELECT doc::text AS doc FROM utl_breaks ORDER BY id');
    const c = await this.sql.query<{ key: string; state: string; report: string }>('SELECT key, state::text AS state, report FROM utl_recon_cells ORDER BY key');
    return {
      breaks: b.rows.map((r) => JSON.parse(r.doc) as Break),
      cells: c.rows.map((r) => ({ key: r.key, state: JSON.parse(r.state) as CellState, report: r.report })),
    };
  }

  /**
   * Every event committed is accounted for, over the seqs `(from, lastSeq]`: each event of the log
   * there has its idempotency key (the same id and seq), no seq is logged twice, and nothing
   * committed more than `graceSeconds` ago is still waiting to be booked (seq beyond `lastSeq`).
   * With `from` 0, the whole log, and also as many keys as events (no key without its row).
   * The range reads go by the log's BRIN index on seq, so a run costs what came since the last.
   */
  async accounted(from: number, lastSeq: number, graceSeconds: number): Promise<CheckResult> {
    const { rows } = await this.sql.query<{ events: string; unkeyed: string; doubled: string; keys: string | null; waiting: string }>(
      `SELECT (SELECT count(*) FROM utl_events WHERE seq > $1 AND seq <= $2) AS events,
              (SELECT count(*) FROM utl_events e WHERE e.seq > $1 AND e.seq <= $2
                 AND NOT EXISTS (SELECT 1 FROM utl_event_keys k WHERE k.id = e.id AND k.seq = e.seq)) AS unkeyed,
              (SELECT count(*) FROM (SELECT seq FROM utl_events WHERE seq > $1 AND seq <= $2 GROUP BY seq HAVING count(*) > 1) d) AS doubled,
              CASE WHEN $1 = 0 THEN (SELECT count(*) FROM utl_event_keys WHERE seq <= $2) END AS keys,
              (SELECT count(*) FROM utl_events WHERE seq > $2 AND received_at < now() - make_interval(secs => $3)) AS waiting`,
      [from, lastSeq, graceSeconds],
    );
    const r = rows[0]!;
    const range = from === 0 ? `up to seq ${lastSeq}` : `in seqs ${from + 1}..${lastSeq}`;
    const failures: string[] = [];
    if (r.unkeyed !== '0') failures.push(`${r.unkeyed} logged events ${range} have no idempotency key of their id and seq`);
    if (r.doubled !== '0') failures.push(`${r.doubled} seqs ${range} are logged more than once`);
    if (r.keys !== null && r.keys !== r.events) failures.push(`${r.keys} idempotency keys but ${r.events} logged events ${range}`);
    if (r.waiting !== '0') failures.push(`${r.waiting} events committed more than ${graceSeconds} s ago are not booked (booked up to seq ${lastSeq})`);
    return { name: 'accounted', ok: failures.length === 0, detail: failures[0] ?? `${r.events} events ${range}: each logged once and booked`, failures };
  }

  async audit(actor: string, action: string, target: string, detail: unknown): Promise<void> {
    await this.sql.query('INSERT INTO utl_audit (actor, action, target, detail) VALUES ($1, $2, $3, $4::jsonb)', [actor, action, target, JSON.stringify(detail)]);
  }

  async auditTrail(target: string | undefined, limit: number): Promise<AuditEntry[]> {
    const { rows } = await this.sql.query<{ id: string; at: string; actor: string; action: string; target: string; detail: string }>(
      `SELECT id, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS at, actor, action, target, detail::text AS detail
       FROM utl_audit WHERE $1::text IS NULL OR target = $1 ORDER BY id DESC LIMIT $2`,
      [target ?? null, limit],
    );
    return rows.map((r) => ({ id: r.id, at: r.at, actor: r.actor, action: r.action, target: r.target, detail: JSON.parse(r.detail) as unknown }));
  }

  /**
   * The booked events of `types` with `from <= ts <= until`, as corrected (cancelled ones left out,
   * amends applied), only those already booked (`seq <= horizon`).
   */
  async effective(types: readonly ('trade' | 'deposit' | 'withdrawal')[], from: TsUs | undefined, until: TsUs | undefined, horizon: number): Promise<LedgerEvent[]> {
    const { rows } = await this.sql.query<{ id: string; payload: string }>(
      `SELECT id, payload FROM utl_events WHERE type = ANY($1::text[]) AND ($2::timestamptz IS NULL OR ts >= $2) AND ($3::timestamptz IS NULL OR ts <= $3) AND seq <= $4 ORDER BY ts, id`,
      [types, from === undefined ? null : formatTimestamp(from), until === undefined ? null : formatTimestamp(until), horizon],
    );
    const inst = this.instruments();
    const events = rows.map((r) => decodeStored(r.payload, inst));
    let targets = rows.map((r) => r.id);
    for (let round = 0; round < 2 && targets.length > 0; round++) {
      const c = await this.sql.query<{ id: string; payload: string }>('SELECT id, payload FROM utl_events WHERE target = ANY($1::text[]) AND seq <= $2 ORDER BY seq', [targets, horizon]);
      for (const r of c.rows) events.push(decodeStored(r.payload, inst));
      targets = c.rows.map((r) => r.id);
    }
    return effectiveEvents(events);
  }
}
