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

  it('sized for an expected count: the same answers as unsized, and no growth up to that count', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ minLength: 1, maxLength: 12 }), { maxLength: 300 }), fc.nat({ max: 300_000 }), (ids, expected) => {
        const sized = new IdHashSet(expected);
        const plain = new IdHashSet();
        for (const id of ids) expect(sized.add(id)).toBe(plain.add(id));
        expect(sized.size).toBe(plain.size);
      }),
      { numRuns: 50 },
    );
    const s = new IdHashSet(100_000);
    const slots = s.tables().slots.length;
    expect(slots / 2).toBeGreaterThan(200_000);
    for (let i = 0; i < 100_000; i++) s.add(`f${i}`);
    expect(s.tables().slots.length).toBe(slots);
    s.add('one more, and more');
    for (let i = 0; i < 100_000; i++) s.add(`g${i}`);
    expect(s.tables().slots.length).toBeGreaterThan(slots);
    for (let i = 0; i < 100_000; i += 331) expect(s.add(`f${i}`)).toBe(true);
  });

  it('grows past its initial table without losing ids', () => {
    const s = new IdHashSet();
    for (let i = 0; i < 200_000; i++) expect(s.add(`f${i}`)).toBe(false);
    for (let i = 0; i < 200_000; i += 997) expect(s.add(`f${i}`)).toBe(true);
    expect(s.size).toBe(200_000);
  });

  it('ids that differ only in a serial number (leading zeros, long numbers, shared numbers across prefixes) stay apart', () => {
    const s = new IdHashSet();
    const ids: string[] = [];
    for (let i = 0; i < 40_000; i++) ids.push(`f${i}`, `p${i}`, `trade-${String(i).padStart(6, '0')}`, `x${i}y`, `${i}`, `acct/7/${1234567890123 + i}`);
    for (const id of ids) expect(s.add(id), id).toBe(false);
    for (const id of ids) expect(s.add(id), id).toBe(true);
    expect(s.size).toBe(ids.length);
    const copy = IdHashSet.fromTables(s.tables());
    for (let i = 0; i < ids.length; i += 101) expect(copy.add(ids[i]!)).toBe(true);
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
