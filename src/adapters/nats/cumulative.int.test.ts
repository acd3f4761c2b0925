/**
 * Cumulative acks (`AckPolicy.All`, the default of a consumer created by `jetStreamSource`) against
 * the real NATS server (127.0.0.1:4222). The server takes an ack of message S as the ack of every
 * pending message at or below S, delivered to this process or not; these tests hold the source to
 * acking only what was settled, and never past a message it has not seen:
 * - a crash between commit and ack: the next process gets those messages again, even while it
 *   acks newer ones before their redelivery comes;
 * - a commit failure (nak) holds the acks of later batches until the nak'd messages are settled;
 * - poison (term) is covered by the ack and never redelivered, also as the last message;
 * - a consumer created with explicit acks keeps them.
 */
import { randomBytes } from 'node:crypto';
import { AckPolicy, DeliverPolicy, jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Delivery } from '../../app/ports.js';
import { Reader, sleep } from '../../../test/support/deliveries.js';
import { connectNats, ensureEventStream, jetStreamSource, publishAll, type NatsConnection } from './jetstream.js';

const NATS_URL = process.env.UTL_NATS_URL ?? '127.0.0.1:4222';
const RUN = randomBytes(4).toString('hex');
const enc = new TextEncoder();

describe('cumulative acks (real NATS)', () => {
  let nc: NatsConnection;
  const streams: string[] = [];
  let n = 0;

  async function freshStream(count: number): Promise<{ stream: string; publish: (from: number, count: number) => Promise<void> }> {
    n++;
    const stream = `UTL_TEST_ACKALL_${RUN}_${n}`;
    const prefix = `utl_test_ackall_${RUN}_${n}.events`;
    streams.push(stream);
    await ensureEventStream(nc, { stream, subjects: [`${prefix}.>`] });
    const publish = async (from: number, k: number): Promise<void> => {
      await publishAll(nc, Array.from({ length: k }, (_, i) => ({ subject: `${prefix}.book${(from + i) % 3}`, data: enc.encode(`{"i":${from + i}}`) })));
    };
    await publish(0, count);
    return { stream, publish };
  }

  const consumerInfo = async (stream: string): Promise<{ pending: number; floor: number; redelivered: number }> => {
    const i = await (await jetstreamManager(nc)).consumers.info(stream, 'svc');
    return { pending: i.num_ack_pending, floor: i.ack_floor.stream_seq, redelivered: i.num_redelivered };
  };

  /** An ack is sent without a reply: the server's count shows it a moment later, polled up to 3 s. */
  const settles = (check: () => Promise<void>): Promise<void> => vi.waitFor(check, { timeout: 3000, interval: 50 });

  beforeAll(async () => {
    nc = await connectNats(NATS_URL, 'utl-test-ackall');
  });

  afterAll(async () => {
    const jsm = await jetstreamManager(nc);
    for (const s of streams) await jsm.streams.delete(s).catch(() => false);
    await nc.close();
  });

  it('a crash between commit and ack: the next process gets those messages again, though it acks newer ones first', async () => {
    const { stream, publish } = await freshStream(100);
    // The first process: 1..40 committed and acked, 41..100 committed and never acked (killed).
    const ncA = await connectNats(NATS_URL, 'utl-test-ackall-a');
    const a = await jetStreamSource(ncA, { stream, consumer: 'svc', ackWaitMs: 1000 });
    const ra = new Reader(a.deliveries());
    for (let i = 1; i <= 100; i++) {
      const d = (await ra.next(2000))!;
      expect(d.seq).toBe(i);
      if (i <= 40) d.ack();
    }
    // the ack of 40 goes out with the next turn
    await settles(async () => expect(await consumerInfo(stream)).toMatchObject({ floor: 40, pending: 60 }));
    await ncA.close(); // no close() of the source: nothing more is sent

    // The second process starts at once and 50 new messages come: it gets them before the
    // redeliveries of 41..100 (due after the ack wait) and settles each at once. An ack of any of
    // them would ack 41..100 unseen, so none may go out until those are back and settled.
    const b = await jetStreamSource(nc, { stream, consumer: 'svc', ackWaitMs: 1000 });
    await publish(100, 50);
    const rb = new Reader(b.deliveries());
    const seen = new Map<number, boolean>();
    let floorBeforeRedelivery = -1;
    for (let d = await rb.next(3000); d !== undefined; d = seen.size < 110 ? await rb.next(3000) : undefined) {
      if (d.seq <= 100 && floorBeforeRedelivery < 0) floorBeforeRedelivery = (await consumerInfo(stream)).floor;
      seen.set(d.seq, d.redelivered);
      d.ack();
    }
    expect([...seen.keys()].sort((x, y) => x - y)).toEqual(Array.from({ length: 110 }, (_, i) => i + 41));
    for (let s = 41; s <= 100; s++) expect(seen.get(s)).toBe(true);
    expect(floorBeforeRedelivery).toBe(40); // nothing acked past the unseen ones
    // the acks resume once the server's pending count is the source's own (checked every 250 ms)
    await settles(async () => expect(await consumerInfo(stream)).toMatchObject({ floor: 150, pending: 0 }));
    // What comes again is only the new messages held unacked past their ack wait meanwhile
    // (duplicates), and it stops.
    for (let d = await rb.next(1500); d !== undefined; d = await rb.next(1500)) {
      expect([d.seq > 100, d.redelivered]).toEqual([true, true]);
      d.ack();
    }
    await settles(async () => expect((await consumerInfo(stream)).pending).toBe(0));
    await b.close();
  }, 20_000);

  it('a failed commit (nak) holds the acks of later batches until its messages come back and are settled', async () => {
    const { stream } = await freshStream(10);
    const src = await jetStreamSource(nc, { stream, consumer: 'svc', ackWaitMs: 5000 });
    const it = new Reader(src.deliveries());
    const first: Delivery[] = [];
    for (let i = 0; i < 10; i++) first.push((await it.next(2000))!);
    for (const d of first.slice(0, 5)) d.nak(300); // batch 1: the commit failed
    for (const d of first.slice(5)) d.ack(); // batch 2: committed
    await sleep(100);
    expect(await consumerInfo(stream)).toMatchObject({ floor: 0, pending: 10 }); // an ack of 10 would drop 1..5
    const again: number[] = [];
    for (let i = 0; i < 5; i++) {
      const d = (await it.next(2000))!;
      expect(d.redelivered).toBe(true);
      again.push(d.seq);
      d.ack();
    }
    expect(again).toEqual([1, 2, 3, 4, 5]);
    await settles(async () => expect(await consumerInfo(stream)).toMatchObject({ floor: 10, pending: 0 }));
    await src.close();
  });

  it('redeliveries of a nak\'d batch settled one turn apart still end in one ack over the later batch', async () => {
    const { stream } = await freshStream(10);
    const src = await jetStreamSource(nc, { stream, consumer: 'svc', ackWaitMs: 5000 });
    const it = new Reader(src.deliveries());
    const first: Delivery[] = [];
    for (let i = 0; i < 10; i++) first.push((await it.next(2000))!);
    for (const d of first.slice(0, 5)) d.nak(300);
    for (const d of first.slice(5)) d.ack();
    const again: Delivery[] = [];
    for (let i = 0; i < 5; i++) again.push((await it.next(2000))!);
    expect(again.map((d) => [d.seq, d.redelivered])).toEqual([1, 2, 3, 4, 5].map((s) => [s, true]));
    for (const d of again) {
      d.ack();
      await sleep(30); // each in its own turn: an ack of 1 alone would leave 6..10 unackable
      if (d.seq < 5) expect((await consumerInfo(stream)).floor).toBe(0);
    }
    await settles(async () => expect(await consumerInfo(stream)).toMatchObject({ floor: 10, pending: 0 }));
    await src.close();
  });

  it('poison (term) is covered by the ack, also as the last message: never redelivered', async () => {
    const { stream } = await freshStream(3);
    const src = await jetStreamSource(nc, { stream, consumer: 'svc', ackWaitMs: 400 });
    const it = new Reader(src.deliveries());
    (await it.next(2000))!.ack();
    (await it.next(2000))!.term('poison');
    (await it.next(2000))!.term('poison');
    expect(await it.next(1200)).toBeUndefined(); // three ack waits
    expect(await consumerInfo(stream)).toEqual({ floor: 3, pending: 0, redelivered: 0 });
    await src.close();
  });

  it('a consumer created with explicit acks keeps them: an ack covers its own message only', async () => {
    const { stream } = await freshStream(2);
    await (await jetstreamManager(nc)).consumers.add(stream, { durable_name: 'svc', ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All });
    const src = await jetStreamSource(nc, { stream, consumer: 'svc', ackWaitMs: 400 });
    const it = new Reader(src.deliveries());
    const one = (await it.next(2000))!;
    (await it.next(2000))!.ack();
    const again = (await it.next(1500))!;
    expect([one.seq, again.seq, again.redelivered]).toEqual([1, 1, true]);
    again.ack();
    await settles(async () => expect((await consumerInfo(stream)).pending).toBe(0));
    await src.close();
  });
});
