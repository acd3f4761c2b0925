/**
 * The checkpoint serializes a large book a piece at a time (snapshotBookJson):
 * the pieces joined are exactly JSON.stringify of the snapshot, and restore to the same state.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { newLedger, parse, scenarioArb, shuffle } from '../../test/support/scenarios.js';
import { COST_METHODS } from './lots.js';
import { buildReport } from './report.js';
import { restoreBook, snapshotBook, snapshotBookJson, type BookSnapshot } from './snapshot.js';

describe('snapshots in pieces', () => {
  it('joined, the pieces are JSON.stringify of the snapshot, and restore the same book', () => {
    fc.assert(
      fc.property(scenarioArb, fc.nat(), fc.constantFrom(...COST_METHODS), fc.constantFrom<'book' | 'venue'>('book', 'venue'), (s, seed, method, pool) => {
        const l = newLedger({ defaults: { method, fees: 'separate', pool } });
        for (const w of shuffle([...s.base, ...s.corrections], seed)) l.submit(parse(l, w));
        for (const b of l.checkpoint()) {
          const text = [...snapshotBookJson(b.state)].join('');
          expect(text).toBe(JSON.stringify(snapshotBook(b.state)));
          const back = newLedger({ defaults: { method, fees: 'separate', pool } });
          back.adoptBook(restoreBook(JSON.parse(text) as BookSnapshot));
          for (const m of l.marks.series()) for (const p of m[2]) back.marks.add(m[0], m[1], p.ts, p.id, p.price);
          expect(JSON.stringify(buildReport(back, { books: [b.book], lots: true, includeFlat: true }))).toBe(JSON.stringify(buildReport(l, { books: [b.book], lots: true, includeFlat: true })));
        }
      }),
      { numRuns: 150 },
    );
  });

  it('a position of thousands of lots comes in several pieces, which join to the same text', () => {
    const l = newLedger({ defaults: { method: 'fifo', fees: 'separate', pool: 'book' } });
    for (let i = 0; i < 2500; i++) {
      l.submit(parse(l, { type: 'trade', id: `t${i}`, ts: `2026-01-01T00:00:${String(i % 60).padStart(2, '0')}Z`, book: 'b1', venue: 'v1', instrument: 'BTC/USD', side: 'buy', qty: '0.01', price: String(100 + (i % 7)) }));
    }
    const state = l.checkpoint()[0]!.state;
    const pieces = [...snapshotBookJson(state)];
    expect(pieces.join('')).toBe(JSON.stringify(snapshotBook(state)));
    // The head, three pieces of at most 1,024 lots, the tail.
    expect(pieces.length).toBeGreaterThanOrEqual(5);
    expect(Math.max(...pieces.map((x) => x.length))).toBeLessThan(pieces.join('').length / 2);
  });
});
