/**
 * Drives the demo desk against a running service: every `tickMs` it advances the desk to the
 * clock and sends what came due through the service's way in, the in-process bus (as a producer
 * would over NATS, one message per event, its id as the message id), or `submit` when the
 * service reads NATS. The desk stays pure; the clock and the I/O are here.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { InProcessBus } from '../../adapters/nats/bus.js';
import type { Service } from '../service.js';
import { DemoDesk, type DeskOptions, type WireEvent } from './desk.js';

export interface DemoTarget {
  readonly service: Service;
  /** The in-process bus; undefined: events go through `service.submit`. */
  readonly bus: InProcessBus | undefined;
  /** Inbound subjects are `<subjectPrefix>.<book>` (`global` for marks, terms and reports). */
  readonly subjectPrefix: string;
}

export interface RunnerOptions {
  readonly tickMs: number;
  /** Stop by itself after this long (undefined: until `stop()`). */
  readonly durationMs: number | undefined;
  readonly clock: () => number;
}

export const DEFAULT_RUNNER: RunnerOptions = { tickMs: 50, durationMs: undefined, clock: Date.now };

export class DemoRunner {
  readonly desk: DemoDesk;
  /** Events sent so far, and trades among them. */
  sent = 0;
  trades = 0;
  private readonly encoder = new TextEncoder();
  private readonly abort = new AbortController();
  private loop: Promise<void> | undefined;
  private readonly startMs: number;

  constructor(
    private readonly target: DemoTarget,
    desk: DeskOptions,
    private readonly options: RunnerOptions = DEFAULT_RUNNER,
  ) {
    this.startMs = options.clock();
    this.desk = new DemoDesk(desk, this.startMs);
  }

  /** Starts the loop; the promise settles when it ends (`stop()`, the duration, or a failure). */
  start(): Promise<void> {
    this.loop ??= this.run();
    return this.loop;
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.loop;
  }

  /** Advances the desk to now and sends what came due. */
  async step(): Promise<void> {
    const { events } = this.desk.advance(this.options.clock());
    if (events.length === 0) return;
    const bus = this.target.bus;
    if (bus !== undefined) {
      for (const e of events) bus.publish(`${this.target.subjectPrefix}.${typeof e.book === 'string' ? e.book : 'global'}`, this.encoder.encode(JSON.stringify(e)), e.id as string);
    } else {
      const r = await this.target.service.submit(events, 'demo');
      if (r.status >= 400) throw new Error(`utl demo: the service refused a batch (${r.status}): ${r.body.slice(0, 500)}`);
    }
    this.count(events);
  }

  private count(events: readonly WireEvent[]): void {
    this.sent += events.length;
    for (const e of events) if (e.type === 'trade') this.trades++;
  }

  private async run(): Promise<void> {
    const signal = this.abort.signal;
    const endMs = this.options.durationMs === undefined ? Infinity : this.startMs + this.options.durationMs;
    while (!signal.aborted && this.options.clock() < endMs) {
      await this.step();
      try {
        await sleep(this.options.tickMs, undefined, { signal });
      } catch (e) {
        if ((e as Error).name !== 'AbortError') throw e;
      }
    }
  }
}
