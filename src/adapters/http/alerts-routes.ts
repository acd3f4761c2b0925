/**
 * The alerts' HTTP routes, as a fastify plugin the server registers
 * (`app.register(alertRoutes(alerting))`):
 * - `GET /alerts`: the alerts pending or firing now (firing first, then by severity);
 * - `GET /alerts/history?limit=&before=`: every notification sent, newest first, paged by id
 *   (`next` of a page is the `before` of the next one).
 * Errors are RFC 9457 problem+json with a stable `code`, as in server.ts.
 */
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import type { Alerting } from '../../app/alerting.js';

function problem(reply: FastifyReply, status: number, code: string, title: string, detail?: string): FastifyReply {
  return reply
    .code(status)
    .type('application/problem+json')
    .send({ type: `https://utl.dev/problems/${code.toLowerCase().replace(/_/g, '-')}`, title, status, code, ...(detail === undefined ? {} : { detail }) });
}

export function alertRoutes(alerting: Pick<Alerting, 'active' | 'history'>): FastifyPluginAsync {
  // eslint-disable-next-line @typescript-eslint/require-await -- fastify plugins are async functions
  return async (app) => {
    app.get('/alerts', () => {
      const items = alerting.active();
      return { firing: items.filter((a) => a.status === 'firing').length, pending: items.filter((a) => a.status === 'pending').length, items };
    });

    app.get('/alerts/history', async (req, reply) => {
      const q = req.query as Record<string, unknown>;
      const limitText = q.limit ?? '100';
      const beforeText = q.before;
      if (typeof limitText !== 'string' || !/^\d{1,4}$/.test(limitText) || Number(limitText) < 1 || Number(limitText) > 1000) {
        return problem(reply, 400, 'BAD_QUERY', 'Bad `limit`', 'a whole number from 1 to 1000');
      }
      if (beforeText !== undefined && (typeof beforeText !== 'string' || !/^\d{1,18}$/.test(beforeText))) {
        return problem(reply, 400, 'BAD_QUERY', 'Bad `before`', 'the `next` of a previous page (a whole number)');
      }
      return alerting.history({ limit: Number(limitText), beforeId: beforeText });
    });
  };
}
