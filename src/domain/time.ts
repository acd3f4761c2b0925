/**
 * Timestamps: ISO-8601 text at the edges, integer epoch microseconds (UTC) inside. Parsing is
 * hand-written (no Date) so that it is pure, exact and the same on every runtime: a calendar date
 * that does not exist (2026-02-30) is an error, not a silent roll-over.
 */
import type { TsUs } from './events.js';

const ISO_RE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/;

const US_PER_SECOND = 1_000_000;
const US_PER_DAY = 86_400 * US_PER_SECOND;

/** Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
function daysFromCivil(y: number, m: number, d: number): number {
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

function civilFromDays(z: number): [number, number, number] {
  const zz = z + 719468;
  const era = Math.floor(zz / 146097);
  const doe = zz - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  return [yoe + era * 400 + (m <= 2 ? 1 : 0), m, d];
}

function daysInMonth(y: number, m: number): number {
  if (m === 2) return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0 ? 29 : 28;
  return m === 4 || m === 6 || m === 9 || m === 11 ? 30 : 31;
}

/**
 * The last calendar date parsed, and its epoch microseconds at midnight: events come in runs of
 * one day, so the fast path below re-parses only the time of day. A memo, not state: it never
 * changes an answer.
 */
let memoDate = '';
let memoDayUs = 0;

function digit(text: string, i: number): number {
  const c = text.charCodeAt(i) - 48;
  return c >= 0 && c <= 9 ? c : -1;
}

/**
 * `HH:MM:SS[.f{1,6}]Z` from index `o + 11` of the timestamp `text[o, end)`, whose date is the
 * memo's; undefined when not that shape.
 */
function fastTimeOfDay(text: string, o: number, end: number): TsUs | undefined {
  const n = end - o;
  if (text.charCodeAt(end - 1) !== 90 || text.charCodeAt(o + 13) !== 58 || text.charCodeAt(o + 16) !== 58) return undefined;
  const h1 = digit(text, o + 11), h2 = digit(text, o + 12), m1 = digit(text, o + 14), m2 = digit(text, o + 15), s1 = digit(text, o + 17), s2 = digit(text, o + 18);
  if ((h1 | h2 | m1 | m2 | s1 | s2) < 0) return undefined;
  const h = h1 * 10 + h2;
  const mi = m1 * 10 + m2;
  const sec = s1 * 10 + s2;
  if (h > 23 || mi > 59 || sec > 59) return undefined;
  let us = 0;
  if (n > 20) {
    if (text.charCodeAt(o + 19) !== 46 || n - 21 > 6 || n - 21 < 1) return undefined;
    for (let i = o + 20; i < end - 1; i++) {
      const d = digit(text, i);
      if (d < 0) return undefined;
      us = us * 10 + d;
    }
    for (let k = n - 21; k < 6; k++) us *= 10;
  }
  return memoDayUs + (h * 3600 + mi * 60 + sec) * US_PER_SECOND + us;
}

/** Whether `text[o, o + 10)` is the memo's date followed by `T`, in a timestamp of a length the fast path reads. */
function memoDay(text: string, o: number, end: number): boolean {
  const n = end - o;
  if (memoDate === '' || n < 20 || n > 27 || text.charCodeAt(o + 10) !== 84) return false;
  for (let k = 0; k < 10; k++) if (text.charCodeAt(o + k) !== memoDate.charCodeAt(k)) return false;
  return true;
}

/** Epoch microseconds of an ISO-8601 timestamp with a zone (Z or ±HH:MM); undefined if invalid. */
export function parseTimestamp(text: string): TsUs | undefined {
  if (memoDay(text, 0, text.length)) {
    const fast = fastTimeOfDay(text, 0, text.length);
    if (fast !== undefined) return fast;
  }
  const t = parseTimestampSlow(text);
  if (t !== undefined && text.length >= 20 && text.charCodeAt(19) !== 43 && text.charCodeAt(19) !== 45) {
    // Remember this date (UTC forms only: an offset shifts the day).
    const m = ISO_RE.exec(text);
    if (m !== null && m[8] === 'Z') {
      memoDate = text.slice(0, 10);
      memoDayUs = daysFromCivil(+m[1]!, +m[2]!, +m[3]!) * US_PER_DAY;
    }
  }
  return t;
}

/**
 * `parseTimestamp(text.slice(start, end))`, without the slice when the date is the last one
 * parsed (a line's timestamp read where it stands).
 */
export function parseTimestampAt(text: string, start: number, end: number): TsUs | undefined {
  if (memoDay(text, start, end)) {
    const fast = fastTimeOfDay(text, start, end);
    if (fast !== undefined) return fast;
  }
  return parseTimestamp(text.slice(start, end));
}

function parseTimestampSlow(text: string): TsUs | undefined {
  const m = ISO_RE.exec(text);
  if (m === null) return undefined;
  const y = +m[1]!;
  const mo = +m[2]!;
  const d = +m[3]!;
  const h = +m[4]!;
  const mi = +m[5]!;
  const s = +m[6]!;
  if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > daysInMonth(y, mo) || h > 23 || mi > 59 || s > 59) return undefined;
  const frac = m[7] ?? '';
  // Sub-microsecond digits must be zero: UTC microseconds order events exactly, and we refuse to
  // drop information silently.
  if (frac.length > 6 && !/^0+$/.test(frac.slice(6))) return undefined;
  const us = frac === '' ? 0 : +frac.slice(0, 6).padEnd(6, '0');
  let offsetMin = 0;
  const zone = m[8]!;
  if (zone !== 'Z') {
    const oh = +zone.slice(1, 3);
    const om = +zone.slice(4, 6);
    if (oh > 23 || om > 59) return undefined;
    offsetMin = (zone[0] === '-' ? -1 : 1) * (oh * 60 + om);
  }
  const secs = h * 3600 + mi * 60 + s - offsetMin * 60;
  return daysFromCivil(y, mo, d) * US_PER_DAY + secs * US_PER_SECOND + us;
}

/** `00` … `99`, and `000` … `999`: the fields of a formatted timestamp without a string per digit. */
const TWO_DIGITS = Array.from({ length: 100 }, (_, i) => String(i).padStart(2, '0'));
const THREE_DIGITS = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, '0'));

/** The day `formatTimestamp` formatted last and its `YYYY-MM-DDT` (events come in runs of one day). */
let formattedDay = Number.NaN;
let formattedDayText = '';

/** Canonical text of a timestamp: UTC, `Z`, milliseconds or microseconds only when needed. */
export function formatTimestamp(tsUs: TsUs): string {
  const days = Math.floor(tsUs / US_PER_DAY);
  if (days !== formattedDay) {
    const [y, mo, d] = civilFromDays(days);
    formattedDayText = `${String(y).padStart(4, '0')}-${TWO_DIGITS[mo]!}-${TWO_DIGITS[d]!}T`;
    formattedDay = days;
  }
  const rest = tsUs - days * US_PER_DAY;
  const secs = Math.floor(rest / US_PER_SECOND);
  const us = rest - secs * US_PER_SECOND;
  const h = Math.floor(secs / 3600);
  const mi = Math.floor((secs - h * 3600) / 60);
  const s = secs - h * 3600 - mi * 60;
  const hms = `${formattedDayText}${TWO_DIGITS[h]!}:${TWO_DIGITS[mi]!}:${TWO_DIGITS[s]!}`;
  if (us === 0) return `${hms}Z`;
  const ms = Math.floor(us / 1000);
  const sub = us - ms * 1000;
  return sub === 0 ? `${hms}.${THREE_DIGITS[ms]!}Z` : `${hms}.${THREE_DIGITS[ms]!}${THREE_DIGITS[sub]!}Z`;
}

// ---- calendar periods (UTC): the boundaries of day, month and year PnL and of EOD snapshots ----

const DAY_RE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** The first instant (00:00:00Z) of the UTC day holding `tsUs`. */
export function dayStart(tsUs: TsUs): TsUs {
  return Math.floor(tsUs / US_PER_DAY) * US_PER_DAY;
}

/** The first instant of the UTC month holding `tsUs`. */
export function monthStart(tsUs: TsUs): TsUs {
  const [y, m] = civilFromDays(Math.floor(tsUs / US_PER_DAY));
  return daysFromCivil(y, m, 1) * US_PER_DAY;
}

/** The first instant of the UTC year holding `tsUs`. */
export function yearStart(tsUs: TsUs): TsUs {
  const [y] = civilFromDays(Math.floor(tsUs / US_PER_DAY));
  return daysFromCivil(y, 1, 1) * US_PER_DAY;
}

/** `YYYY-MM-DD` of the UTC day holding `tsUs`. */
export function formatDay(tsUs: TsUs): string {
  return formatTimestamp(dayStart(tsUs)).slice(0, 10);
}

/** The first instant of a `YYYY-MM-DD` day (UTC); undefined when it is no real date. */
export function parseDay(text: string): TsUs | undefined {
  const m = DAY_RE.exec(text);
  if (m === null) return undefined;
  const y = +m[1]!;
  const mo = +m[2]!;
  const d = +m[3]!;
  if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > daysInMonth(y, mo)) return undefined;
  return daysFromCivil(y, mo, d) * US_PER_DAY;
}

/** Microseconds in a day: a day's last instant is `dayStart + US_PER_DAY - 1`. */
export { US_PER_DAY };
