/**
 * The service against the real PostgreSQL (a fresh database) and the real NATS JetStream (a
 * stream of its own; a private server where the test restarts it): whatever the broker does —
 * duplicates, redeliveries, poison in the middle of a batch, a restart — and whatever the database
 * does — its connections dropped mid-batch — the state ends equal to `utl replay` of the same log.
 */
import { jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase } from '../../test/support/pg.js';
import { privateNats } from '../../test/support/nats-server.js';
import { generatedLines, offline, quiet, serviceConfig, startOptions, subjectOf, streamAnswers, uniqueNames, waitUntil } from '../../test/support/service.js';
import { connectNats, publishAll, type NatsConnection, type OutboundMessage } from '../adapters/nats/jetstream.js';
import { pgSql } from '../adapters/pg/sql.js';
import { PgStore } from '../adapters/pg/store.js';
import type { LedgerEvent } from '../domain/events.js';
import { InstrumentRegistry } from '../domain/instrument.js';
import { snapshotMarks } from '../domain/snapshot.js';
import { Service } from './service.js';
import { startService, type Running } from './start.js';

const SHARED_NATS = process.env.UTL_TEST_NATS_URL ?? 'nats://127.0.0.1:4222';

describe('service on PostgreSQL and JetStream', () => {
  let db: { url: string; name: string; drop: () => Promise<void> };
  let nc: NatsConnection;
  const names = uniqueNames();
  let running: Running | undefined;

  beforeAll(async () => {
    db = await freshDatabase();
    nc = await connectNats(SHARED_NATS, 'utl-test');
  });
  afterAll(async () => {
    await running?.stop();
    const jsm = await jetstreamManager(nc);
    await jsm.streams.delete(names.stream).catch(() => undefined);
    await nc.close();
    await db.drop();
  });

  it('books duplicates, conflicts, poison and corrections from the stream exactly as utl replay does; updates go out', async () => {
    running = await startService(
      startOptions({ databaseUrl: db.url, natsUrl: SHARED_NATS, stream: names.stream, subjectPrefix: names.subjects, service: serviceConfig({ consumer: names.consumer, updatesPrefix: names.updates, batchMax: 200 }) }),
      quiet,
    );
    const updates = new Map<string, number>();
    const sub = nc.subscribe(`${names.updates}.>`, {
      callback: (_err, m) => {
        const u = m.json<{ book: string; seq: number }>();
        updates.set(u.book, Math.max(updates.get(u.book) ?? 0, u.seq));
      },
    });

    const lines = generatedLines(3000);
    const arrival: string[] = [...lines];
    // A late fill, a cancel and an amend, a repeat of an id with the same content, one with other content.
    const late = lines.find((l) => l.includes('"type":"trade"'))!.replace(/"id":"[^"]+"/, '"id":"late-1"');
    const target = /"id":"([^"]+)"/.exec(lines[500]!.includes('"trade"') ? lines[500]! : lines[501]!)![1]!;
    arrival.push(late, `{"type":"cancel","id":"cx1","ts":"2026-01-01T00:00:00Z","target":"${target}"}`);
    arrival.push(lines[10]!, lines[11]!.replace(/"qty":"[^"]+"/, '"qty":"999"'));
    const messages: OutboundMessage[] = arrival.map((l, i) => ({ subject: subjectOf(names.subjects, l), data: Buffer.from(l), msgId: `m${i}` }));
    // Poison in the middle: not UTF-8, not JSON, JSON that is no event. And a broker-level duplicate (same msgId).
    messages.splice(1500, 0, { subject: `${names.subjects}.b1`, data: new Uint8Array([0xc3, 0x28, 0x7b]), msgId: 'p1' });
    messages.splice(1700, 0, { subject: `${names.subjects}.b1`, data: Buffer.from('{"type":"trade",'), msgId: 'p2' });
    messages.splice(1900, 0, { subject: `${names.subjects}.b1`, data: Buffer.from('{"type":"trade","id":"t-bad","ts":"2026-01-01T00:00:00Z","book":"b1","venue":"v","instrument":"BTC/USD","side":"hold","qty":"1","price":"1"}'), msgId: 'p3' });
    messages.push({ subject: subjectOf(names.subjects, arrival[0]!), data: Buffer.from(arrival[0]!), msgId: 'm0' });
    const sent = await publishAll(nc, messages);
    expect(sent.duplicates).toBe(1);

    const expected = await offline(arrival);
    await waitUntil(async () => (await running!.service.store.consumerPosition(names.consumer)) === messages.length - 1, 60_000, 'the consumer to reach the end of the stream');
    // The consumer's position is committed with the last batch, which is booked just after: wait for it.
    await waitUntil(() => running!.service.digest() === expected.digest, 10_000, 'the last batch to be booked and the state to equal the offline replay');
    expect(running.service.digest()).toBe(expected.digest);

    const store = running.service.store;
    const counts = await store.counts();
    expect(counts.events).toBe(arrival.length - 2); // the repeat and the conflict are not stored again
    const rejected = await store.sql.query<{ code: string; raw: Buffer; ref: string }>('SELECT code, raw, ref FROM utl_rejected ORDER BY rid');
    expect(rejected.rows.map((r) => r.code)).toEqual(['JSON_SYNTAX', 'JSON_SYNTAX', 'UNKNOWN_SIDE', 'DUPLICATE_CONFLICT']);
    expect([...rejected.rows[0]!.raw]).toEqual([0xc3, 0x28, 0x7b]);
    expect(rejected.rows[0]!.ref).toMatch(new RegExp(`^${names.subjects.replace('.', '\\.')}\\.b1#\\d+$`));

    await waitUntil(() => updates.size > 0 && [...updates.values()].some((s) => s === running!.service.stats.lastSeq), 5_000, 'an update with the last seq');
    for (const b of running.service.report().books) expect(updates.has(b.book)).toBe(true);
    sub.unsubscribe();
  });

  it('redelivered messages (published again under new ids) are harmless', async () => {
    const before = running!.service.digest();
    const lines = generatedLines(3000);
    const again: OutboundMessage[] = lines.slice(0, 400).map((l, i) => ({ subject: subjectOf(names.subjects, l), data: Buffer.from(l), msgId: `again${i}` }));
    const position = (await running!.service.store.consumerPosition(names.consumer))!;
    await publishAll(nc, again);
    await waitUntil(async () => (await running!.service.store.consumerPosition(names.consumer)) === position + again.length, 30_000, 'the repeats to be consumed');
    expect(running!.service.digest()).toBe(before);
  });
});

describe('service faults', () => {
  it('PostgreSQL connections dropped mid-stream: it reconnects, goes on, and loses or doubles nothing', async () => {
    const db = await freshDatabase();
    const nc = await connectNats(SHARED_NATS, 'utl-test');
    const names = uniqueNames();
    const running = await startService(
      startOptions({ databaseUrl: db.url, natsUrl: SHARED_NATS, stream: names.stream, subjectPrefix: names.subjects, service: serviceConfig({ consumer: names.consumer, batchMax: 100, retryDelayMs: 100 }) }),
      quiet,
    );
    const admin = pgSql('postgres://root@127.0.0.1:5432/postgres');
    try {
      const lines = generatedLines(20_000, 11);
      const publishing = publishAll(nc, lines.map((l, i) => ({ subject: subjectOf(names.subjects, l), data: Buffer.from(l), msgId: `m${i}` })));
      let kills = 0;
      for (let i = 0; i < 5; i++) {
        await new Promise((r) => setTimeout(r, 300));
        const r = await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [db.name]);
        kills += r.rowCount;
      }
      await publishing;
      expect(kills).toBeGreaterThan(0);
      const expected = await offline(lines);
      await waitUntil(async () => (await running.service.store.consumerPosition(names.consumer).catch(() => 0)) === lines.length, 90_000, 'the whole stream to be committed');
      await waitUntil(() => running.service.digest() === expected.digest, 10_000, 'the state to equal the offline replay');
      expect((await running.service.store.counts()).events).toBe(lines.length);
    } finally {
      await running.stop();
      const jsm = await jetstreamManager(nc);
      await jsm.streams.delete(names.stream).catch(() => undefined);
      await nc.close();
      await admin.close();
      await db.drop();
    }
  }, 120_000);

  it('NATS restarted mid-stream (a private server): every message arrives, the state equals utl replay', async () => {
    const nats = await privateNats();
    const db = await freshDatabase();
    const names = uniqueNames();
    const running = await startService(
      startOptions({ databaseUrl: db.url, natsUrl: nats.url, stream: names.stream, subjectPrefix: names.subjects, service: serviceConfig({ consumer: names.consumer, batchMax: 200 }) }),
      quiet,
    );
    const nc = await connectNats(nats.url, 'utl-test');
    try {
      const lines = generatedLines(20_000, 13);
      const msgs = lines.map((l, i) => ({ subject: subjectOf(names.subjects, l), data: Buffer.from(l), msgId: `m${i}` }));
      await publishAll(nc, msgs.slice(0, 10_000));
      await waitUntil(() => running.service.stats.lastSeq > 2_000, 30_000, 'some booking');
      await nats.restart({ hard: true, downMs: 300 });
      // JetStream recovers its streams after the restart; publish the rest once it answers.
      await waitUntil(() => streamAnswers(nc, names.stream), 30_000, 'JetStream to be back');
      await publishAll(nc, msgs.slice(10_000));
      const expected = await offline(lines);
      await waitUntil(async () => (await running.service.store.consumerPosition(names.consumer)) === lines.length, 90_000, 'the whole stream to be committed');
      await waitUntil(() => running.service.digest() === expected.digest, 10_000, 'the state to equal the offline replay');
      expect((await running.service.store.counts()).events).toBe(lines.length);
    } finally {
      await running.stop();
      await nc.close();
      await db.drop();
      await nats.stop();
    }
  }, 120_000);
});

describe('service recovery', () => {
  it('a late event before a restored window loads history; a failure while booking rebuilds from the store', async () => {
    const db = await freshDatabase();
    const sql = pgSql(db.url);
    const lines = generatedLines(2000, 17);
    const [early, ...rest] = [lines.find((l) => l.includes('"type":"trade"'))!.replace(/"id":"[^"]+"/, '"id":"late-x"'), ...lines];
    try {
      const first = new Service(new PgStore(sql, new InstrumentRegistry()), undefined, serviceConfig(), quiet);
      await first.start();
      await first.submit(rest, 'http');
      await first.stop(); // a checkpoint: the next start restores books whose window begins after their last event

      // A store that fails once while loading a book's history.
      class FlakyStore extends PgStore {
        failures = 1;
        override async bookEvents(...args: Parameters<PgStore['bookEvents']>): Promise<LedgerEvent[]> {
          if (this.failures-- > 0) throw new Error('connection lost (injected)');
          return super.bookEvents(...args);
        }
      }
      const store = new FlakyStore(sql, new InstrumentRegistry());
      const second = new Service(store, undefined, serviceConfig(), quiet);
      const r = await second.start();
      expect(r.restoredSeq).toBe(rest.length);
      await second.submit([early], 'http');
      expect(store.failures).toBeLessThan(0); // the injected failure happened, and a later load succeeded
      expect(second.stats.historyLoads).toBeGreaterThan(0);
      expect(second.digest()).toBe((await offline([...rest, early])).digest);
      await second.stop();
    } finally {
      await sql.close();
      await db.drop();
    }
  });
});

describe('the marks journal', () => {
  it('checkpoints write the marks added and removed since the one before; restarts from any of them book as utl replay', async () => {
    const db = await freshDatabase();
    const sql = pgSql(db.url);
    const lines = generatedLines(3000, 23);
    // A price cancelled between two checkpoints (its removal is in the journal), and one cancelled in the tail.
    const prices = lines.filter((l) => l.includes('"type":"price"')).map((l) => /"id":"([^"]+)"/.exec(l)![1]!);
    const cancel = (target: string, n: number): string => `{"type":"cancel","id":"cancel-${n}","ts":"2026-01-01T00:00:00Z","target":"${target}"}`;
    const parts = [lines.slice(0, 1200), [...lines.slice(1200, 2400), cancel(prices[3]!, 1)], [...lines.slice(2400), cancel(prices[prices.length - 2]!, 2)]];
    const config = serviceConfig({ checkpointEvery: 500 });
    try {
      const sent: string[] = [];
      for (const part of parts) {
        const s = new Service(new PgStore(sql, new InstrumentRegistry()), undefined, config, quiet);
        await s.start();
        // Batches of 170 against checkpoints every 500 events: each part ends with a tail after its last checkpoint.
        for (let i = 0; i < part.length; i += 170) await s.submit(part.slice(i, i + 170), 'http');
        sent.push(...part);
        await s.flushCheckpoint();
        // `s` is left as a crash would leave it (no clean stop, no last checkpoint): the next
        // start restores the latest periodic checkpoint and books the tail after it.
        const again = new Service(new PgStore(sql, new InstrumentRegistry()), undefined, config, quiet);
        const r = await again.start();
        expect(r.restoredSeq).toBeGreaterThan(0);
        expect(r.tail).toBeGreaterThan(0);
        expect(again.digest()).toBe((await offline(sent)).digest);
        await again.stop();
      }
      const journal = await sql.query<{ n: string }>('SELECT count(*) AS n FROM utl_marks_journal');
      expect(Number(journal.rows[0]!.n)).toBeGreaterThan(3);
      const docs = await sql.query<{ ledger: string }>('SELECT ledger FROM utl_checkpoints');
      for (const d of docs.rows) expect(JSON.parse(d.ledger)).not.toHaveProperty('marks');
      const last = new Service(new PgStore(sql, new InstrumentRegistry()), undefined, config, quiet);
      await last.start();
      expect(last.digest()).toBe((await offline(sent)).digest);
      await last.stop();
    } finally {
      await sql.close();
      await db.drop();
    }
  }, 120_000);
});

describe('the marks journal, from a checkpoint written before it', () => {
  it('a checkpoint holding every mark restores them, and the next one journals them all', async () => {
    const db = await freshDatabase();
    const sql = pgSql(db.url);
    const lines = generatedLines(1500, 29);
    const config = serviceConfig();
    try {
      const first = new Service(new PgStore(sql, new InstrumentRegistry()), undefined, config, quiet);
      await first.start();
      await first.submit(lines, 'http');
      const marks = snapshotMarks(first.ledger.marks);
      await first.stop();
      // As an earlier version wrote it: every mark in the checkpoint's document, no journal.
      const { rows } = await sql.query<{ seq: string; ledger: string }>('SELECT seq, ledger FROM utl_checkpoints ORDER BY seq DESC LIMIT 1');
      await sql.query('UPDATE utl_checkpoints SET ledger = $2 WHERE seq = $1', [rows[0]!.seq, JSON.stringify({ marks, ...JSON.parse(rows[0]!.ledger) })]);
      await sql.query('DELETE FROM utl_marks_journal');
      const second = new Service(new PgStore(sql, new InstrumentRegistry()), undefined, config, quiet);
      await second.start();
      expect(second.digest()).toBe((await offline(lines)).digest);
      const more = generatedLines(1600, 29).slice(lines.length);
      await second.submit(more, 'http');
      await second.stop();
      // The old document goes; the journal alone now holds every mark.
      await sql.query('DELETE FROM utl_checkpoints WHERE seq = $1', [rows[0]!.seq]);
      const third = new Service(new PgStore(sql, new InstrumentRegistry()), undefined, config, quiet);
      await third.start();
      expect(third.digest()).toBe((await offline([...lines, ...more])).digest);
      await third.stop();
    } finally {
      await sql.close();
      await db.drop();
    }
  }, 120_000);
});

type Update = { book: string; seq: number; prevSeq: number; type: 'snapshot' | 'delta' | 'reset'; positions: Pos[]; removed?: Pos[] };
type Pos = { asset: string; kind: string; venue?: string };
const posId = (p: Pos): string => `${p.kind}|${p.asset}|${p.venue ?? ''}`;
const sortedById = (ps: readonly Pos[]): Pos[] => [...ps].sort((a, b) => (posId(a) < posId(b) ? -1 : 1));

/** A consumer of `<prefix>.<book>`: a snapshot (or, after a reset, GET /positions) then each delta applied; the chain checked. */
class UpdateConsumer {
  readonly held = new Map<string, Map<string, Pos>>();
  readonly last = new Map<string, number>();
  readonly types: string[] = [];
  /** Positions carried by each delta. */
  readonly deltaSizes: number[] = [];
  constructor(private readonly read: (book: string) => Pos[]) {}
  take(u: Update): void {
    this.types.push(u.type);
    if (u.type !== 'snapshot') expect(u.prevSeq).toBe(this.last.get(u.book) ?? 0);
    if (u.type === 'snapshot') this.held.set(u.book, new Map(u.positions.map((p) => [posId(p), p])));
    else if (u.type === 'reset') this.held.set(u.book, new Map(this.read(u.book).map((p) => [posId(p), p])));
    else {
      this.deltaSizes.push(u.positions.length + (u.removed?.length ?? 0));
      const m = this.held.get(u.book)!;
      // Only what changed: every position a delta carries differs from what the consumer holds, and every one it removes is held.
      for (const p of u.positions) expect(JSON.stringify(p)).not.toBe(JSON.stringify(m.get(posId(p))));
      for (const r of u.removed ?? []) expect(m.has(posId(r))).toBe(true);
      for (const r of u.removed ?? []) m.delete(posId(r));
      for (const p of u.positions) m.set(posId(p), p);
    }
    this.last.set(u.book, u.seq);
  }
  view(book: string): Pos[] {
    return sortedById([...(this.held.get(book)?.values() ?? [])]);
  }
}

describe('service updates', () => {
  it('each book: a snapshot first, then deltas of what changed; a consumer applying them holds the book; a book too large for one message starts with a reset', async () => {
    const lines = generatedLines(240, 11);
    for (const maxPayload of [1024 * 1024, 2500]) {
      const db = await freshDatabase();
      const sql = pgSql(db.url);
      try {
        let service: Service | undefined = undefined;
        const read = (book: string): Pos[] => service!.positions({ books: [book] }).positions;
        const consumer = new UpdateConsumer(read);
        const sizes: number[] = [];
        const sink = {
          publish: (_subject: string, p: Uint8Array) => {
            sizes.push(p.length);
            consumer.take(JSON.parse(Buffer.from(p).toString('utf8')) as Update);
          },
          close: () => Promise.resolve(),
          maxPayload,
        };
        service = new Service(new PgStore(sql, new InstrumentRegistry()), sink, serviceConfig({ updateIntervalMs: 0 }), quiet);
        await service.start();
        for (let i = 0; i < lines.length; i += 4) expect((await service.submit(lines.slice(i, i + 4), 'http')).status).toBe(200);
        await service.stop();
        const books = service.report().books.map((b) => b.book);
        expect(books.length).toBeGreaterThan(1);
        for (const b of books) expect(consumer.view(b)).toEqual(sortedById(read(b)));
        expect(Math.max(...sizes)).toBeLessThanOrEqual(maxPayload);
        const counts = { snapshot: 0, delta: 0, reset: 0 };
        for (const t of consumer.types) counts[t as keyof typeof counts]++;
        if (maxPayload > 2500) expect(counts).toMatchObject({ snapshot: books.length, reset: 0 });
        else expect(counts.reset).toBeGreaterThanOrEqual(books.length);
        expect(counts.delta).toBeGreaterThan(20);
        // Deltas follow the activity (4 events a batch, coalesced), not the size of the book.
        const biggest = Math.max(...books.map((b) => read(b).length));
        expect(biggest).toBeGreaterThan(6);
        expect(Math.min(...consumer.deltaSizes)).toBeLessThan(biggest);
      } finally {
        await sql.close();
        await db.drop();
      }
    }
  });


  it('an update larger than the sink takes, or one the sink refuses, is dropped and logged: the batch is booked all the same', async () => {
    const db = await freshDatabase();
    const sql = pgSql(db.url);
    try {
      const lines = generatedLines(300, 5);
      const published: { subject: string; bytes: number }[] = [];
      const warned: string[] = [];
      const log = { ...quiet, warn: (_o: object, msg?: string) => void warned.push(msg ?? '') };
      const small = { publish: (subject: string, p: Uint8Array) => void published.push({ subject, bytes: p.length }), close: () => Promise.resolve(), maxPayload: 200 };
      const first = new Service(new PgStore(sql, new InstrumentRegistry()), small, serviceConfig(), log);
      await first.start();
      expect((await first.submit(lines.slice(0, 150), 'http')).status).toBe(200);
      expect(published).toEqual([]);
      expect(warned).toContain('update not published');
      expect(first.stats.booked).toBeGreaterThan(0);
      await first.stop();

      const refusing = { publish: () => { throw new Error('max_payload size exceeded'); }, close: () => Promise.resolve() };
      const second = new Service(new PgStore(sql, new InstrumentRegistry()), refusing, serviceConfig(), log);
      await second.start();
      const before = second.stats.booked;
      expect((await second.submit(lines.slice(150), 'http')).status).toBe(200);
      expect(second.stats.booked).toBeGreaterThan(before);
      expect(second.digest()).toBe((await offline(lines)).digest);
      await second.stop();
    } finally {
      await sql.close();
      await db.drop();
    }
  });
});
