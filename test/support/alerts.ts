/**
 * Test helpers for alerting: an in-memory `AlertStore` that behaves like the PostgreSQL one
 * (src/adapters/pg/alerts-store.ts) for what Alerting reads back, and a logger that records.
 */
import type { AlertChange, AlertHistoryItem, AlertStore } from '../../src/app/alerting.js';
import type { Logger } from '../../src/app/service.js';
import type { AlertInstance } from '../../src/domain/alerts/engine.js';
import { formatTimestamp } from '../../src/domain/time.js';

export class MemoryAlertStore implements AlertStore {
  readonly rows = new Map<string, { status: 'pending' | 'firing' | 'resolved'; state: AlertInstance | null }>();
  readonly events: AlertHistoryItem[] = [];
  memory: unknown = null;
  saves = 0;
  /** When set, the next save throws it (a store fault). */
  failNext: Error | undefined;

  load(): Promise<{ instances: unknown[]; memory: unknown }> {
    const instances = [...this.rows.values()].filter((r) => r.status !== 'resolved' && r.state !== null).map((r) => JSON.parse(JSON.stringify(r.state)) as unknown);
    return Promise.resolve({ instances, memory: JSON.parse(JSON.stringify(this.memory)) as unknown });
  }

  save(change: AlertChange): Promise<void> {
    if (this.failNext !== undefined) {
      const err = this.failNext;
      this.failNext = undefined;
      return Promise.reject(err);
    }
    this.saves++;
    for (const i of change.upserts) this.rows.set(`${i.rule}/${i.key}`, { status: i.status, state: i });
    for (const r of change.resolved) this.rows.set(`${r.rule}/${r.key}`, { status: 'resolved', state: null });
    for (const d of change.dropped) if (this.rows.get(`${d.rule}/${d.key}`)?.status === 'pending') this.rows.delete(`${d.rule}/${d.key}`);
    for (const e of change.events) this.events.push({ id: String(this.events.length + 1), at: formatTimestamp(e.atMs * 1000), alert: e });
    this.memory = change.memory;
    return Promise.resolve();
  }

  history(opts: { limit: number; beforeId?: string | undefined }): Promise<{ items: AlertHistoryItem[]; next: string | null }> {
    const before = opts.beforeId === undefined ? Infinity : Number(opts.beforeId);
    const items = [...this.events].reverse().filter((e) => Number(e.id) < before).slice(0, opts.limit);
    return Promise.resolve({ items, next: items.length === opts.limit ? items[items.length - 1]!.id : null });
  }
}

export interface LogLine {
  readonly level: 'info' | 'warn' | 'error';
  readonly obj: object;
  readonly msg: string | undefined;
}

export function recordingLogger(): Logger & { lines: LogLine[] } {
  const lines: LogLine[] = [];
  return {
    lines,
    info: (obj, msg) => lines.push({ level: 'info', obj, msg }),
    warn: (obj, msg) => lines.push({ level: 'warn', obj, msg }),
    error: (obj, msg) => lines.push({ level: 'error', obj, msg }),
  };
}
