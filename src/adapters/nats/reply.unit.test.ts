/**
 * A JetStream message's stream sequence, consumer sequence and delivery count, read from its
 * reply subject (`deliveryOf`) in each of the forms the server writes, and the client's own
 * parse when the subject is not one of them.
 */
import fc from 'fast-check';
import type { JsMsg } from '@nats-io/jetstream';
import { describe, expect, it } from 'vitest';
import { deliveryOf } from './jetstream.js';

const msg = (reply: string): JsMsg =>
  ({ reply, info: { streamSequence: -1, deliverySequence: -2, deliveryCount: -3 } }) as unknown as JsMsg;

describe('deliveryOf', () => {
  it('reads the old form, the form with domain and account hash, and that with a token', () => {
    const n = fc.integer({ min: 1, max: 2 ** 52 });
    fc.assert(
      fc.property(n, n, n, (seq, dseq, count) => {
        const tail = `${count}.${seq}.${dseq}.1796617677095000000.42`;
        for (const reply of [`$JS.ACK.STREAM_1.svc.${tail}`, `$JS.ACK.hub.ACCHASH.STREAM_1.svc.${tail}`, `$JS.ACK.hub.ACCHASH.STREAM_1.svc.${tail}.tok3n`]) {
          expect(deliveryOf(msg(reply))).toEqual({ seq, dseq, count });
        }
      }),
    );
  });

  it('leaves any other subject to the client', () => {
    const fallback = { seq: -1, dseq: -2, count: -3 };
    for (const reply of ['_INBOX.abc', '$JS.ACK.S.c.1.2.3.4', '$JS.ACK.S.c.1.x2.3.4.5', '$JS.ACK.S.c.1.0.3.4.5', '$JS.ACK.S.c.1..3.4.5']) {
      expect(deliveryOf(msg(reply))).toEqual(fallback);
    }
  });
});
