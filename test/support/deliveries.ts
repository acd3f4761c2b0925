/** Test helpers for EventSource iterations (src/adapters/nats tests, and the service's). */
import type { Delivery } from '../../src/app/ports.js';

/**
 * Reads an iterator of deliveries with timeouts. A `next()` still pending when a wait timed out is
 * reused by the following read, so no delivery is lost to an abandoned call.
 */
export class Reader {
  private pending: Promise<IteratorResult<Delivery>> | undefined;
  private readonly it: AsyncIterator<Delivery>;

  constructor(deliveries: AsyncIterable<Delivery>) {
    this.it = deliveries[Symbol.asyncIterator]();
  }

  /** The next delivery, or undefined when none comes within `ms` (or the iteration ended). */
  async next(ms: number): Promise<Delivery | undefined> {
    const r = await this.within(ms);
    return r === 'timeout' || r.done === true ? undefined : r.value;
  }

  /** The iteration has ended (within `ms`). */
  async ended(ms: number): Promise<boolean> {
    const r = await this.within(ms);
    return r !== 'timeout' && r.done === true;
  }

  private async within(ms: number): Promise<IteratorResult<Delivery> | 'timeout'> {
    this.pending ??= this.it.next();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => { timer = setTimeout(() => resolve('timeout'), ms); });
    const r = await Promise.race([this.pending, timeout]);
    clearTimeout(timer);
    if (r !== 'timeout' && r.done !== true) this.pending = undefined;
    return r;
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
