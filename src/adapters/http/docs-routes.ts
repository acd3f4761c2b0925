/**
 * The API description, a fastify plugin (`app.register(docsRoutes())`): `GET /docs` is Swagger UI
 * showing it, `GET /docs/openapi.json` the OpenAPI 3.1 document (openapi.ts); Swagger UI adds
 * `/docs/json`, `/docs/yaml` and its assets under `/docs/static/`. @fastify/swagger runs in static
 * mode (the document is written by hand; routes declare no schemas) and @fastify/swagger-ui serves
 * its assets from node_modules: nothing is fetched from the internet. The document holds no data,
 * so these routes are open (auth.ts), like the dashboard's files.
 */
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyPluginAsync } from 'fastify';
import { OPENAPI, type OpenApiDocument } from './openapi.js';

export const DOCS_PREFIX = '/docs';

export function docsRoutes(document: OpenApiDocument = OPENAPI): FastifyPluginAsync {
  return async (app) => {
    await app.register(swagger, { mode: 'static', specification: { document: structuredClone(document) as never } });
    await app.register(swaggerUi, {
      routePrefix: DOCS_PREFIX,
      uiConfig: { deepLinking: true, docExpansion: 'list', defaultModelsExpandDepth: 0 },
      theme: { title: 'UTL API' },
    });
    const body = JSON.stringify(document);
    app.get(`${DOCS_PREFIX}/openapi.json`, (_req, reply) => reply.type('application/json; charset=utf-8').header('cache-control', 'no-cache').send(body));
  };
}
