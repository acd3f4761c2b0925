/**
 * The id-hash set: never "not seen" for an id it holds, through growth and a hand-over between
 * threads (tables); intersection finds a shared id.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IdHashSet, intersects } from './idset.js';

describe('IdHashSet', () => {
  it('remembers every id added, through growth, and counts distinct ids', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ minLength: 1, maxLength: 12 }), { maxLength: 400 }), (ids) => {
        const s = new IdHashSet();
        const distinct = new Set<string>();
        for (const id of ids) {
          expect(s.add(id)).toBe(distinct.has(id));
          distinct.add(id);
        }
        expect(s.size).toBe(distinct.size);
        const copy = IdHashSet.fromTables(s.tables());
        for (const id of distinct) expect(copy.add(id)).toBe(true);
      }),
    );
  });

  it('grows past its initial table without losing ids', () => {
    const s = new IdHashSet();
    for (let i = 0; i < 200_000; i++) expect(s.add(`f${i}`)).toBe(false);
    for (let i = 0; i < 200_000; i += 997) expect(s.add(`f${i}`)).toBe(true);
    expect(s.size).toBe(200_000);
  });

  it('intersects when, and only when, an id is in both (for distinct small sets)', () => {
    const a = new IdHashSet();
    const b = new IdHashSet();
    for (let i = 0; i < 1000; i++) a.add(`a${i}`);
    for (let i = 0; i < 1000; i++) b.add(`b${i}`);
    expect(intersects(a, b)).toBe(false);
    b.add('a500');
    expect(intersects(a, b)).toBe(true);
  });
});
