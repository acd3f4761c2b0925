/**
 * A compact set of ids for the streaming replay: 64-bit hashes in one typed array (8 bytes a
 * slot, the two halves side by side so a probe touches one cache line), at most half full, so 10M
 * ids take a few hundred megabytes less than a Map of strings would, and far less time.
 *
 * It can answer "maybe seen" for an id never seen (two ids with equal 64-bit hashes), never "not
 * seen" for one that was. The streaming replay treats "maybe seen" as "replay with retention",
 * which decides exactly: a false positive costs time, never correctness.
 */

const INITIAL_SLOTS = 1 << 16;

export class IdHashSet {
  /** Slot i holds hash halves at [2i] and [2i + 1]; (0, 0) is empty. */
  private slots: Uint32Array;
  private mask: number;
  private count = 0;

  constructor() {
    this.slots = new Uint32Array(INITIAL_SLOTS * 2);
    this.mask = INITIAL_SLOTS - 1;
  }

  get size(): number {
    return this.count;
  }

  /** The hash table, to hand the set to another thread. */
  tables(): { slots: Uint32Array; count: number } {
    return { slots: this.slots, count: this.count };
  }

  static fromTables(t: { slots: Uint32Array; count: number }): IdHashSet {
    const s = new IdHashSet();
    s.slots = t.slots;
    s.mask = t.slots.length / 2 - 1;
    s.count = t.count;
    return s;
  }

  /** True when `f` holds for some hash in the set. */
  some(f: (a: number, b: number) => boolean): boolean {
    const t = this.slots;
    for (let i = 0; i < t.length; i += 2) {
      const a = t[i]!;
      const b = t[i + 1]!;
      if ((a !== 0 || b !== 0) && f(a, b)) return true;
    }
    return false;
  }

  hasHash(a: number, b: number): boolean {
    const t = this.slots;
    let i = (a ^ Math.imul(b, 0x9e3779b1)) & this.mask;
    for (;;) {
      const x = t[2 * i]!;
      const y = t[2 * i + 1]!;
      if (x === 0 && y === 0) return false;
      if (x === a && y === b) return true;
      i = (i + 1) & this.mask;
    }
  }

  /** Adds `id`; returns true when it (or an id with the same hash) was already there. */
  add(id: string): boolean {
    let a = 0x811c9dc5;
    let b = 0x9747b28c;
    for (let i = 0; i < id.length; i++) {
      const c = id.charCodeAt(i);
      a = Math.imul(a ^ c, 0x01000193);
      b = Math.imul(b ^ c, 0x5bd1e995);
      b ^= b >>> 15;
    }
    a = Math.imul(a ^ (a >>> 16), 0x85ebca6b);
    a = Math.imul(a ^ (a >>> 13), 0xc2b2ae35);
    a = (a ^ (a >>> 16)) >>> 0;
    b = Math.imul(b ^ (b >>> 16), 0x7feb352d);
    b = Math.imul(b ^ (b >>> 15), 0x846ca68b);
    b = (b ^ (b >>> 16)) >>> 0;
    // (0, 0) marks an empty slot.
    if (a === 0 && b === 0) b = 1;
    return this.insert(a, b);
  }

  private insert(a: number, b: number): boolean {
    const t = this.slots;
    let i = (a ^ Math.imul(b, 0x9e3779b1)) & this.mask;
    for (;;) {
      const x = t[2 * i]!;
      const y = t[2 * i + 1]!;
      if (x === 0 && y === 0) break;
      if (x === a && y === b) return true;
      i = (i + 1) & this.mask;
    }
    t[2 * i] = a;
    t[2 * i + 1] = b;
    this.count++;
    if (this.count * 2 > this.mask) this.grow();
    return false;
  }

  private grow(): void {
    const old = this.slots;
    // Doubling: growing faster rehashes less but, at 10M ids, holds twice the memory.
    this.slots = new Uint32Array(old.length * 2);
    this.mask = old.length - 1;
    this.count = 0;
    for (let i = 0; i < old.length; i += 2) {
      const a = old[i]!;
      const b = old[i + 1]!;
      if (a !== 0 || b !== 0) this.insert(a, b);
    }
  }
}

/** True when some hash is in both sets: ids that may be shared (the sharded replay then replays whole). */
export function intersects(a: IdHashSet, b: IdHashSet): boolean {
  const [small, large] = a.size <= b.size ? [a, b] : [b, a];
  return small.some((x, y) => large.hasHash(x, y));
}
