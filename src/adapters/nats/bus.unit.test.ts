/**
 * The in-process bus has the JetStream behaviours the service relies on: ack is final, nak and
 * the ack wait redeliver (flagged), term drops, msgId dedup within the window, exact pending,
 * at most maxInFlight unacked, no buffering past a consumer that stops; and local update fan-out.
 */
import { describe, expect, it } from 'vitest';
import type { Delivery } from '../../app/ports.js';
import { Reader, sleep } from '../../../test/support/deliveries.js';
import { InProcessBus } from './bus.js';

const enc = new TextEncoder();
const dec = new TextDecoder();

function publishN(bus: InProcessBus, n: number, from = 0): void {
  for (let i = from; i < from + n; i++) bus.publish(`utl.events.b${i % 3}`, enc.encode(`m${i}`), `id-${i}`);
}

describe('InProcessBus', () => {
  it('delivers in order with subject, data, seq and msgId; acked messages never come again', async () => {
    const bus = new InProcessBus({ ackWaitMs: 50 });
    publishN(bus, 20);
    const src = bus.source();
    const it = new Reader(src.deliveries());
    for (let i = 0; i < 20; i++) {
      const d = (await it.next(100))!;
      expect([d.seq, d.subject, dec.decode(d.data), d.msgId, d.redelivered]).toEqual([i + 1, `utl.events.b${i % 3}`, `m${i}`, `id-${i}`, false]);
      d.ack();
    }
    await src.close();
    expect(await it.ended(100)).toBe(true);

    const again = new Reader(bus.source().deliveries());
    expect(await again.next(120)).toBeUndefined(); // past the ack wait too
    expect(bus.inFlightCount()).toBe(0);
  });

  it('nak(ms) redelivers the message after the delay, flagged redelivered', async () => {
    const bus = new InProcessBus();
    publishN(bus, 2);
    const it = new Reader(bus.source().deliveries());
    const first = (await it.next(100))!;
    const t0 = Date.now();
    first.nak(50);
    first.ack(); // settled already: ignored
    const second = (await it.next(100))!;
    expect([second.seq, second.redelivered]).toEqual([2, false]);
    second.ack();
    const again = (await it.next(200))!;
    expect(Date.now() - t0).toBeGreaterThanOrEqual(45);
    expect([again.seq, again.redelivered, again.msgId]).toEqual([1, true, 'id-0']);
    again.ack();
    expect(await it.next(80)).toBeUndefined();
  });

  it('redelivers after the ack wait, also to a new source after close', async () => {
    const bus = new InProcessBus({ ackWaitMs: 40 });
    publishN(bus, 1);
    const src = bus.source();
    const d = (await new Reader(src.deliveries()).next(100))!;
    await src.close();
    const it = new Reader(bus.source().deliveries());
    const again = (await it.next(200))!;
    expect([again.seq, again.redelivered]).toEqual([1, true]);
    d.ack(); // the old delivery: too late, the message is out again
    expect(bus.inFlightCount()).toBe(1);
    again.ack();
    expect(bus.inFlightCount()).toBe(0);
  });

  it('term drops the message for good', async () => {
    const bus = new InProcessBus({ ackWaitMs: 30 });
    publishN(bus, 1);
    const it = new Reader(bus.source().deliveries());
    (await it.next(100))!.term('poison');
    expect(await it.next(100)).toBeUndefined();
    expect(bus.inFlightCount()).toBe(0);
  });

  it('drops a repeated msgId within the duplicate window, accepts it after', () => {
    let now = 1_000;
    const bus = new InProcessBus({ duplicateWindowMs: 100, now: () => now });
    expect(bus.publish('e', enc.encode('a'), 'x')).toEqual({ seq: 1, duplicate: false });
    expect(bus.publish('e', enc.encode('a'), 'x')).toEqual({ seq: 0, duplicate: true });
    expect(bus.publish('e', enc.encode('b'))).toEqual({ seq: 2, duplicate: false });
    expect(bus.publish('e', enc.encode('b'))).toEqual({ seq: 3, duplicate: false }); // no msgId: no dedup
    now += 99;
    expect(bus.publish('e', enc.encode('a'), 'x').duplicate).toBe(true);
    now += 1;
    expect(bus.publish('e', enc.encode('a'), 'x')).toEqual({ seq: 4, duplicate: false });
    expect(bus.pendingCount()).toBe(4);
  });

  it('pending() counts the messages not yet delivered', async () => {
    const bus = new InProcessBus();
    const src = bus.source();
    expect(await src.pending()).toBe(0);
    publishN(bus, 30);
    expect(await src.pending()).toBe(30);
    const it = new Reader(src.deliveries());
    for (let i = 0; i < 10; i++) (await it.next(100))!.ack();
    expect(await src.pending()).toBe(20);
  });

  it('keeps at most maxInFlight unacked, and resumes when they are acked', async () => {
    const bus = new InProcessBus({ maxInFlight: 5 });
    publishN(bus, 12);
    const it = new Reader(bus.source().deliveries());
    const held: Delivery[] = [];
    for (let i = 0; i < 5; i++) held.push((await it.next(100))!);
    expect(await it.next(50)).toBeUndefined(); // blocked
    expect([bus.inFlightCount(), bus.pendingCount()]).toEqual([5, 7]);
    held[0]!.ack();
    expect((await it.next(100))?.seq).toBe(6);
  });

  it('buffers nothing for a consumer that stops iterating', async () => {
    const bus = new InProcessBus();
    publishN(bus, 100);
    const it = new Reader(bus.source().deliveries());
    (await it.next(100))!.ack();
    expect(await it.next(100)).toBeDefined(); // held, not acked
    await sleep(20);
    expect([bus.inFlightCount(), bus.pendingCount()]).toEqual([1, 98]);
  });

  it('a consumer waiting on an empty bus gets what is published later', async () => {
    const bus = new InProcessBus();
    const it = new Reader(bus.source().deliveries());
    const waiting = it.next(500);
    setTimeout(() => bus.publish('late', enc.encode('x')), 10);
    expect((await waiting)?.subject).toBe('late');
  });

  it('fans updates out to the subscribers whose prefix matches, sparing them a failing one', async () => {
    const bus = new InProcessBus();
    const got: string[] = [];
    bus.subscribe('utl.updates.', () => { throw new Error('listener bug'); });
    const off = bus.subscribe('utl.updates.', (s, p) => got.push(`${s}=${dec.decode(p)}`));
    bus.subscribe('utl.updates.desk-a', (s) => got.push(`a:${s}`));
    const sink = bus.sink();
    sink.publish('utl.updates.desk-a', enc.encode('1'));
    sink.publish('utl.other', enc.encode('2'));
    off();
    sink.publish('utl.updates.desk-b', enc.encode('3'));
    await sink.close();
    expect(got).toEqual(['utl.updates.desk-a=1', 'a:utl.updates.desk-a']);
  });
});
