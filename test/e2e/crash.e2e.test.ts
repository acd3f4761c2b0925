/**
 * Nothing lost, nothing doubled: `utl start` (the built CLI, a real process) on the real
 * PostgreSQL and JetStream is killed with SIGKILL at random moments, five times, while 200,000
 * fills stream in, and restarted each time. At the end the state digest equals `utl replay` of
 * the same events, and the log holds each event exactly once.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { jetstreamManager } from '@nats-io/jetstream';
import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../bench/generate.js';
import { connectNats, publishAll } from '../../src/adapters/nats/jetstream.js';
import { pgSql } from '../../src/adapters/pg/sql.js';
import { freshDatabase } from '../support/pg.js';
import { generatedLines, offline, subjectOf, streamAnswers, uniqueNames, waitUntil } from '../support/service.js';
import { freePort } from '../support/net.js';

const NATS = process.env.UTL_TEST_NATS_URL ?? 'nats://127.0.0.1:4222';
const FILLS = 200_000;
const KILLS = 5;

describe('kill -9 while fills stream in', () => {
  it(`${KILLS} kills and restarts during ${FILLS.toLocaleString('en')} fills: the digest of utl replay, every event once`, async () => {
    const db = await freshDatabase();
    const names = uniqueNames();
    const nc = await connectNats(NATS, 'utl-crash-test');
    const port = await freePort();
    const env = {
      ...process.env,
      DATABASE_URL: db.url,
      NATS_URL: NATS,
      UTL_STREAM: names.stream,
      UTL_SUBJECTS: names.subjects,
      UTL_CONSUMER: names.consumer,
      UTL_CHECKPOINT_EVERY: '20000',
      // This test is about crash safety, not keys: the state is read without one.
      UTL_AUTH: 'off',
      // Messages in flight at a kill come again after the ack wait: keep the test short.
      UTL_ACK_WAIT_MS: '1500',
      UTL_LOG_LEVEL: 'warn',
      PORT: String(port),
    };
    let child: ChildProcess | undefined;
    let stderr = '';
    const spawnService = (): ChildProcess => {
      const c = spawn(process.execPath, ['bin/utl.js', 'start'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
      c.stderr.on('data', (d: Buffer) => {
        stderr = (stderr + d.toString()).slice(-20_000);
      });
      return c;
    };
    const kill9 = async (c: ChildProcess): Promise<void> => {
      if (c.exitCode !== null || c.signalCode !== null) return;
      const exited = new Promise((r) => c.once('exit', r));
      c.kill('SIGKILL');
      await exited;
    };
    const sql = pgSql(db.url);
    try {
      const lines = generatedLines(FILLS, 21);
      const messages = lines.map((l, i) => ({ subject: subjectOf(names.subjects, l), data: Buffer.from(l), msgId: `m${i}` }));
      child = spawnService();
      // The stream is created by the service; wait for it before publishing.
      await waitUntil(() => streamAnswers(nc, names.stream), 60_000, 'the service to create its stream');
      // Publish in chunks, so that the kills land while fills are still arriving.
      const publishing = (async () => {
        for (let i = 0; i < messages.length; i += 20_000) {
          await publishAll(nc, messages.slice(i, i + 20_000));
          await new Promise((r) => setTimeout(r, 150));
        }
      })();
      const rand = mulberry32(99);
      const killedAt: number[] = [];
      const ready = async (): Promise<boolean> => {
        try {
          return (await fetch(`http://127.0.0.1:${port}/readyz`)).ok;
        } catch {
          return false;
        }
      };
      for (let k = 0; k < KILLS; k++) {
        // A random moment of the run: while it restores (sometimes), or while it books (mostly).
        if (rand() < 0.8) await waitUntil(ready, 60_000, 'the service to be ready');
        await new Promise((r) => setTimeout(r, 100 + Math.floor(rand() * 900)));
        const { rows } = await sql.query<{ n: string }>('SELECT count(*) AS n FROM utl_event_keys').catch(() => ({ rows: [{ n: '-1' }] }));
        killedAt.push(Number(rows[0]!.n));
        await kill9(child);
        child = spawnService();
      }
      await publishing;
      const expected = await offline(lines);

      const state = async (): Promise<{ seq: number; digest: string } | undefined> => {
        try {
          const r = await fetch(`http://127.0.0.1:${port}/state`);
          return r.ok ? ((await r.json()) as { seq: number; digest: string }) : undefined;
        } catch {
          return undefined;
        }
      };
      // Everything committed: every event once (messages in flight at a kill were redelivered).
      await waitUntil(
        async () => {
          const { rows } = await sql.query<{ n: string }>('SELECT count(*) AS n FROM utl_event_keys');
          return Number(rows[0]!.n) === lines.length;
        },
        150_000,
        'every event to be committed',
      );
      const { rows: maxRows } = await sql.query<{ max: string }>('SELECT max(seq)::text AS max FROM utl_event_keys');
      await waitUntil(async () => (await state())?.seq === Number(maxRows[0]!.max), 30_000, 'the service to book the whole log');
      // The kills landed at different points of the stream, not all before or after it.
      expect(new Set(killedAt.filter((n) => n > 0 && n < lines.length)).size).toBeGreaterThanOrEqual(3);

      expect((await state())!.digest).toBe(expected.digest);
      const counts = await sql.query<{ keys: string; events: string; distinct: string }>('SELECT (SELECT count(*) FROM utl_event_keys) AS keys, (SELECT count(*) FROM utl_events) AS events, (SELECT count(DISTINCT id) FROM utl_events) AS distinct');
      expect(counts.rows[0]).toEqual({ keys: String(lines.length), events: String(lines.length), distinct: String(lines.length) });
    } catch (err) {
      throw new Error(`${(err as Error).message}\n--- service stderr (tail) ---\n${stderr.slice(-4000)}`, { cause: err });
    } finally {
      if (child !== undefined) await kill9(child);
      await sql.close();
      const jsm = await jetstreamManager(nc);
      await jsm.streams.delete(names.stream).catch(() => undefined);
      await nc.close();
      await db.drop();
    }
  }, 240_000);
});
