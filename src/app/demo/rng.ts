/**
 * A small deterministic PRNG for the demo desk (mulberry32): the same seed gives the same
 * sequence on every machine, unlike Math.random. It only chooses; it never holds money (amounts
 * are built from the integers it returns).
 */
export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** The next 32-bit unsigned integer. */
  nextU32(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** A whole number in [lo, hi], both included. */
  int(lo: number, hi: number): number {
    return lo + (this.nextU32() % (hi - lo + 1));
  }

  /** True with probability `percent` / 100. */
  chance(percent: number): boolean {
    return this.nextU32() % 100 < percent;
  }

  pick<T>(items: readonly T[]): T {
    const item = items[this.nextU32() % items.length];
    if (item === undefined) throw new Error('Rng.pick: empty list');
    return item;
  }
}
