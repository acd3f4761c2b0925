/**
 * The alerts' HTTP routes, as a fastify plugin the server registers
 * (`app.register(alertRoutes(alerting))`):
 * - `GET /alerts`: the alerts pending or firing now (firing first, then by severity);
 * - `GET /alerts/history?limit=&before=`: every notification sent, newest first, paged by id
 *   (`next` of a page is the `before` of the next one).
 * Errors are RFC 9457 problem+json with a stable `code`, as in server.ts.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { Alerting } from '../../app/alerting.js';
import { pageQuery } from './problem.js';

export function alertRoutes(alerting: Pick<Alerting, 'active' | 'history'>): FastifyPluginAsync {
  // eslint-disable-next-line @typescript-eslint/require-await -- fastify plugins are async functions
  return async (app) => {
    app.get('/alerts', () => {
      const items = alerting.active();
      return { firing: items.filter((a) => a.status === 'firing').length, pending: items.filter((a) => a.status === 'pending').length, items };
    });

    app.get('/alerts/history', async (req, reply) => {
      const page = pageQuery(req.query as Record<string, unknown>, reply);
      if (!('limit' in page)) return page;
      return alerting.history({ limit: page.limit, beforeId: page.before });
    });
  };
}
