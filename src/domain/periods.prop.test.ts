/**
 * Period PnL against the ledger: generated logs spread over ~11 weeks across a month and a year
 * boundary, with states taken as of each instant by ledgers cut at that instant (`until`).
 * - days add up: the sum of each day's PnL since the 1st is the month-to-date PnL, figure by
 *   figure, per book and per position (when nothing in between is unpriced);
 * - inception is the state itself, and each period is end minus the state before its start;
 * - the calendar: boundaries are UTC midnights of the day, the 1st and 1 January.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { baseEventArb, newLedger, parse, stripUndefined, type Wire } from '../../test/support/scenarios.js';
import { Dec } from './decimal.js';
import { compareLog } from './events.js';
import { periodPnl, periodStarts, positionKey, type PnlFigures, type PnlState } from './periods.js';
import { buildReport } from './report.js';
import { dayStart, formatDay, formatTimestamp, monthStart, parseDay, parseTimestamp, US_PER_DAY, yearStart } from './time.js';

const START = parseTimestamp('2025-12-10T00:00:00Z')!;

const logArb = fc
  .array(fc.record({ e: baseEventArb, day: fc.integer({ min: 0, max: 75 }), sec: fc.integer({ min: 0, max: 86_399 }) }), { minLength: 1, maxLength: 40 })
  .map((xs) => xs.map(({ e, day, sec }, i) => stripUndefined({ ...e, id: `e${i}`, ts: formatTimestamp(START + day * US_PER_DAY + sec * 1_000_000) })));

/** The state as of `until` (inclusive), flat positions kept. */
function stateAt(log: Wire[], until: number): PnlState {
  const l = newLedger({ until });
  const events = log.map((w) => parse(l, w)).sort(compareLog);
  for (const e of events) l.submit(e);
  return buildReport(l, { includeFlat: true });
}

const FIGURES = ['realized', 'unrealized', 'fees', 'funding', 'total'] as const;

function add(a: PnlFigures | undefined, b: PnlFigures): PnlFigures | undefined {
  if (a === undefined) return b;
  const out: Record<string, string | null> = {};
  for (const f of FIGURES) {
    const x = a[f];
    const y = b[f];
    out[f] = x === null || y === null ? null : Dec.of(x).add(Dec.of(y)).toString();
  }
  return out as unknown as PnlFigures;
}

describe('period PnL', () => {
  it('the days of a month add up to its month-to-date PnL, per book and per position', () => {
    fc.assert(
      fc.property(logArb, fc.integer({ min: 0, max: 76 * 24 - 1 }), (log, hour) => {
        const at = START + hour * 3_600_000_000;
        const before = (t: number): PnlState => stateAt(log, t - 1);
        const end = stateAt(log, at);
        const starts = periodStarts(at);
        const pnl = periodPnl(end, { today: before(starts.today), mtd: before(starts.mtd), ytd: before(starts.ytd) });

        // Each day of the month so far, as its own "today" ending at the day's last instant (or at `at`).
        const books = new Map<string, PnlFigures | undefined>();
        const positions = new Map<string, PnlFigures | undefined>();
        for (let d = starts.mtd; d <= starts.today; d += US_PER_DAY) {
          const dayEnd = Math.min(d + US_PER_DAY - 1, at);
          const day = periodPnl(stateAt(log, dayEnd), { today: before(d), mtd: undefined, ytd: undefined });
          for (const b of day.books) books.set(b.book, add(books.get(b.book), b.periods.today));
          for (const p of day.positions) positions.set(positionKey(p), add(positions.get(positionKey(p)), p.periods.today));
        }
        for (const b of pnl.books) {
          const sum = books.get(b.book);
          for (const f of FIGURES) {
            const want = b.periods.mtd[f];
            const got = sum === undefined ? '0' : sum[f];
            // A day that was unpriced makes the sum unknown, not the month: compare what is known.
            if (got !== null && want !== null) expect(Dec.of(got).eq(Dec.of(want)), `${b.book} ${f}`).toBe(true);
          }
        }
        for (const p of pnl.positions) {
          const sum = positions.get(positionKey(p));
          for (const f of FIGURES) {
            const want = p.periods.mtd[f];
            const got = sum === undefined ? '0' : sum[f];
            if (got !== null && want !== null) expect(Dec.of(got).eq(Dec.of(want)), `${positionKey(p)} ${f}`).toBe(true);
          }
        }
      }),
      { numRuns: 40 },
    );
  });

  it('inception is the state at the end; a period is the end minus the state before its start', () => {
    fc.assert(
      fc.property(logArb, fc.integer({ min: 0, max: 76 * 24 - 1 }), (log, hour) => {
        const at = START + hour * 3_600_000_000;
        const end = stateAt(log, at);
        const starts = periodStarts(at);
        const ytd = stateAt(log, starts.ytd - 1);
        const pnl = periodPnl(end, { today: undefined, mtd: undefined, ytd });
        for (const b of end.books) {
          const row = pnl.books.find((x) => x.book === b.book)!;
          expect(row.periods.inception.realized).toBe(b.realizedPnl);
          expect(row.periods.inception.total).toBe(b.totalPnl);
          // No state before `today` and `mtd` given: everything since inception.
          expect(row.periods.today).toEqual(row.periods.inception);
          const was = ytd.books.find((x) => x.book === b.book);
          const realized = Dec.of(b.realizedPnl).sub(Dec.of(was?.realizedPnl ?? '0'));
          expect(Dec.of(row.periods.ytd.realized).eq(realized)).toBe(true);
        }
      }),
      { numRuns: 40 },
    );
  });

  it('calendar boundaries are UTC midnights, the 1st of the month and 1 January', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 200 * 365 * 86_400 }), fc.integer({ min: 0, max: 999_999 }), (s, us) => {
        const t = s * 1_000_000 + us;
        const text = formatTimestamp(t);
        expect(formatTimestamp(dayStart(t))).toBe(`${text.slice(0, 10)}T00:00:00Z`);
        expect(formatTimestamp(monthStart(t))).toBe(`${text.slice(0, 7)}-01T00:00:00Z`);
        expect(formatTimestamp(yearStart(t))).toBe(`${text.slice(0, 4)}-01-01T00:00:00Z`);
        expect(formatDay(t)).toBe(text.slice(0, 10));
        expect(parseDay(formatDay(t))).toBe(dayStart(t));
      }),
    );
    expect(parseDay('2026-02-29')).toBeUndefined();
    expect(parseDay('2028-02-29')).toBe(parseTimestamp('2028-02-29T00:00:00Z'));
    expect(parseDay('2026-1-01')).toBeUndefined();
  });
});
