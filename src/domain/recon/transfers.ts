/**
 * Transfers between venues booked as two external flows: a withdrawal at one venue matched to the
 * deposit it became at another. A match is the same asset, another venue, the deposit within
 * `windowUs` after the withdrawal (or up to `skewUs` before it: venue clocks differ), and the
 * amount received at most `feeTolerance` below the amount sent (the network fee) and never above.
 * Withdrawals are taken oldest first and each gets the earliest deposit that fits (ties: the
 * closest amount, then the id), so the result does not depend on input order.
 *
 * An unmatched withdrawal younger than `maxTransitUs` is in transit; older, it is a break.
 * An unmatched deposit is reported too (money from outside, or a withdrawal UTL never booked).
 */
import { Dec } from '../decimal.js';
import { compareEvents, type DepositEvent, type TsUs, type WithdrawalEvent } from '../events.js';
import { formatTimestamp } from '../time.js';

export interface TransferMatchOptions {
  readonly windowUs: TsUs;
  readonly skewUs: TsUs;
  readonly maxTransitUs: TsUs;
  /** The largest network fee allowed for an asset (absolute, in the asset). */
  readonly feeTolerance: (asset: string) => Dec;
  /** Now, in event time (µs): ages count to here. */
  readonly nowUs: TsUs;
}

export const DEFAULT_TRANSFER_OPTIONS: Omit<TransferMatchOptions, 'nowUs' | 'feeTolerance'> = {
  windowUs: 6 * 3_600_000_000,
  skewUs: 60_000_000,
  maxTransitUs: 2 * 3_600_000_000,
};

export interface TransferMatch {
  readonly withdrawal: string;
  readonly deposit: string;
  readonly asset: string;
  readonly from: string;
  readonly to: string;
  readonly sent: string;
  readonly received: string;
  /** sent − received: the network fee as the two sides show it. */
  readonly fee: string;
  readonly transitSeconds: string;
}

export interface UnmatchedFlow {
  readonly id: string;
  readonly book: string;
  readonly venue: string;
  readonly asset: string;
  readonly qty: string;
  readonly ts: string;
  readonly ageSeconds: string;
}

export interface TransferReconResult {
  readonly matched: TransferMatch[];
  readonly inTransit: UnmatchedFlow[];
  /** Withdrawals unmatched for longer than the transit allowance. */
  readonly breaks: UnmatchedFlow[];
  readonly unmatchedDeposits: UnmatchedFlow[];
}

function seconds(us: TsUs): string {
  return Dec.int(us).div(Dec.int(1_000_000), 6).normalize().toString();
}

function flow(e: WithdrawalEvent | DepositEvent, nowUs: TsUs): UnmatchedFlow {
  return { id: e.id, book: e.book, venue: e.venue, asset: e.asset, qty: e.qty.toString(), ts: formatTimestamp(e.ts), ageSeconds: seconds(Math.max(0, nowUs - e.ts)) };
}

export function matchTransfers(withdrawals: readonly WithdrawalEvent[], deposits: readonly DepositEvent[], o: TransferMatchOptions): TransferReconResult {
  const ws = [...withdrawals].sort(compareEvents);
  const open = [...deposits].sort(compareEvents);
  const taken = new Set<string>();
  const matched: TransferMatch[] = [];
  const inTransit: UnmatchedFlow[] = [];
  const breaks: UnmatchedFlow[] = [];
  for (const w of ws) {
    const tol = o.feeTolerance(w.asset);
    let best: DepositEvent | undefined;
    for (const d of open) {
      if (d.ts > w.ts + o.windowUs) break;
      if (taken.has(d.id) || d.asset !== w.asset || d.venue === w.venue || d.ts < w.ts - o.skewUs) continue;
      const gap = w.qty.sub(d.qty);
      if (gap.isNeg() || gap.gt(tol)) continue;
      if (best === undefined) best = d;
      else if (d.ts === best.ts && w.qty.sub(d.qty).lt(w.qty.sub(best.qty))) best = d;
      if (best.ts < d.ts) break;
    }
    if (best !== undefined) {
      taken.add(best.id);
      matched.push({
        withdrawal: w.id,
        deposit: best.id,
        asset: w.asset,
        from: w.venue,
        to: best.venue,
        sent: w.qty.toString(),
        received: best.qty.toString(),
        fee: w.qty.sub(best.qty).toString(),
        transitSeconds: seconds(best.ts - w.ts),
      });
    } else if (o.nowUs - w.ts > o.maxTransitUs) breaks.push(flow(w, o.nowUs));
    else inTransit.push(flow(w, o.nowUs));
  }
  return { matched, inTransit, breaks, unmatchedDeposits: open.filter((d) => !taken.has(d.id)).map((d) => flow(d, o.nowUs)) };
}
