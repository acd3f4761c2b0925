/**
 * The live service's booking (windows trimmed at random, history loaded from the store on demand,
 * restarts from a checkpoint) gives exactly the state of a clean replay of the sorted, corrected
 * log, whatever the arrival order and corrections. The store here is an in-memory model of the
 * PostgreSQL one (the real one passes the same contract in store.int.test.ts).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareEvents, compareLog, isBookEvent, type LedgerEvent } from '../domain/events.js';
import type { BookBase, Ledger } from '../domain/ledger.js';
import type { Key } from '../domain/marks.js';
import { restoreBook, restoreMarks, snapshotBook, snapshotMarks, type BookSnapshot, type MarksSnapshot } from '../domain/snapshot.js';
import { correctedLog, documentOf, newLedger, parse, scenarioArb, shuffle, T0 } from '../../test/support/scenarios.js';
import { submitWithHistory, type HistoryStore } from './history.js';

/** The store's contract, on arrays: what was committed, and the bases kept by trims. */
export class MemoryHistory implements HistoryStore {
  readonly events: LedgerEvent[] = [];
  /** How many of `events` were submitted: the rest are committed, not booked yet. */
  booked = 0;
  readonly bases = new Map<string, { key: Key; snap: string }[]>();
  loads = 0;

  keep(book: string, base: BookBase): void {
    const list = this.bases.get(book) ?? [];
    list.push({ key: base.key, snap: JSON.stringify(snapshotBook(base.state)) });
    this.bases.set(book, list);
  }

  baseBefore(book: string, before: Key): Promise<BookBase | undefined> {
    let best: { key: Key; snap: string } | undefined;
    for (const b of this.bases.get(book) ?? []) if (compareEvents(b.key, before) < 0 && (best === undefined || compareEvents(best.key, b.key) < 0)) best = b;
    return Promise.resolve(best === undefined ? undefined : { key: best.key, state: restoreBook(JSON.parse(best.snap) as BookSnapshot) });
  }

  bookEvents(book: string, from: Key | undefined): Promise<LedgerEvent[]> {
    this.loads++;
    const amended = new Set(this.visible().filter((e) => e.type === 'amend').map((e) => (e as { target: string }).target));
    const picked = this.visible().filter((e) => isBookEvent(e) && e.book === book && (from === undefined || e.ts >= from.ts || amended.has(e.id)));
    return Promise.resolve(this.withCorrections(picked));
  }

  eventWithCorrections(id: string): Promise<LedgerEvent[]> {
    return Promise.resolve(this.withCorrections(this.visible().filter((e) => e.id === id)));
  }

  dropBases(book: string, from: Key): Promise<void> {
    const list = this.bases.get(book);
    if (list !== undefined) this.bases.set(book, list.filter((b) => compareEvents(b.key, from) < 0));
    return Promise.resolve();
  }

  private visible(): LedgerEvent[] {
    return this.events.slice(0, this.booked);
  }

  private withCorrections(picked: LedgerEvent[]): LedgerEvent[] {
    const out = [...picked];
    let ids = new Set(picked.map((e) => e.id));
    for (let round = 0; round < 2 && ids.size > 0; round++) {
      const more = this.visible().filter((e) => (e.type === 'cancel' || e.type === 'amend') && ids.has(e.target));
      out.push(...more);
      ids = new Set(more.map((e) => e.id));
    }
    return out;
  }
}

/** A restart: a new ledger from the old one's checkpoint (through JSON, as the store keeps it). */
async function restart(old: Ledger, store: MemoryHistory, snapshotEvery: number): Promise<Ledger> {
  const l = newLedger({ snapshotEvery });
  restoreMarks(l.marks, JSON.parse(JSON.stringify(snapshotMarks(old.marks))) as MarksSnapshot);
  for (const cp of old.checkpoint()) {
    const state = restoreBook(JSON.parse(JSON.stringify(snapshotBook(cp.state))) as BookSnapshot);
    l.restoreBook(cp.book, cp.last, cp.consulted, state);
  }
  for (const id of old.pendingCorrections()) {
    const e = store.events.find((x) => x.id === id)!;
    await submitWithHistory(l, e, store);
  }
  return l;
}

describe('live booking with windows and history from the store', () => {
  it('random trims and restarts, any arrival order, any corrections: the state of a clean replay', async () => {
    let loads = 0;
    await fc.assert(
      fc.asyncProperty(
        scenarioArb,
        fc.integer({ min: 1, max: 4 }),
        fc.nat(),
        fc.array(fc.record({ action: fc.constantFrom('none', 'none', 'trim', 'trim', 'restart'), cut: fc.integer({ min: 0, max: 44 }), keep: fc.integer({ min: 0, max: 12 }), defer: fc.boolean(), forget: fc.nat(3) }), { minLength: 60, maxLength: 60 }),
        async (s, snapshotEvery, seed, actions) => {
          const arrival = shuffle([...s.base, ...s.corrections], seed);
          const store = new MemoryHistory();
          let live = newLedger({ snapshotEvery });
          for (const [i, w] of arrival.entries()) {
            const e = parse(live, w);
            store.events.push(e); // committed first, booked after
            const r = await submitWithHistory(live, e, store);
            store.booked++;
            expect(r.status).not.toBe('history');
            const a = actions[i % actions.length]!;
            // A deferred trim leaves ids held, let go of a few at a time between events (as the service does).
            live.forgetSome(a.forget);
            if (a.action === 'trim') for (const b of live.trim(T0 + a.cut * 1_000_000, a.keep, { deferForget: a.defer })) store.keep(b.book, b.base);
            else if (a.action === 'restart') live = await restart(live, store, snapshotEvery);
          }
          loads += store.loads;

          const clean = newLedger({ snapshotEvery: 1_000_000 });
          const sorted = correctedLog(s).map((w) => parse(clean, w)).sort(compareLog);
          for (const e of sorted) clean.submit(e);
          expect(documentOf(live)).toBe(documentOf(clean));
        },
      ),
      { numRuns: 300 },
    );
    // The property exercised the history path, not only the in-memory one.
    expect(loads).toBeGreaterThan(50);
  });
});
