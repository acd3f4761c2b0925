/**
 * Reconciliation over HTTP, a fastify plugin (`app.register(reconRoutes(recon))`):
 * - `GET /breaks?status=&venue=&asset=&limit=`: breaks, newest first (status `active` = open or
 *   acknowledged, the default), each with its age;
 * - `GET /breaks/:id`: one break with its explanation and history;
 * - `POST /breaks/:id/acknowledge` `{by, note}` and `POST /breaks/:id/resolve`
 *   `{by, reason, adjust?: {book?, cost?}}`: audited; `adjust` books the adjusting entry first;
 * - `POST /recon/balances` `{venue, account?, book?, asOf?, balance}`: a ccxt `fetchBalance` result,
 *   mapped to one balance event per asset and booked through the one door (then reconciled);
 * - `POST /recon/trades` `{venue, from?, to?, trades: [...]}`: a venue's trade history (canonical
 *   trade events or ccxt `fetchMyTrades` output) against the fills booked there;
 * - `GET /recon/transfers?from=&until=`: withdrawals matched to deposits, in transit, too old;
 * - `GET /checks` (`?run=1` runs them now, `?run=full` over the whole log): the consistency checks;
 * - `GET /audit?target=&limit=`: who did what to which break.
 * Bodies are JSON; errors are problem+json with a stable `code`.
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { fromCcxt, isCcxtPayload } from '../ccxt/ccxt.js';
import type { TradeEvent, TsUs } from '../../domain/events.js';
import { isActive, isRefusal, type Break } from '../../domain/recon/breaks.js';
import { parseTimestamp } from '../../domain/time.js';
import { isName, validateEvent } from '../../domain/validate.js';
import type { Reconciler, ResolveRequest } from '../../app/recon.js';
import type { ReconStore } from '../pg/recon-store.js';
import { principalOf, visibleBooks } from './auth.js';
import { problem } from './problem.js';

/** Acknowledge and resolve bodies are a few fields: a small limit, whatever the server's. */
const SMALL_BODY_BYTES = 64 * 1024;

/**
 * Whether the request's key may see a break. A break with no book is of a venue account shared
 * by every book there: only a key for every book sees it (as with the firm-wide routes).
 */
function canSee(req: FastifyRequest, b: Break): boolean {
  const allowed = visibleBooks(req);
  return allowed === undefined || (b.book !== null && allowed.has(b.book));
}

const STATUSES = new Set(['active', 'open', 'acknowledged', 'resolved', 'auto_resolved', 'all']);

type Obj = Record<string, unknown>;

function bodyOf(raw: unknown): Obj | string {
  if (typeof raw !== 'string' || raw.length === 0) return 'expected a JSON object';
  try {
    const v: unknown = JSON.parse(raw);
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Obj) : 'expected a JSON object';
  } catch (err) {
    return `body is not JSON: ${(err as Error).message}`;
  }
}

/** A break as the API shows it: with its age (ms since first seen) at `nowMs`. */
function shown(b: Break, nowMs: number): Break & { ageMs: number } {
  return { ...b, ageMs: Math.max(0, nowMs - b.firstSeenMs) };
}

const refusalStatus: Record<string, number> = { BREAK_NOT_FOUND: 404, BREAK_CLOSED: 409, BREAK_BUSY: 409, ADJUSTMENT_NEEDS_BOOK: 422, ADJUSTMENT_REFUSED: 422 };

export function reconRoutes(recon: Reconciler, store: ReconStore, clock: () => number = Date.now): FastifyPluginAsync {
  // eslint-disable-next-line @typescript-eslint/require-await -- fastify plugins are async functions
  return async (app) => {
    const one = (q: Obj, name: string, reply: FastifyReply): string | undefined | FastifyReply => {
      const v = q[name];
      if (v === undefined || typeof v === 'string') return v;
      return problem(reply, 400, 'BAD_QUERY', `Bad \`${name}\``, `give ${name} once`);
    };
    const ts = (v: unknown, name: string, reply: FastifyReply): TsUs | undefined | FastifyReply => {
      if (v === undefined) return undefined;
      const t = typeof v === 'string' ? parseTimestamp(v) : undefined;
      return t ?? problem(reply, 400, 'BAD_TIMESTAMP', `Bad \`${name}\``, `expected ISO-8601 UTC, got ${JSON.stringify(v)}`);
    };

    app.get('/breaks', (req, reply) => {
      const q = req.query as Obj;
      const f: Record<string, string | undefined> = {};
      for (const name of ['status', 'venue', 'asset', 'limit']) {
        const v = one(q, name, reply);
        if (typeof v === 'object') return v;
        f[name] = v;
      }
      const status = f.status ?? 'active';
      if (!STATUSES.has(status)) return problem(reply, 400, 'BAD_QUERY', 'Bad `status`', `one of ${[...STATUSES].join(', ')}`);
      const limit = Number(f.limit ?? '500');
      if (!/^\d{1,5}$/.test(f.limit ?? '500') || limit < 1 || limit > 10_000) return problem(reply, 400, 'BAD_QUERY', 'Bad `limit`', 'a whole number from 1 to 10000');
      const now = clock();
      const all = recon.breaks
        .list()
        .filter((b) => canSee(req, b) && (status === 'all' ? true : status === 'active' ? isActive(b) : b.status === status) && (f.venue === undefined || b.venue === f.venue) && (f.asset === undefined || b.asset === f.asset))
        .sort((a, b) => b.firstSeenMs - a.firstSeenMs || (a.id < b.id ? -1 : 1));
      return { total: all.length, reporting: recon.service.config.reporting, items: all.slice(0, limit).map((b) => shown(b, now)) };
    });

    app.get('/breaks/:id', (req, reply) => {
      const { id } = req.params as { id: string };
      const b = recon.breaks.get(id);
      return b === undefined || !canSee(req, b) ? problem(reply, 404, 'BREAK_NOT_FOUND', 'No such break', id) : shown(b, clock());
    });

    /** A break the key may not see is answered as one that does not exist (its id tells nothing). */
    const hidden = (req: FastifyRequest, id: string, reply: FastifyReply): FastifyReply | undefined => {
      const b = recon.breaks.get(id);
      return b !== undefined && !canSee(req, b) ? problem(reply, 404, 'BREAK_NOT_FOUND', 'No such break', id) : undefined;
    };

    /** Who acts: with an API key, its name (`by` may be left out, and if given must be that name). */
    const who = (body: Obj, reply: FastifyReply, req: FastifyRequest): string | FastifyReply => {
      const key = principalOf(req);
      if (key !== undefined && body.by === undefined) return key.name;
      if (key !== undefined && body.by !== key.name) return problem(reply, 403, 'FORBIDDEN', 'Not allowed with this key', `\`by\` must be the API key's name (${key.name}), or left out`);
      const by = body.by;
      if (typeof by !== 'string' || !isName(by)) return problem(reply, 400, 'BAD_BODY', 'Bad `by`', 'who does this: a name of 1-128 letters, digits or ._:@/+-');
      return by;
    };

    /** A break action's common part: the break's id, the body, who acts; or the error answered. */
    const acting = (req: FastifyRequest, reply: FastifyReply): { id: string; body: Obj; by: string } | FastifyReply => {
      const { id } = req.params as { id: string };
      const body = bodyOf(req.body);
      if (typeof body === 'string') return problem(reply, 400, 'BAD_BODY', 'Unreadable body', body);
      const by = who(body, reply, req);
      if (typeof by !== 'string') return by;
      const unseen = hidden(req, id, reply);
      if (unseen !== undefined) return unseen;
      return { id, body, by };
    };

    app.post('/breaks/:id/acknowledge', { bodyLimit: SMALL_BODY_BYTES }, async (req, reply) => {
      const a = acting(req, reply);
      if (!('by' in a)) return a;
      const { id, body, by } = a;
      const note = typeof body.note === 'string' ? body.note.slice(0, 2000) : '';
      const r = await recon.acknowledge(id, by, note);
      return isRefusal(r) ? problem(reply, refusalStatus[r.code] ?? 400, r.code, 'Cannot acknowledge', r.message) : shown(r, clock());
    });

    app.post('/breaks/:id/resolve', { bodyLimit: SMALL_BODY_BYTES }, async (req, reply) => {
      const a = acting(req, reply);
      if (!('by' in a)) return a;
      const { id, body, by } = a;
      if (typeof body.reason !== 'string' || body.reason.trim().length === 0) return problem(reply, 400, 'BAD_BODY', 'Bad `reason`', 'say why: a resolution without a reason is not accepted');
      let adjust: ResolveRequest['adjust'];
      if (body.adjust !== undefined && body.adjust !== false) {
        const a = body.adjust === true ? {} : body.adjust;
        if (typeof a !== 'object' || a === null || Array.isArray(a)) return problem(reply, 400, 'BAD_BODY', 'Bad `adjust`', 'true, or {book?, cost?}');
        const { book, cost } = a as Obj;
        if (book !== undefined && (typeof book !== 'string' || !isName(book))) return problem(reply, 400, 'BAD_BODY', 'Bad `adjust.book`', 'a book name');
        if (cost !== undefined && typeof cost !== 'string') return problem(reply, 400, 'BAD_BODY', 'Bad `adjust.cost`', 'a decimal string (total, in the reporting currency)');
        const allowed = visibleBooks(req);
        if (allowed !== undefined && (book === undefined || !allowed.has(book))) return problem(reply, 403, 'FORBIDDEN', 'Not allowed with this key', 'an adjustment must name one of the books this key may write (`adjust.book`)');
        adjust = { ...(book === undefined ? {} : { book }), ...(cost === undefined ? {} : { cost }) };
      }
      const r = await recon.resolve(id, { by, reason: body.reason.slice(0, 2000), ...(adjust === undefined ? {} : { adjust }) });
      if ('code' in r && !('id' in r)) return problem(reply, refusalStatus[r.code] ?? 400, r.code, 'Cannot resolve', r.message);
      return shown(r as Break, clock());
    });

    app.post('/recon/balances', async (req, reply) => {
      const body = bodyOf(req.body);
      if (typeof body === 'string') return problem(reply, 400, 'BAD_BODY', 'Unreadable body', body);
      const { venue, account, book, asOf, balance } = body;
      if (typeof venue !== 'string' || !isName(venue)) return problem(reply, 400, 'BAD_BODY', 'Bad `venue`', 'the venue that reported the balance');
      for (const [name, v] of [['account', account], ['book', book]] as const) {
        if (v !== undefined && (typeof v !== 'string' || !isName(v))) return problem(reply, 400, 'BAD_BODY', `Bad \`${name}\``, 'a name');
      }
      if (asOf !== undefined && (typeof asOf !== 'string' || parseTimestamp(asOf) === undefined)) return problem(reply, 400, 'BAD_TIMESTAMP', 'Bad `asOf`', 'ISO-8601 UTC: the instant of a balance that carries no timestamp');
      if (typeof balance !== 'object' || balance === null || Array.isArray(balance)) return problem(reply, 400, 'BAD_BODY', 'Bad `balance`', 'a ccxt fetchBalance result');
      const m = fromCcxt(balance, { venue, book: (book as string | undefined) ?? 'unassigned', ...(account === undefined ? {} : { account: account as string }), ...(asOf === undefined ? {} : { asOf: asOf }) });
      if (m.problems.length > 0 || m.events.length === 0) return problem(reply, 422, 'BAD_BALANCE', 'Unreadable ccxt balance', m.problems.length === 0 ? 'no currency in it' : m.problems.slice(0, 5).map((p) => p.message).join('; '));
      // Without a book the report is of the venue account, shared by every book there.
      const events = m.events.map((e) => (book === undefined ? Object.fromEntries(Object.entries(e).filter(([k]) => k !== 'book')) : e));
      const r = await recon.service.submit(events, 'recon');
      const counts = { accepted: 0, duplicate: 0, rejected: 0 };
      for (const x of r.results) counts[x.status]++;
      await store.audit(principalOf(req)?.name ?? 'anonymous', 'recon.balances', `${venue}/${typeof account === 'string' ? account : 'default'}`, { ...counts, book: book ?? null });
      return reply.code(r.status).type('application/json').send(r.body);
    });

    app.post('/recon/trades', async (req, reply) => {
      const body = bodyOf(req.body);
      if (typeof body === 'string') return problem(reply, 400, 'BAD_BODY', 'Unreadable body', body);
      const venue = body.venue;
      if (typeof venue !== 'string' || !isName(venue)) return problem(reply, 400, 'BAD_BODY', 'Bad `venue`', 'the venue whose history this is');
      if (!Array.isArray(body.trades)) return problem(reply, 400, 'BAD_BODY', 'Bad `trades`', 'a list of trade events or ccxt fetchMyTrades records');
      const from = ts(body.from, 'from', reply);
      if (typeof from === 'object') return from;
      const to = ts(body.to, 'to', reply);
      if (typeof to === 'object') return to;
      let wires: unknown[] = body.trades;
      if (body.trades.length > 0 && isCcxtPayload(body.trades)) {
        const m = fromCcxt(body.trades, { venue, book: typeof body.book === 'string' ? body.book : 'recon' });
        if (m.problems.length > 0) return problem(reply, 422, 'BAD_TRADES', 'Unreadable ccxt trades', m.problems.slice(0, 5).map((p) => `[${p.index}] ${p.message}`).join('; '));
        wires = m.events;
      }
      const trades: TradeEvent[] = [];
      const problems: string[] = [];
      wires.forEach((w, i) => {
        const x = typeof w === 'object' && w !== null && !('book' in w) ? { ...w, book: 'recon' } : w;
        const v = validateEvent(x, recon.service.ledger.instruments);
        if (!v.ok) problems.push(`[${i}] ${v.issues.map((s) => `${s.path}: expected ${s.expected}, got ${s.received}`).join('; ')}`);
        else if (v.event.type !== 'trade') problems.push(`[${i}] a ${v.event.type}, not a trade`);
        else trades.push(v.event);
      });
      if (problems.length > 0) return problem(reply, 422, 'BAD_TRADES', 'Invalid trades', problems.slice(0, 5).join(' | '));
      return recon.reconcileTrades(venue, trades, { ...(from === undefined ? {} : { from }), ...(to === undefined ? {} : { to }) });
    });

    app.get('/recon/transfers', async (req, reply) => {
      const q = req.query as Obj;
      const fromText = one(q, 'from', reply);
      if (typeof fromText === 'object') return fromText;
      const untilText = one(q, 'until', reply);
      if (typeof untilText === 'object') return untilText;
      const from = ts(fromText, 'from', reply);
      if (typeof from === 'object') return from;
      const until = ts(untilText, 'until', reply);
      if (typeof until === 'object') return until;
      return recon.reconcileTransfers(from, until);
    });

    app.get('/checks', async (req) => {
      const q = req.query as Obj;
      // run=full: flows over every event held and the whole log accounted for (reads the whole log).
      if (q.run === 'full') await recon.runChecks({ full: true });
      else if (q.run === '1' || q.run === 'true' || recon.checkedAtMs === undefined) await recon.runChecks();
      const checks = recon.checks;
      return { ok: checks.every((c) => c.ok), checkedAt: new Date(recon.checkedAtMs ?? clock()).toISOString(), checks };
    });

    app.get('/audit', async (req, reply) => {
      const q = req.query as Obj;
      const target = one(q, 'target', reply);
      if (typeof target === 'object') return target;
      const limitText = one(q, 'limit', reply) ?? '100';
      if (typeof limitText === 'object') return limitText;
      if (!/^\d{1,4}$/.test(limitText) || Number(limitText) < 1 || Number(limitText) > 1000) return problem(reply, 400, 'BAD_QUERY', 'Bad `limit`', 'a whole number from 1 to 1000');
      return { items: await store.auditTrail(target, Number(limitText)) };
    });
  };
}
