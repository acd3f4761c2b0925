/**
 * A NATS server restart in the middle of a consume: the connection reconnects, `consume()` pulls
 * again, every message still arrives (at least once) and the stream kept them all. The server is
 * a private one (its own port and store, test/support/nats-server.ts), so the restart never
 * disturbs the shared server that other test files use at the same time.
 */
import { randomBytes } from 'node:crypto';
import { jetstreamManager } from '@nats-io/jetstream';
import { describe, expect, it } from 'vitest';
import { Reader, sleep } from '../../../test/support/deliveries.js';
import { privateNats } from '../../../test/support/nats-server.js';
import { connectNats, ensureEventStream, jetStreamSource, publishAll, type OutboundMessage } from './jetstream.js';

describe('JetStream source across a NATS server restart', () => {
  it('keeps consuming after the restart; every message arrives and the stream kept them', async () => {
    const nats = await privateNats();
    const nc = await connectNats(nats.url, 'utl-restart-test');
    const events: string[] = [];
    void (async () => { for await (const s of nc.status()) events.push(s.type); })();
    const run = randomBytes(4).toString('hex');
    const stream = `UTL_TEST_${run}`;
    const prefix = `utl_test_${run}.events`;
    const enc = new TextEncoder();
    const batch = (from: number, count: number): OutboundMessage[] => Array.from({ length: count }, (_, k) => ({
      subject: `${prefix}.book${(from + k) % 4}`, data: enc.encode(`{"i":${from + k},"pad":"${'x'.repeat(200)}"}`), msgId: `m-${from + k}`,
    }));
    const N = 5000;
    const MORE = 100;
    let restart: Promise<void> | undefined;
    let down = false;
    let restarted = false;
    try {
      await ensureEventStream(nc, { stream, subjects: [`${prefix}.>`] });
      await publishAll(nc, batch(0, N));
      const src = await jetStreamSource(nc, { stream, consumer: 'svc', batch: 500, ackWaitMs: 2000 });
      const it = new Reader(src.deliveries());
      const seen = new Set<number>();
      let redelivered = 0;
      const t0 = Date.now();
      const deadline = t0 + 15_000;
      while (seen.size < N + MORE && Date.now() < deadline) {
        const d = await it.next(5000);
        if (d === undefined) break;
        if (d.redelivered) redelivered++;
        seen.add(d.seq);
        d.ack();
        if (seen.size === 1500 && restart === undefined) {
          down = true;
          restart = nats.restart().then(() => { restarted = true; });
        }
        // consume slowly while the server is away, so that the iteration spans the downtime
        if (restart !== undefined && !restarted) await sleep(2);
        // after the restart, new messages too
        if (seen.size === N) await publishAll(nc, batch(N, MORE));
      }
      await restart;
      await src.close();

      expect(down).toBe(true);
      expect(events).toContain('disconnect');
      expect(events).toContain('reconnect');
      expect(seen.size).toBe(N + MORE);
      expect(Math.min(...seen)).toBe(1);
      expect(Math.max(...seen)).toBe(N + MORE);
      const info = await (await jetstreamManager(nc)).streams.info(stream);
      expect([info.state.messages, info.state.last_seq]).toEqual([N + MORE, N + MORE]);
      console.info(`restart test: ${Date.now() - t0} ms, ${redelivered} redeliveries, client events: ${[...new Set(events)].join(', ')}`);
    } finally {
      await restart?.catch(() => undefined);
      await nc.close().catch(() => undefined);
      await nats.stop();
    }
  }, 30_000);
});
