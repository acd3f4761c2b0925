/**
 * The catalogue of rejection codes: every reason UTL refuses an event, each with a stable code
 * (docs/errors.md lists the same codes; a test keeps the two in step). Validation codes are
 * decided by the event alone; booking codes depend on the state the event meets.
 */

export const VALIDATION_CODES = {
  JSON_SYNTAX: 'the line is not valid JSON',
  NOT_AN_OBJECT: 'an event must be a JSON object',
  UNKNOWN_TYPE: 'the event type is not one UTL knows',
  MISSING_FIELD: 'a required field is absent or null',
  UNKNOWN_FIELD: 'a field the event type does not have (a typo is never ignored)',
  WRONG_TYPE: 'a field has the wrong JSON type',
  NUMBER_NOT_STRING: 'a decimal was sent as a JSON number; decimals are JSON strings',
  NUMBER_EXPONENT: 'a decimal in exponent notation',
  NUMBER_NOT_FINITE: 'NaN or Infinity where a decimal was expected',
  NUMBER_TOO_MANY_DIGITS: 'a decimal with more digits than UTL keeps exactly',
  NUMBER_SYNTAX: 'a string that is not a decimal',
  QUANTITY_NOT_POSITIVE: 'a quantity that is zero or negative',
  PRICE_NOT_POSITIVE: 'a price or multiplier that is zero or negative',
  UNKNOWN_SIDE: 'a side other than buy or sell',
  BAD_TIMESTAMP: 'a timestamp that is not ISO-8601 with a zone, or not a real instant',
  BAD_IDENTIFIER: 'an id, book, venue, account or asset that is empty, too long or malformed',
  UNKNOWN_INSTRUMENT: 'an instrument that is malformed, or a derivative with no registered terms',
  INVALID_COMBINATION: 'fields that exclude each other, or a field that needs another',
  DUPLICATE_CONFLICT: 'an id already used by an event with different content',
  INSTRUMENT_CONFLICT: 'instrument terms that contradict terms already registered',
  CCXT_UNMAPPED: 'a ccxt structure that could not be mapped to an event',
} as const;

export const BOOKING_CODES = {
  UNVALUED: 'the event needs a mark (or a cost) that is not known at its timestamp',
  CORRECTION_TARGET_INVALID: 'a cancel of a cancel, or an amend of something other than a trade',
  ORPHAN_CORRECTION: 'a cancel or amend whose target never arrived',
  INSUFFICIENT_QUANTITY: 'a transfer moves more than the source venue holds, under venue pooling',
} as const;

export type ValidationCode = keyof typeof VALIDATION_CODES;
export type BookingCode = keyof typeof BOOKING_CODES;
export type RejectCode = ValidationCode | BookingCode;

export const ALL_CODES: Record<RejectCode, string> = { ...VALIDATION_CODES, ...BOOKING_CODES };

/** One problem with one field of one event. */
export interface Issue {
  readonly code: ValidationCode;
  /** Field path, e.g. `fee.amount` or `fees[1].asset`; empty for the event as a whole. */
  readonly path: string;
  readonly expected: string;
  readonly received: string;
}

/** A rejected event as reported: kept with its raw text and reason, never dropped. */
export interface Rejection {
  readonly code: RejectCode;
  readonly message: string;
  readonly id: string | undefined;
  readonly line: number | undefined;
  readonly raw: string;
}

/** "fill t17: price: expected a decimal string, got 1e5" — every issue, one sentence each. */
export function describeIssues(label: string, issues: readonly Issue[]): string {
  return issues
    .map((i) => `${label}: ${i.path === '' ? '' : `${i.path}: `}expected ${i.expected}, got ${i.received}`)
    .join('; ');
}

/** A short rendering of a received JSON value for error messages. */
export function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  let text: string;
  try {
    text = JSON.stringify(value) ?? typeof value;
  } catch (e) {
    // JSON.stringify throws only on cycles and bigints, which parsed JSON never holds.
    text = `an unprintable value (${(e as Error).message})`;
  }
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
