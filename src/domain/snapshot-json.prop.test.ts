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
});
