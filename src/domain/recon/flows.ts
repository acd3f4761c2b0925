/**
 * What an event does to balance cells, from its own fields alone (no state): a spot fill moves the
 * base by ±qty, the quote by ∓qty × price and each fee asset by −fee; a transfer moves qty (plus
 * its fee) out of one venue and qty into another; a deposit or withdrawal moves qty (and a
 * withdrawal's fee). A derivative fill or funding settles an amount that depends on the position:
 * undefined. Used by the flows check (independently of the booking code) and for listing the
 * movements that explain a break without booking anything again.
 */
import { Dec } from '../decimal.js';
import type { BookEvent } from '../events.js';
import { spotTradeDeltas } from './trades.js';

export interface Flow {
  readonly venue: string;
  readonly account: string;
  readonly asset: string;
  readonly delta: Dec;
}

export function eventFlows(e: BookEvent): Flow[] | undefined {
  switch (e.type) {
    case 'trade': {
      const m = spotTradeDeltas(e);
      if (m === undefined) return undefined;
      return [...m].map(([asset, delta]) => ({ venue: e.venue, account: e.account, asset, delta }));
    }
    case 'transfer': {
      const fee = e.fee ?? Dec.ZERO;
      return [
        { venue: e.from, account: e.fromAccount, asset: e.asset, delta: e.qty.add(fee).neg() },
        { venue: e.to, account: e.toAccount, asset: e.asset, delta: e.qty },
      ];
    }
    case 'deposit':
      return [{ venue: e.venue, account: e.account, asset: e.asset, delta: e.qty }];
    case 'withdrawal':
      return [{ venue: e.venue, account: e.account, asset: e.asset, delta: e.qty.add(e.fee ?? Dec.ZERO).neg() }];
    case 'funding':
      return undefined;
  }
}
