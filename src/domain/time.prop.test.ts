/**
 * Timestamps: parsing agrees with an independent reference (Date, in tests only) on every
 * spelling of an instant, in any sequence (the day memo never changes an answer), and formatting
 * round-trips.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatTimestamp, parseTimestamp, parseTimestampAt } from './time.js';

const MIN_MS = Date.UTC(1970, 0, 1);
const MAX_MS = Date.UTC(2200, 0, 1);

/** Reference: epoch µs via Date for the millisecond part, plus the sub-millisecond digits. */
function reference(text: string): number | undefined {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/.exec(text);
  if (m === null) return undefined;
  const frac = m[2] ?? '';
  if (frac.length > 6 && !/^0+$/.test(frac.slice(6))) return undefined;
  const ms = Date.parse(`${m[1]}${m[3]}`);
  if (Number.isNaN(ms)) return undefined;
  // Date rolls 2026-02-30 over to March: a real instant must print back to the same fields.
  const local = new Date(ms + (m[3] === 'Z' ? 0 : (m[3]![0] === '-' ? -1 : 1) * (Number(m[3]!.slice(1, 3)) * 60 + Number(m[3]!.slice(4))) * 60000));
  if (local.toISOString().slice(0, 19) !== m[1] || ms < MIN_MS) return undefined;
  return ms * 1000 + Number(frac.slice(0, 6).padEnd(6, '0'));
}

const instant = fc.integer({ min: MIN_MS + 86_400_000, max: MAX_MS }).chain((ms) => fc.integer({ min: 0, max: 999 }).map((us) => ms * 1000 + us));

function spellings(us: number): string[] {
  const iso = new Date(Math.floor(us / 1000)).toISOString();
  const base = iso.slice(0, 19);
  const micro = String(us % 1_000_000).padStart(6, '0');
  return [`${base}.${micro}Z`, `${base}.${micro}000Z`, ...(us % 1000 === 0 ? [iso, `${base}.${micro.slice(0, 3)}Z`] : []), ...(us % 1_000_000 === 0 ? [`${base}Z`, `${base}+00:00`] : [])];
}

describe('timestamps', () => {
  it('every spelling of an instant parses to it, in any order, and formats back', () => {
    fc.assert(
      fc.property(fc.array(instant, { minLength: 1, maxLength: 20 }), (xs) => {
        for (const us of xs) {
          for (const text of spellings(us)) expect(parseTimestamp(text)).toBe(us);
          expect(parseTimestamp(formatTimestamp(us))).toBe(us);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('formats as Date does to the millisecond, with microseconds only when needed, whatever day was formatted before', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(instant, instant.map((us) => us - (us % 1000)), instant.map((us) => us - (us % 1_000_000))), { minLength: 1, maxLength: 20 }), (xs) => {
        for (const us of xs) {
          const iso = new Date(Math.floor(us / 1000)).toISOString();
          const expected = us % 1_000_000 === 0 ? `${iso.slice(0, 19)}Z` : us % 1000 === 0 ? iso : `${iso.slice(0, 23)}${String(us % 1000).padStart(3, '0')}Z`;
          expect(formatTimestamp(us)).toBe(expected);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('agrees with the reference on mutated texts, whatever day was parsed before', () => {
    const chars = fc.constantFrom('0', '1', '2', '3', '5', '9', ':', '-', '.', 'T', 'Z', '+', ' ');
    fc.assert(
      fc.property(instant, instant, fc.nat(40), chars, (a, b, pos, ch) => {
        parseTimestamp(spellings(a)[0]!); // prime the day memo
        const text = spellings(b)[0]!;
        const i = pos % text.length;
        const mutated = text.slice(0, i) + ch + text.slice(i + 1);
        expect(parseTimestamp(mutated)).toBe(reference(mutated));
      }),
      { numRuns: 3000 },
    );
  });

  it('reads a timestamp where it stands in a text as parseTimestamp reads the slice', () => {
    const chars = fc.constantFrom('0', '1', '2', '3', '5', '9', ':', '-', '.', 'T', 'Z', '+', ' ', '"');
    fc.assert(
      fc.property(instant, instant, fc.nat(40), chars, fc.string({ maxLength: 3 }), fc.string({ maxLength: 3 }), (a, b, pos, ch, before, after) => {
        parseTimestampAt(`x${spellings(a)[0]!}`, 1, 1 + spellings(a)[0]!.length); // prime the day memo
        const text = spellings(b)[0]!;
        const i = pos % text.length;
        const mutated = pos < 30 ? text.slice(0, i) + ch + text.slice(i + 1) : text;
        expect(parseTimestampAt(before + mutated + after, before.length, before.length + mutated.length)).toBe(reference(mutated));
      }),
      { numRuns: 3000 },
    );
  });

  it('refuses impossible dates and sub-microsecond digits', () => {
    expect(parseTimestamp('2026-02-28T00:00:00Z')).toBeDefined();
    expect(parseTimestamp('2026-02-29T00:00:00Z')).toBeUndefined();
    expect(parseTimestamp('2028-02-29T00:00:00Z')).toBeDefined();
    expect(parseTimestamp('2026-01-01T24:00:00Z')).toBeUndefined();
    expect(parseTimestamp('2026-01-01T00:00:00.0000001Z')).toBeUndefined();
    expect(parseTimestamp('2026-01-01T00:00:00.000000100Z')).toBeUndefined();
  });
});
