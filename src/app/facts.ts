/**
 * The facts the alert rules look at, assembled from the service (positions, PnL, exposure, marks,
 * lag, rejections) and reconciliation (breaks, sources, consistency checks). Decimals stay strings.
 *
 * - A break's age counts from when UTL first saw it (wall clock). Withdrawals overdue for their
 *   deposit count as breaks too (`xfer:<id>`), aged from when their transit allowance ran out.
 * - A source's last report is when its latest balance report was booked (wall clock).
 * - An asset's last mark is the mark's own instant: a position marked an hour ago (in event time)
 *   is stale whatever the wall clock of its arrival.
 * - Exposure by asset leaves out unpriced assets (they have no value to hold against a limit).
 */
import type { AlertFacts } from '../domain/alerts/facts.js';
import { Dec } from '../domain/decimal.js';
import { isActive } from '../domain/recon/breaks.js';
import { parseSymbol } from '../domain/instrument.js';
import type { Reconciler } from './recon.js';
import type { Service } from './service.js';

export async function alertFacts(service: Service, recon: Reconciler, nowMs: number): Promise<AlertFacts> {
  const lag = await Promise.race([service.pending(), new Promise<undefined>((r) => setTimeout(() => r(undefined), 1_000).unref())]);
  // In slices: a large book's report takes tens of ms, which would stall the API every evaluation.
  const report = await service.reportSliced();
  const lastMark = new Map<string, number>();
  for (const m of service.ledger.marks.latest()) {
    const asset = m.pair.slice(0, m.pair.lastIndexOf('/'));
    lastMark.set(asset, Math.max(lastMark.get(asset) ?? 0, Math.floor(m.ts / 1000)));
  }
  const marks: AlertFacts['marks'][number][] = [];
  for (const p of report.positions) {
    if (Dec.of(p.qty).isZero()) continue;
    const base = p.kind === 'spot' ? p.asset : parseSymbol(p.asset)?.base;
    const seen = [lastMark.get(p.asset), base === undefined ? undefined : lastMark.get(base)].filter((x): x is number => x !== undefined);
    marks.push({ asset: p.asset, openQty: p.qty, lastMarkMs: seen.length === 0 ? null : Math.max(...seen) });
  }
  const e = report.exposure;
  return {
    nowMs,
    reporting: report.reporting,
    breaks: recon.breaks
      .list()
      .filter(isActive)
      .map((b) => ({ id: b.id, venue: b.venue, account: b.account, asset: b.asset, status: b.status, firstSeenMs: b.firstSeenMs, diff: b.diff, value: b.value }))
      .concat(recon.overdueTransfers()),
    sources: [...recon.lastReportMs].map(([venue, lastReportMs]) => ({ venue, lastReportMs })),
    marks,
    consumerLag: lag,
    rejectedTotal: service.stats.rejected,
    exposure: {
      byAsset: e.byAsset.flatMap((a) => (a.value === null ? [] : [{ asset: a.asset, net: a.value, gross: Dec.of(a.value).abs().toString() }])),
      byVenue: e.byVenue.map((v) => ({ venue: v.venue, net: v.net, gross: v.gross, held: v.held })),
      byBook: e.byBook.map((b) => ({ book: b.book, net: b.net, gross: b.gross })),
      firm: { net: e.firm.net, gross: e.firm.gross },
    },
    pnl: report.books.map((b) => ({ book: b.book, total: b.totalPnl })),
    checks: recon.checks.map((c) => ({ name: c.name, ok: c.ok, detail: c.detail })),
  };
}
