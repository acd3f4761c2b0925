/**
 * A NATS server restart in the middle of a consume: the connection reconnects, `consume()` pulls
 * again, every message still arrives (at least once) and the stream kept them all. The test stops
 * the shared server (SIGTERM to the nats-server on 127.0.0.1:4222, by its pid) and starts it again
 * at once with the command of /work/shared/SERVICES.md; it restarts it on every path (finally),
 * since other tests share it. Downtime is a fraction of a second.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { promisify } from 'node:util';
import { jetstreamManager } from '@nats-io/jetstream';
import { describe, expect, it } from 'vitest';
import { Reader, sleep } from '../../../test/support/deliveries.js';
import { connectNats, ensureEventStream, jetStreamSource, publishAll, type OutboundMessage } from './jetstream.js';

const HOST = '127.0.0.1';
const PORT = 4222;
const START = ['--start', '--oknodo', '--background', '--exec', '/usr/sbin/nats-server', '--',
  '-a', HOST, '-p', String(PORT), '-js', '-sd', '/var/lib/nats-server', '-l', '/var/log/nats-server.log'];

/** The pid of the live nats-server serving PORT (its command line names the port, or none: the default). */
function natsServerPid(): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const args = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').filter((a) => a !== '');
      if (!args[0]?.endsWith('nats-server')) continue;
      const p = args.findIndex((a) => a === '-p' || a === '--port');
      if (p === -1 ? PORT === 4222 : args[p + 1] === String(PORT)) return Number(entry);
    } catch {
      continue; // gone meanwhile, or not readable
    }
  }
  return undefined;
}

function portOpen(): Promise<boolean> {
  return new Promise((resolve) => {
    const s = tcpConnect(PORT, HOST);
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

async function waitFor(cond: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** Starts the server when nothing listens on the port, and waits until it does. */
async function ensureNatsUp(): Promise<void> {
  if (await portOpen()) return;
  await promisify(execFile)('start-stop-daemon', START);
  await waitFor(portOpen, 10_000, 'nats-server to listen again');
}

/** Stops the server (SIGTERM: it shuts down cleanly, flushing its store) and starts it again. */
async function restartNats(onDown: () => void): Promise<void> {
  const pid = natsServerPid();
  if (pid === undefined) throw new Error(`no nats-server process found for port ${PORT}`);
  process.kill(pid, 'SIGTERM');
  await waitFor(async () => natsServerPid() !== pid && !(await portOpen()), 10_000, 'nats-server to stop');
  onDown();
  await ensureNatsUp();
}

describe('JetStream source across a NATS server restart', () => {
  it('keeps consuming after the restart; every message arrives and the stream kept them', async () => {
    const nc = await connectNats(`${HOST}:${PORT}`, 'utl-restart-test');
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
          restart = restartNats(() => { down = true; }).then(() => { restarted = true; });
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
      await ensureNatsUp();
      await waitFor(() => !nc.isClosed() && nc.info !== undefined, 5_000, 'the client to reconnect').catch(() => undefined);
      const jsm = await jetstreamManager(nc).catch(() => undefined);
      await jsm?.streams.delete(stream).catch(() => false);
      await nc.close();
    }
  }, 30_000);
});
