/**
 * `GET /events`: the event log searched by book, venue, asset, id, type and time range, newest
 * first, with cursor paging. Each item is the event as committed (its payload), with its seq,
 * source and arrival time. A key restricted to some books sees only their events (events with no
 * book — marks, terms, corrections, venue-account reports — only for unrestricted keys), and
 * naming a book it may not see is a 403.
 *
 * The cursor is the `(ts, seq)` of the last item, opaque to clients (base64url): pages stay stable
 * while new events arrive, since they sort before it.
 */
import type { FastifyPluginAsync } from 'fastify';
import { formatTimestamp } from '../../domain/time.js';
import type { Service } from '../../app/service.js';
import { requestedBooks } from './auth.js';
import { isReply, problem, queryParams, timeParam } from './problem.js';

const PARAMS = ['book', 'venue', 'asset', 'id', 'type', 'from', 'to', 'limit', 'cursor'] as const;
const TYPES = new Set(['trade', 'price', 'transfer', 'deposit', 'withdrawal', 'funding', 'balance', 'cancel', 'amend', 'instrument']);

export function eventRoutes(service: Service): FastifyPluginAsync {
  // eslint-disable-next-line @typescript-eslint/require-await -- fastify plugins are async functions
  return async (app) => {
    app.get('/events', async (req, reply) => {
      const q = queryParams(req, reply, PARAMS);
      if (isReply(q)) return q;
      const limit = Number(q.limit ?? '100');
      if (!/^\d{1,4}$/.test(q.limit ?? '100') || limit < 1 || limit > 1000) return problem(reply, 400, 'BAD_QUERY', 'Bad `limit`', 'a whole number from 1 to 1000');
      if (q.type !== undefined && !TYPES.has(q.type)) return problem(reply, 400, 'BAD_QUERY', 'Bad `type`', `one of ${[...TYPES].join(', ')}`);
      // Checked here; given to PostgreSQL as the text sent (timestamptz parses it).
      for (const name of ['from', 'to'] as const) {
        const t = timeParam(reply, name, q[name]);
        if (isReply(t)) return t;
      }
      const times = { from: q.from ?? null, to: q.to ?? null };
      let after: [string, string] | null = null;
      if (q.cursor !== undefined) {
        const m = /^(-?\d{1,19}):(\d{1,19})$/.exec(Buffer.from(q.cursor, 'base64url').toString('utf8'));
        if (m === null) return problem(reply, 400, 'BAD_QUERY', 'Bad `cursor`', 'the `next` of a previous page');
        after = [m[1]!, m[2]!];
      }
      const books = requestedBooks(req, q.book, reply);
      if (books !== undefined && !Array.isArray(books)) return books;
      // ORDER BY e.seq: the column, not the SELECT's text of it (by that name, text: 10 before 9).
      const { rows } = await service.store.sql.query<{ seq: string; ts_us: string; id: string; type: string; book: string | null; source: string; received_at: string; payload: string }>(
        `SELECT seq::text, ts_us::text, id, type, book, source, to_char(received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS received_at, payload
         FROM utl_events e
         WHERE ($1::text[] IS NULL OR book = ANY($1::text[]))
           AND ($2::text IS NULL OR id = $2) AND ($3::text IS NULL OR type = $3)
           AND ($4::timestamptz IS NULL OR ts >= $4) AND ($5::timestamptz IS NULL OR ts <= $5)
           AND ($6::text IS NULL OR payload::jsonb->>'venue' = $6 OR payload::jsonb->>'from' = $6 OR payload::jsonb->>'to' = $6)
           AND ($7::text IS NULL OR payload::jsonb->>'asset' = $7
                OR split_part(split_part(payload::jsonb->>'instrument', ':', 1), '/', 1) = $7
                OR split_part(split_part(payload::jsonb->>'instrument', ':', 1), '/', 2) = $7)
           AND ($8::bigint IS NULL OR (ts_us, seq) < ($8::bigint, $9::bigint))
           AND seq <= $10
         ORDER BY e.ts_us DESC, e.seq DESC LIMIT $11`,
        [books ?? null, q.id ?? null, q.type ?? null, times.from, times.to, q.venue ?? null, q.asset ?? null, after?.[0] ?? null, after?.[1] ?? null, service.stats.lastSeq, limit],
      );
      const items = rows.map((r) => {
        const event = JSON.parse(r.payload) as unknown;
        return { seq: Number(r.seq), ts: formatTimestamp(Number(r.ts_us)), id: r.id, type: r.type, book: r.book, source: r.source, receivedAt: r.received_at, event };
      });
      const last = rows[rows.length - 1];
      return { items, next: rows.length === limit && last !== undefined ? Buffer.from(`${last.ts_us}:${last.seq}`).toString('base64url') : null };
    });
  };
}
