/** RFC 9457 problem+json with a stable `code`: every error the HTTP API answers; and the paging parameters every paged list reads. */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { TsUs } from '../../domain/events.js';
import { parseTimestamp } from '../../domain/time.js';

export function problem(reply: FastifyReply, status: number, code: string, title: string, detail?: string): FastifyReply {
  return reply
    .code(status)
    .type('application/problem+json')
    .send({ type: `https://utl.dev/problems/${code.toLowerCase().replace(/_/g, '-')}`, title, status, code, ...(detail === undefined ? {} : { detail }) });
}

/** `limit` (1-1000, default 100) and `before` (a whole number: the `next` of the previous page), or the 400 answered. */
export function pageQuery(q: Record<string, unknown>, reply: FastifyReply): { limit: number; before: string | undefined } | FastifyReply {
  const limitText = q.limit ?? '100';
  const beforeText = q.before;
  if (typeof limitText !== 'string' || !/^\d{1,4}$/.test(limitText) || Number(limitText) < 1 || Number(limitText) > 1000) {
    return problem(reply, 400, 'BAD_QUERY', 'Bad `limit`', 'a whole number from 1 to 1000');
  }
  if (beforeText !== undefined && (typeof beforeText !== 'string' || !/^\d{1,18}$/.test(beforeText))) {
    return problem(reply, 400, 'BAD_QUERY', 'Bad `before`', 'the `next` of a previous page (a whole number)');
  }
  return { limit: Number(limitText), before: beforeText };
}

/** Whether a helper below answered the request (a problem) instead of giving a value. */
export const isReply = (x: unknown): x is FastifyReply => typeof x === 'object' && x !== null && 'sent' in x && 'code' in x;

/** Query parameters named in `names`, each given at most once; or the 400 answered. */
export function queryParams<N extends string>(req: FastifyRequest, reply: FastifyReply, names: readonly N[]): Partial<Record<N, string>> | FastifyReply {
  const raw = req.query as Record<string, unknown>;
  const q: Partial<Record<N, string>> = {};
  for (const name of names) {
    const v = raw[name];
    if (v === undefined) continue;
    if (typeof v !== 'string') return problem(reply, 400, 'BAD_QUERY', `Bad \`${name}\``, `give ${name} once (several books: book=a,b)`);
    q[name] = v;
  }
  return q;
}

/** A timestamp parameter, or the 400 answered; undefined when absent. */
export function timeParam(reply: FastifyReply, name: string, v: string | undefined): TsUs | undefined | FastifyReply {
  if (v === undefined) return undefined;
  const t = parseTimestamp(v);
  return t ?? problem(reply, 400, 'BAD_TIMESTAMP', `Bad \`${name}\``, `expected ISO-8601 UTC, got ${JSON.stringify(v)}`);
}

/** A true/false parameter (`1`, `true`, `0`, `false`; absent: false), or the 400 answered. */
export function flagParam(reply: FastifyReply, name: string, v: string | undefined): boolean | FastifyReply {
  if (v === undefined || v === '0' || v === 'false') return false;
  if (v === '1' || v === 'true') return true;
  return problem(reply, 400, 'BAD_QUERY', `Bad \`${name}\``, 'true (1) or false (0)');
}
