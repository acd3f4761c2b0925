/** RFC 9457 problem+json with a stable `code`: every error the HTTP API answers; and the paging parameters every paged list reads. */
import type { FastifyReply } from 'fastify';

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
