/** A report in slices is the report: the same bytes, however often it yields. */
import { describe, expect, it } from 'vitest';
import { Dec } from '../domain/decimal.js';
import { Ledger } from '../domain/ledger.js';
import { buildBookUpdate, buildReport, bookUpdateSteps, REPORT_STEP, reportSteps } from '../domain/report.js';
import { validateEvent } from '../domain/validate.js';
import { runSliced } from './slices.js';

/** A book with `n` spot positions, each bought once at its own mark. */
function wideLedger(n: number): Ledger {
  const ledger = new Ledger();
  const submit = (v: unknown): void => {
    const r = validateEvent(v, ledger.instruments);
    if (!r.ok) throw new Error(JSON.stringify(r.issues));
    ledger.submit(r.event);
  };
  for (let i = 0; i < n; i++) {
    const asset = `W${String(i).padStart(4, '0')}`;
    submit({ type: 'price', id: `p${i}`, ts: '2026-01-01T00:00:00Z', asset, quote: 'USD', price: `${i + 1}.5` });
    submit({ type: 'trade', id: `t${i}`, ts: '2026-01-01T00:00:01Z', book: i % 3 === 0 ? 'b2' : 'b1', venue: 'okx', instrument: `${asset}/USD`, side: 'buy', qty: '2', price: `${i + 1}` });
  }
  return ledger;
}

/** Counts the steps a generator yields. */
function* counted<T>(steps: Generator<void, T>, count: { n: number }): Generator<void, T> {
  for (;;) {
    const r = steps.next();
    if (r.done === true) return r.value;
    count.n++;
    yield;
  }
}

describe('runSliced', () => {
  it('gives the synchronous report, byte for byte, while yielding to the event loop between steps', async () => {
    const ledger = wideLedger(1500);
    const count = { n: 0 };
    const busy = { ms: 0 };
    const sliced = await runSliced(counted(reportSteps(ledger), count), 0, busy);
    expect(JSON.stringify(sliced)).toBe(JSON.stringify(buildReport(ledger)));
    expect(count.n).toBeGreaterThanOrEqual(Math.floor(1500 / REPORT_STEP));
    expect(busy.ms).toBeGreaterThan(0);
    expect(sliced.positions).toHaveLength(1500);
    expect(sliced.books.map((b) => b.book)).toEqual(['b1', 'b2']);
    expect(Dec.of(sliced.books[0]!.unrealizedPnl!).isPos()).toBe(true);
    const update = await runSliced(bookUpdateSteps(ledger, 'b1'), 0);
    expect(JSON.stringify(update)).toBe(JSON.stringify(buildBookUpdate(ledger, 'b1')));
    expect(await runSliced(bookUpdateSteps(ledger, 'nosuch'))).toBeUndefined();
  });
});
