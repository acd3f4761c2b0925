import { describe, expect, it } from 'vitest';
import { Dec } from './decimal.js';
import { END_TS, Marks } from './marks.js';

describe('marks', () => {
  it('a mark seen twice under the same key is one point (a restart may apply it from the journal and the tail): removing it removes it', () => {
    const m = new Marks('USD', new Set());
    m.journal();
    m.add('BTC', 'USD', 10, 'p1', Dec.of('100'));
    m.add('BTC', 'USD', 20, 'p2', Dec.of('110'));
    const clock = m.clock;
    m.add('BTC', 'USD', 10, 'p1', Dec.of('100')); // again, in the middle
    m.add('BTC', 'USD', 20, 'p2', Dec.of('110')); // again, at the end
    expect(m.series()[0]![2].map((p) => p.id)).toEqual(['p1', 'p2']);
    expect(m.clock).toBe(clock); // nothing changed, nothing stamped
    expect(m.takeJournal().map((e) => e[3])).toEqual(['p1', 'p2']);
    expect(m.remove('BTC', 'USD', { ts: 20, id: 'p2' })).toBe(true);
    expect(m.rate('BTC', END_TS)?.toString()).toBe('100');
    expect(m.takeJournal()).toEqual([['BTC', 'USD', 20, 'p2', null]]);
  });
});
