/** RFC 9457 problem+json with a stable `code`: every error the HTTP API answers. */
import type { FastifyReply } from 'fastify';

export function problem(reply: FastifyReply, status: number, code: string, title: string, detail?: string): FastifyReply {
  return reply
    .code(status)
    .type('application/problem+json')
    .send({ type: `https://utl.dev/problems/${code.toLowerCase().replace(/_/g, '-')}`, title, status, code, ...(detail === undefined ? {} : { detail }) });
}
