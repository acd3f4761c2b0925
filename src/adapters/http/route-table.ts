/**
 * The routes a server serves, as registered: `recordRoutes(app)` (buildServer calls it before its
 * first route) adds an `onRoute` hook that sees every later route, those of plugins included;
 * `routesOf(app)` lists them. The OpenAPI description is held against this list
 * (openapi.int.test.ts), so a route added without being documented fails the suite.
 */
import type { FastifyInstance } from 'fastify';

export interface HttpRoute {
  /** Upper case; fastify's automatic HEAD of each GET is listed as its own route. */
  readonly method: string;
  /** The pattern, as registered: `/breaks/:id`, `/docs/static/*`. */
  readonly url: string;
}

const tables = new WeakMap<FastifyInstance, HttpRoute[]>();

/** Starts recording `app`'s routes; call before any route or plugin is registered on it. */
export function recordRoutes(app: FastifyInstance): void {
  const table: HttpRoute[] = [];
  tables.set(app, table);
  app.addHook('onRoute', (r) => {
    for (const method of Array.isArray(r.method) ? r.method : [r.method]) table.push({ method: method.toUpperCase(), url: r.url });
  });
}

/** The routes recorded on `app` so far (empty when `recordRoutes` was not called). */
export function routesOf(app: FastifyInstance): readonly HttpRoute[] {
  return tables.get(app) ?? [];
}
