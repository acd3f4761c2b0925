/**
 * What the service tells an observer (the Prometheus metrics, src/adapters/metrics) about its
 * work, without knowing what the observer does with it. The service books tens of thousands of
 * events a second, so nothing here is per-event I/O or a per-event call into a metrics library:
 * each batch fills an `EventTally` (plain Map increments) and hands it over once, after commit
 * and booking; the observer turns each key of it into one counter increment.
 *
 * A tally is handed over only for a batch that was committed: a batch whose commit failed is
 * redelivered and decoded again, so counting its rejections at decode would count them twice.
 *
 * Labels are bounded here: `type` is one of the canonical event types or `unknown`; `venue` is a
 * validated event's venue (a set the firm controls), or, for an input refused at validation, its
 * `venue` field only when that is a short plain name, else `unknown`. The observer caps the number
 * of distinct venues as well (a second guard).
 */
import type { RejectCode } from '../domain/errors.js';
import type { EventType, LedgerEvent } from '../domain/events.js';

/** The label value of what is not known (no type, no venue, an event type that has none). */
export const UNKNOWN = 'unknown';

const EVENT_TYPES: Readonly<Record<EventType, true>> = {
  trade: true,
  price: true,
  transfer: true,
  deposit: true,
  withdrawal: true,
  funding: true,
  balance: true,
  cancel: true,
  amend: true,
  instrument: true,
};

/** A venue name that may become a label value: short, no spaces or punctuation beyond `_.:-`. */
const PLAIN_NAME = /^[A-Za-z0-9_.:-]{1,64}$/;

/** The venue label of a valid event: a transfer counts at the venue it leaves. */
export function venueOf(e: LedgerEvent): string {
  switch (e.type) {
    case 'trade':
    case 'deposit':
    case 'withdrawal':
    case 'funding':
    case 'balance':
      return e.venue;
    case 'transfer':
      return e.from;
    case 'instrument':
      return e.venue ?? UNKNOWN;
    case 'price':
    case 'cancel':
    case 'amend':
      return UNKNOWN;
  }
}

/** The type and venue labels of an input refused at validation (any JSON value, or none). */
export function labelsOfInput(value: unknown): { type: string; venue: string } {
  if (typeof value !== 'object' || value === null) return { type: UNKNOWN, venue: UNKNOWN };
  const { type, venue, from } = value as { type?: unknown; venue?: unknown; from?: unknown };
  const t = typeof type === 'string' && Object.hasOwn(EVENT_TYPES, type) ? type : UNKNOWN;
  const v = t === 'transfer' ? from : venue;
  return { type: t, venue: typeof v === 'string' && PLAIN_NAME.test(v) ? v : UNKNOWN };
}

/** type → venue → count. */
type ByTypeVenue = Map<string, Map<string, number>>;

function add(m: ByTypeVenue, type: string, venue: string): void {
  let byVenue = m.get(type);
  if (byVenue === undefined) m.set(type, (byVenue = new Map<string, number>()));
  byVenue.set(venue, (byVenue.get(venue) ?? 0) + 1);
}

/** One batch's outcomes, counted by labels. */
export class EventTally {
  readonly booked: ByTypeVenue = new Map();
  readonly duplicates: ByTypeVenue = new Map();
  /** `type \t venue \t code` → count: rare, so a joined key is cheap enough. */
  readonly unbooked = new Map<string, number>();
  readonly rejected = new Map<string, number>();

  /**
   * @param arrivedAtMs `performance.now()` when the batch's first input arrived (a POST's
   *   request, a NATS batch's first message): the start of its booking latency.
   * @param size inputs in the batch (valid or not).
   */
  constructor(
    readonly arrivedAtMs: number,
    readonly size: number,
  ) {}

  bookedEvent(e: LedgerEvent): void {
    add(this.booked, e.type, venueOf(e));
  }

  duplicateEvent(e: LedgerEvent): void {
    add(this.duplicates, e.type, venueOf(e));
  }

  unbookedEvent(code: RejectCode, e: LedgerEvent): void {
    const k = `${e.type}\t${venueOf(e)}\t${code}`;
    this.unbooked.set(k, (this.unbooked.get(k) ?? 0) + 1);
  }

  /** A valid event refused: a conflicting repeat of its id, or refused by the ledger. */
  rejectedEvent(code: RejectCode, e: LedgerEvent): void {
    const k = `${e.type}\t${venueOf(e)}\t${code}`;
    this.rejected.set(k, (this.rejected.get(k) ?? 0) + 1);
  }

  /** An input refused at decode or validation: `value` is the parsed JSON, when it parsed. */
  rejectedInput(code: RejectCode, value: unknown): void {
    const { type, venue } = labelsOfInput(value);
    const k = `${type}\t${venue}\t${code}`;
    this.rejected.set(k, (this.rejected.get(k) ?? 0) + 1);
  }
}

/** What the service reports, once per batch. Implementations must not throw. */
export interface ServiceObserver {
  /** A batch's commit (`store.commit`) succeeded after `seconds`; `size` inputs. */
  committed(seconds: number, size: number): void;
  /** A committed batch is booked; `nowMs` is `performance.now()` at the end of its booking. */
  booked(tally: EventTally, nowMs: number): void;
}
