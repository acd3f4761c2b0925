/**
 * Why might a venue disagree with UTL? The movements of the cell since its last matched report,
 * and suggested causes where the data shows one. Suggestions are evidence-based guesses for a
 * person, never acted on: each names the events it rests on.
 *
 * - missing_at_venue: one movement booked in UTL accounts for the difference (the venue has not
 *   got it yet, or its snapshot was taken before it);
 * - transfer_in_transit: that movement is a transfer or deposit UTL credited to this venue (or a
 *   transfer out the venue has not debited yet);
 * - stale_snapshot: every movement since the last match together accounts for it;
 * - fee_in_other_asset: UTL deducted a fee in this asset that the venue did not (it charged it in
 *   another asset, e.g. a BNB discount), or the venue deducted here a fee UTL booked in another;
 * - missing_in_utl: a venue trade that is not booked in UTL accounts for it;
 * - transfer_in_transit (other side): a withdrawal at another venue not matched to its deposit
 *   accounts for it (the venue has received it, UTL has not booked the deposit);
 * - funding_not_booked: a perpetual open at this venue settles in this asset and no funding has
 *   been booked for it within the funding interval.
 */
import { Dec, sum } from '../decimal.js';
import type { TsUs } from '../events.js';
import { formatTimestamp } from '../time.js';
import type { Movements } from './asof.js';
import type { Explanation, Suggestion } from './breaks.js';

export interface ExplainInput {
  readonly venue: string;
  readonly asset: string;
  readonly reportTs: TsUs;
  /** Venue − UTL. */
  readonly diff: Dec;
  /** How close two amounts must be to count as the same (the cell's tolerance). */
  readonly allowance: Dec;
  readonly sinceTs: TsUs | undefined;
  readonly movements: Movements;
  /** r(X) now, for comparing a fee in one asset with a difference in another (undefined: no mark). */
  readonly rate: (asset: string) => Dec | undefined;
  /** Venue trades not booked in UTL (the latest trade reconciliation), with their change to this cell. */
  readonly unbookedVenueTrades?: readonly { readonly id: string; readonly delta: Dec }[];
  /** Withdrawals of this asset at other venues not matched to a deposit. */
  readonly unmatchedWithdrawals?: readonly { readonly id: string; readonly venue: string; readonly qty: Dec }[];
  /** Perpetuals open at this venue that settle in this asset. */
  readonly openPerpetuals?: readonly { readonly instrument: string; readonly book: string }[];
  readonly fundingIntervalUs: TsUs;
}

/** A busy venue moves thousands of times between reports: the explanation lists the latest. */
export const MAX_LISTED_MOVEMENTS = 200;

/** Fee value comparisons across assets allow this fraction (marks move, fee tiers round). */
const CROSS_ASSET_SLACK = Dec.of('0.1');

export function explain(x: ExplainInput): Explanation {
  const near = (a: Dec, b: Dec): boolean => a.sub(b).abs().lte(x.allowance);
  const suggestions: Suggestion[] = [];
  const ms = x.movements.movements;
  const venueMissing = x.diff.neg(); // what UTL holds that the venue does not

  for (const m of ms) {
    if (!near(m.delta, venueMissing)) continue;
    const amount = `${m.delta.toString()} ${x.asset}`;
    if (m.type === 'transfer' || m.type === 'deposit') {
      const incoming = m.delta.isPos();
      suggestions.push({
        cause: 'transfer_in_transit',
        message: incoming
          ? `${m.type} ${m.id} (${amount}) is credited to ${x.venue} in UTL but not yet in the venue's balance: in transit?`
          : `${m.type} ${m.id} (${amount}) is debited from ${x.venue} in UTL but not yet by the venue: in transit?`,
        events: [m.id],
      });
    } else {
      suggestions.push({ cause: 'missing_at_venue', message: `${m.type} ${m.id} (${amount}, ${formatTimestamp(m.ts)}) is booked in UTL but not in the venue's balance: missing at the venue, or after its snapshot`, events: [m.id] });
    }
  }
  if (ms.length > 1 && near(sum(ms.map((m) => m.delta)), venueMissing)) {
    suggestions.push({ cause: 'stale_snapshot', message: `the ${ms.length} movements since the last matched report together account for the difference: the venue's snapshot predates them`, events: ms.map((m) => m.id) });
  }

  // Fees: UTL deducted one here that the venue did not, or the reverse in another asset (the
  // trade then may not have moved this cell at all: the nearby trades count too).
  const rHere = x.rate(x.asset);
  const trades = [...ms.map((m) => m.event), ...x.movements.nearby];
  for (const m of trades) {
    if (m.type !== 'trade') continue;
    for (const f of m.fees) {
      if (f.asset === x.asset && !f.amount.isZero() && near(f.amount, x.diff)) {
        suggestions.push({ cause: 'fee_in_other_asset', message: `UTL deducted the fee of trade ${m.id} (${f.amount.toString()} ${f.asset}) here; the venue did not: was it charged in another asset?`, events: [m.id] });
      } else if (f.asset !== x.asset && x.diff.isNeg() && f.amount.isPos() && rHere !== undefined) {
        const rFee = x.rate(f.asset);
        if (rFee === undefined) continue;
        const feeValue = f.amount.mul(rFee);
        const diffValue = x.diff.abs().mul(rHere);
        if (diffValue.sub(feeValue).abs().lte(feeValue.mul(CROSS_ASSET_SLACK))) {
          suggestions.push({ cause: 'fee_in_other_asset', message: `the venue deducted about the value of trade ${m.id}'s fee (${f.amount.toString()} ${f.asset}, booked in ${f.asset}) in ${x.asset}`, events: [m.id] });
        }
      }
    }
  }

  for (const t of x.unbookedVenueTrades ?? []) {
    if (near(t.delta, x.diff)) suggestions.push({ cause: 'missing_in_utl', message: `venue trade ${t.id} (${t.delta.toString()} ${x.asset}) is not booked in UTL`, events: [t.id] });
  }
  for (const w of x.unmatchedWithdrawals ?? []) {
    if (w.venue !== x.venue && x.diff.isPos() && near(w.qty, x.diff)) {
      suggestions.push({ cause: 'transfer_in_transit', message: `withdrawal ${w.id} of ${w.qty.toString()} ${x.asset} from ${w.venue} has no matching deposit booked at ${x.venue}: the venue received it, UTL has not booked it?`, events: [w.id] });
    }
  }
  const fundedSince = new Set(ms.filter((m) => m.type === 'funding').map((m) => (m.event as { instrument: string }).instrument));
  const coversInterval = x.sinceTs === undefined || x.sinceTs <= x.reportTs - x.fundingIntervalUs;
  for (const p of x.openPerpetuals ?? []) {
    if (!fundedSince.has(p.instrument) && coversInterval) {
      suggestions.push({ cause: 'funding_not_booked', message: `${p.instrument} is open at ${x.venue} (book ${p.book}) and settles in ${x.asset}, but no funding has been booked for it in the last funding interval`, events: [] });
    }
  }

  return {
    sinceTs: x.sinceTs === undefined ? null : formatTimestamp(x.sinceTs),
    complete: x.movements.complete,
    movements: ms.slice(-MAX_LISTED_MOVEMENTS).map((m) => ({ id: m.id, type: m.type, ts: formatTimestamp(m.ts), book: m.book, delta: m.delta.toString() })),
    count: ms.length,
    net: sum(ms.map((m) => m.delta)).toString(),
    suggestions,
  };
}
