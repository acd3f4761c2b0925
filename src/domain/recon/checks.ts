/**
 * Consistency checks: statements that must hold of the books whatever the input, each either
 * passing or failing with the cells that break it. A failure is an alert (the service raises
 * one), never just a log line.
 *
 * - `flows`: per (book, venue, account, asset), opening + flows = closing over a span of the
 *   timeline, where the flows are computed from the events' own fields (a spot fill moves the
 *   base by ±qty, the quote by ∓qty × price, each fee asset by −fee; a transfer, deposit or
 *   withdrawal by its quantity and fee) independently of the booking code. A derivative's
 *   settlement (PnL, funding) depends on the position, so its flow in the settlement asset is
 *   taken as booked; its fees in other assets are still computed.
 * - `lots`: each spot position's lots add up to its quantity and its cost basis, all on one side.
 * - `balances`: each spot position's quantity equals the sum of its balances across venues.
 * - `negative_balances`: no negative balance at a venue that does not lend.
 */
import type { BookState } from '../book.js';
import { Dec } from '../decimal.js';
import type { TsUs } from '../events.js';
import { BookCursor, type Ledger } from '../ledger.js';
import { formatTimestamp } from '../time.js';
import { eventFlows } from './flows.js';

/** `accounted` (every committed event logged once and booked) is the store's: see ReconStore. */
export type CheckName = 'flows' | 'lots' | 'balances' | 'negative_balances' | 'accounted';

export interface CheckResult {
  readonly name: CheckName;
  readonly ok: boolean;
  readonly detail: string;
  /** The first failures (at most `MAX_FAILURES`), each a sentence. */
  readonly failures: string[];
}

export const MAX_FAILURES = 50;

export interface CheckOptions {
  /** Venues where a negative balance is a loan, not an error. */
  readonly lendingVenues: ReadonlySet<string>;
  /** `flows` covers events from this instant on (default: everything each book holds). */
  readonly sinceTs?: TsUs;
}

const SEP = '\u0000';

function key(book: string, venue: string, account: string, asset: string): string {
  return [book, venue, account, asset].join(SEP);
}

function cells(book: string, s: BookState, into: Map<string, Dec>): void {
  for (const [venue, accounts] of s.balances) for (const [account, assets] of accounts) for (const [asset, c] of assets) if (!c.qty.isZero()) into.set(key(book, venue, account, asset), c.qty);
}

function result(name: CheckName, failures: string[], what: string): CheckResult {
  return { name, ok: failures.length === 0, detail: failures.length === 0 ? what : `${failures.length} failure(s): ${failures[0]!}`, failures: failures.slice(0, MAX_FAILURES) };
}

interface FlowsJob {
  readonly book: string;
  readonly cursor: BookCursor;
  /** The span starts here: the cursor books what is before it first, then `opening` is taken. */
  readonly fromTs: TsUs;
  /** The balances at `fromTs`: undefined until the cursor is there. */
  opening: Map<string, Dec> | undefined;
  readonly flows: Map<string, Dec>;
  /** The book's balances when the check was prepared: what the replay must arrive at. */
  readonly closing: Map<string, Dec>;
}

/**
 * The `flows` check in steps: `prepare` (on the ledger, in its booking lane: each book's replay
 * cursor on its own copy of the events from the snapshot before the span, and the balances to
 * arrive at) then `step` as many times as needed (on those copies only: the ledger may book on
 * meanwhile; first up to the span's start, then through it), then `result`. A service runs the
 * steps in slices between batches, so the check never holds booking up for long.
 */
export class FlowsCheck {
  private events = 0;
  private next = 0;

  private constructor(
    private readonly ledger: Pick<Ledger, 'instruments'>,
    private readonly jobs: readonly FlowsJob[],
    private readonly sinceTs: TsUs | undefined,
  ) {}

  /** Each book's cursor from `sinceTs` on (everything it holds when undefined), detached from the ledger. */
  static prepare(ledger: Ledger, sinceTs?: TsUs): FlowsCheck {
    const jobs: FlowsJob[] = [];
    for (const book of ledger.bookNames()) {
      let fromTs = sinceTs ?? Number.MIN_SAFE_INTEGER;
      let c = ledger.cursor(book, fromTs, true, true);
      if (c !== undefined && !(c instanceof BookCursor)) {
        const start = ledger.windowStart(book);
        fromTs = start === undefined ? fromTs : Math.max(start, sinceTs ?? start);
        c = start === undefined ? undefined : ledger.cursor(book, fromTs, true, true);
      }
      if (c === undefined || !(c instanceof BookCursor)) continue;
      // Closing is the ledger's own state, not the replay's: what the service serves is checked.
      const closing = new Map<string, Dec>();
      cells(book, ledger.bookState(book)!, closing);
      jobs.push({ book, cursor: c, fromTs, opening: undefined, flows: new Map(), closing });
    }
    return new FlowsCheck(ledger, jobs, sinceTs);
  }

  /** Replays at most `maxEvents` more events; true when every book is done. */
  step(maxEvents: number): boolean {
    let budget = maxEvents;
    while (this.next < this.jobs.length) {
      const job = this.jobs[this.next]!;
      const { book, cursor: c, flows } = job;
      if (job.opening === undefined) {
        // Up to the span's start (from the snapshot before it), then the balances there.
        for (let e = c.peek(); e !== undefined && e.ts < job.fromTs; e = c.peek()) {
          if (budget-- <= 0) return false;
          c.next();
        }
        job.opening = new Map();
        cells(book, c.state, job.opening);
      }
      const add = (k: string, d: Dec): void => {
        if (!d.isZero()) flows.set(k, (flows.get(k) ?? Dec.ZERO).add(d));
      };
      for (let e = c.peek(); e !== undefined; e = c.peek()) {
        if (budget-- <= 0) return false;
        this.events++;
        const expected = eventFlows(e);
        if (expected === undefined && (e.type === 'trade' || e.type === 'funding')) {
          // The settlement asset's change is taken as booked; fees in other assets are computed.
          const inst = this.ledger.instruments.lookup(e.instrument, e.venue);
          const settleAsset = inst.ok && inst.instrument.kind !== 'spot' ? inst.instrument.settle : undefined;
          const k = settleAsset === undefined ? undefined : key(book, e.venue, e.account, settleAsset);
          const before = k === undefined ? Dec.ZERO : (c.state.balances.get(e.venue)?.get(e.account)?.get(settleAsset!)?.qty ?? Dec.ZERO);
          c.next();
          if (c.refused || k === undefined) continue;
          const after = c.state.balances.get(e.venue)?.get(e.account)?.get(settleAsset!)?.qty ?? Dec.ZERO;
          add(k, after.sub(before));
          if (e.type === 'trade') for (const f of e.fees) if (f.asset !== settleAsset) add(key(book, e.venue, e.account, f.asset), f.amount.neg());
          continue;
        }
        c.next();
        if (c.refused || expected === undefined) continue;
        for (const x of expected) add(key(book, x.venue, x.account, x.asset), x.delta);
      }
      this.next++;
    }
    return true;
  }

  result(): CheckResult {
    const failures: string[] = [];
    for (const { opening = new Map<string, Dec>(), flows, closing } of this.jobs) {
      for (const k of new Set([...opening.keys(), ...flows.keys(), ...closing.keys()])) {
        const o = opening.get(k) ?? Dec.ZERO;
        const f = flows.get(k) ?? Dec.ZERO;
        const cl = closing.get(k) ?? Dec.ZERO;
        if (!o.add(f).eq(cl)) {
          const [b, venue, account, asset] = k.split(SEP);
          failures.push(`${b} ${venue}/${account} ${asset}: opening ${o.toString()} + flows ${f.toString()} = ${o.add(f).toString()}, but the balance is ${cl.toString()}`);
        }
      }
    }
    return result('flows', failures, `${this.events} events: opening + flows = closing in every cell${this.sinceTs === undefined ? '' : ` since ${formatTimestamp(this.sinceTs)}`}`);
  }
}

/** opening + flows = closing for every balance cell of every book, from `sinceTs` on (all at once). */
export function checkFlows(ledger: Ledger, sinceTs?: TsUs): CheckResult {
  const f = FlowsCheck.prepare(ledger, sinceTs);
  f.step(Number.POSITIVE_INFINITY);
  return f.result();
}

/** Lots add up to each spot position, and balances across venues add up to it too. */
export function checkPositions(ledger: Ledger): CheckResult[] {
  const lotFailures: string[] = [];
  const balanceFailures: string[] = [];
  let positions = 0;
  for (const book of ledger.bookNames()) {
    const s = ledger.bookState(book)!;
    const held = new Map<string, Dec>(); // asset (or asset@venue when pooled by venue) → Σ balances
    for (const [venue, accounts] of s.balances) {
      for (const assets of accounts.values()) {
        for (const [asset, c] of assets) {
          if (ledger.marks.isCash(asset)) continue;
          const k = s.settings.pool === 'venue' ? `${asset}@${venue}` : asset;
          held.set(k, (held.get(k) ?? Dec.ZERO).add(c.qty));
        }
      }
    }
    for (const [k, p] of s.positions) {
      if (p.kind !== 'spot') continue;
      positions++;
      const lots = p.lots.lots();
      const qty = p.lots.qty();
      let sq = Dec.ZERO;
      let sc = Dec.ZERO;
      for (const l of lots) {
        sq = sq.add(l.qty);
        sc = sc.add(l.cost);
        if (l.qty.sign() !== qty.sign()) lotFailures.push(`${book} ${k}: a lot of ${l.qty.toString()} on the other side of the position ${qty.toString()}`);
      }
      if (!sq.eq(qty)) lotFailures.push(`${book} ${k}: lots add up to ${sq.toString()}, the position is ${qty.toString()}`);
      if (!sc.eq(p.lots.cost())) lotFailures.push(`${book} ${k}: lots cost ${sc.toString()}, the position's cost basis is ${p.lots.cost().toString()}`);
      const h = held.get(k) ?? Dec.ZERO;
      held.delete(k);
      if (!h.eq(qty)) balanceFailures.push(`${book} ${k}: balances across venues add up to ${h.toString()}, the position is ${qty.toString()}`);
    }
    for (const [k, h] of held) if (!h.isZero()) balanceFailures.push(`${book} ${k}: balances add up to ${h.toString()} with no position`);
  }
  return [result('lots', lotFailures, `${positions} spot positions: lots add up to quantity and cost`), result('balances', balanceFailures, `${positions} spot positions: balances add up to each`)];
}

/** No negative balance at a venue that does not lend. */
export function checkNegativeBalances(ledger: Ledger, lendingVenues: ReadonlySet<string>): CheckResult {
  const failures: string[] = [];
  let n = 0;
  for (const book of ledger.bookNames()) {
    for (const b of ledger.bookState(book)!.balanceList()) {
      n++;
      if (b.qty.isNeg() && !lendingVenues.has(b.venue)) failures.push(`${book} ${b.venue}/${b.account} ${b.asset}: ${b.qty.toString()} at a venue that does not lend`);
    }
  }
  return result('negative_balances', failures, `${n} balances, none negative at a venue that does not lend`);
}

export function consistencyChecks(ledger: Ledger, o: CheckOptions): CheckResult[] {
  return [checkFlows(ledger, o.sinceTs), ...checkPositions(ledger), checkNegativeBalances(ledger, o.lendingVenues)];
}
