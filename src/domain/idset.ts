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
/** The most slots a size hint makes at the start (33M ids; more are grown into as they come). */
const MAX_SIZED_SLOTS = 1 << 26;

export class IdHashSet {
  /** Slot i holds hash halves at [2i] and [2i + 1]; (0, 0) is empty. */
  private slots: Uint32Array;
  private mask: number;
  private count = 0;

  /**
   * `expected`: about how many ids it will hold (a hint; it grows past it). Sized for them at once,
   * it skips the growths on the way (each a pass over the table, and the old table and the new one
   * held together at the last: at 10M ids, 128 MB beside 256 MB).
   */
  constructor(expected = 0) {
    let slots = INITIAL_SLOTS;
    // At most half full (see insert): room for `expected` ids is more than twice as many slots.
    // A hint sizes it up to MAX_SIZED_SLOTS (512 MB): past that, a wrong guess would cost too much.
    while (slots <= 2 * expected && slots < MAX_SIZED_SLOTS) slots *= 2;
    this.slots = new Uint32Array(slots * 2);
    this.mask = slots - 1;
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
    let i = a & this.mask;
    for (;;) {
      const x = t[2 * i]!;
      const y = t[2 * i + 1]!;
      if (x === 0 && y === 0) return false;
      if (x === a && y === b) return true;
      i = (i + 1) & this.mask;
    }
  }

  /**
   * Adds `id`; returns true when it (or an id with the same hash) was already there.
   *
   * The key is two 32-bit halves. `b` hashes the whole id. `a`, whose low bits pick the slot, keeps
   * ids that differ only in a trailing serial number (f1000, f1001, …) together: its high bits hash
   * the rest of the id and the serial number's block of 16, its low 4 bits are the serial number
   * within the block (shifted by the rest's hash). A log's ids, mostly in serial order, then fill
   * one cache line after another instead of missing the cache at every insert; ids without a
   * serial number spread as any hash does. Two ids share a key only if both halves agree.
   */
  add(id: string): boolean {
    const n = id.length;
    // The serial number: up to 9 trailing digits.
    let j = n;
    let serial = 0;
    for (let scale = 1; j > 0 && n - j < 9; scale *= 10) {
      const c = id.charCodeAt(j - 1);
      if (c < 48 || c > 57) break;
      serial += (c - 48) * scale;
      j--;
    }
    let a = 0x811c9dc5;
    let b = 0x9747b28c;
    for (let i = 0; i < n; i++) {
      const c = id.charCodeAt(i);
      if (i < j) a = Math.imul(a ^ c, 0x01000193);
      b = Math.imul(b ^ c, 0x5bd1e995);
      b ^= b >>> 15;
    }
    const rest = fmix(a);
    const block = fmix((rest + Math.imul(serial >>> 4, 0x9e3779b1)) | 0);
    a = ((block & ~15) | ((rest + serial) & 15)) >>> 0;
    b = Math.imul(b ^ (b >>> 16), 0x7feb352d);
    b = Math.imul(b ^ (b >>> 15), 0x846ca68b);
    b = (b ^ (b >>> 16)) >>> 0;
    // (0, 0) marks an empty slot.
    if (a === 0 && b === 0) b = 1;
    return this.insert(a, b);
  }

  private insert(a: number, b: number): boolean {
    const t = this.slots;
    let i = a & this.mask;
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
    const t = new Uint32Array(old.length * 2);
    const mask = old.length - 1;
    // Every key is distinct: place each at its first free slot (no comparisons, no count).
    for (let k = 0; k < old.length; k += 2) {
      const a = old[k]!;
      const b = old[k + 1]!;
      if (a === 0 && b === 0) continue;
      let i = a & mask;
      while (t[2 * i] !== 0 || t[2 * i + 1] !== 0) i = (i + 1) & mask;
      t[2 * i] = a;
      t[2 * i + 1] = b;
    }
    this.slots = t;
    this.mask = mask;
  }
}

/** A bijective 32-bit finaliser (MurmurHash3's). */
function fmix(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** True when some hash is in both sets: ids that may be shared (the sharded replay then replays whole). */
export function intersects(a: IdHashSet, b: IdHashSet): boolean {
  const [small, large] = a.size <= b.size ? [a, b] : [b, a];
  return small.some((x, y) => large.hasHash(x, y));
}
