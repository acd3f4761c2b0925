/**
 * Rate limits on writes (@fastify/rate-limit): every POST counts against its API key (or, without
 * auth, its client address); past `max` in `timeWindowMs` the answer is 429 problem+json
 * `RATE_LIMITED` with `Retry-After`, before the body is read. Reads are not limited: they change
 * nothing and are cheap next to a commit. The counters are per process (the plugin's memory store).
 */
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance } from 'fastify';
import { principalOf } from './auth.js';
import { problem } from './problem.js';

export interface WriteLimit {
  /** POST requests per window per key (or address). */
  readonly max: number;
  readonly timeWindowMs: number;
}

/** Installs the limit on `app`; call after `installAuth` so the hook knows the request's key. */
export function installWriteLimit(app: FastifyInstance, limit: WriteLimit): void {
  void app.register(rateLimit, { global: false });
  let limiter: ReturnType<FastifyInstance['createRateLimit']> | undefined;
  app.addHook('onRequest', async (req, reply) => {
    if (req.method !== 'POST') return undefined;
    // The plugin's decorator exists once it has loaded, which is before the first request.
    limiter ??= app.createRateLimit({
      max: limit.max,
      timeWindow: limit.timeWindowMs,
      keyGenerator: (r) => {
        const p = principalOf(r);
        return p === undefined ? `ip:${r.ip}` : `key:${p.id}`;
      },
    });
    const r = await limiter(req);
    if (r.isAllowed || !r.isExceeded) return undefined;
    reply.header('retry-after', String(r.ttlInSeconds));
    return problem(reply, 429, 'RATE_LIMITED', 'Too many writes', `at most ${r.max} POST requests per ${limit.timeWindowMs / 1000} s per key (or address); retry in ${r.ttlInSeconds} s`);
  });
}
