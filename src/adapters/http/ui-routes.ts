/**
 * The dashboard (docs/dashboard.md), a fastify plugin (`app.register(uiRoutes())`): `GET /` serves
 * `ui/index.html`, `GET /ui/app.js` and `GET /ui/app.css` the page's one module and stylesheet.
 * Three fixed files, read once at registration and held in memory (a few tens of KiB): no file
 * path ever comes from a request, so nothing outside `ui/` can be served. The page holds no data
 * and no secret; it reads everything through the public HTTP and WebSocket API with the user's key,
 * so these routes are open (auth.ts `OPEN`).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyPluginAsync } from 'fastify';

/** The dashboard's routes and what each serves: file under ui/, content type. */
export const UI_FILES: ReadonlyMap<string, readonly [string, string]> = new Map([
  ['/', ['index.html', 'text/html; charset=utf-8']],
  ['/ui/app.js', ['app.js', 'text/javascript; charset=utf-8']],
  ['/ui/app.css', ['app.css', 'text/css; charset=utf-8']],
]);

/** How many folders up from this module `ui/` may be (src/adapters/http, or dist/src/adapters/http). */
const UI_SEARCH_DEPTH_MAX = 6;

/** The repository's `ui/` folder: the nearest ancestor of this module holding `ui/index.html`. */
export function findUiDir(from: string = dirname(fileURLToPath(import.meta.url))): string {
  let dir = from;
  for (let i = 0; i < UI_SEARCH_DEPTH_MAX; i++) {
    if (existsSync(join(dir, 'ui', 'index.html'))) return join(dir, 'ui');
    dir = dirname(dir);
  }
  throw new Error(`the dashboard's files (ui/index.html) are not within ${UI_SEARCH_DEPTH_MAX} folders above ${from}`);
}

export function uiRoutes(uiDir: string = findUiDir()): FastifyPluginAsync {
  const files = [...UI_FILES].map(([route, [file, type]]) => ({ route, type, body: readFileSync(join(uiDir, file)) }));
  // eslint-disable-next-line @typescript-eslint/require-await -- fastify plugins are async functions
  return async (app) => {
    for (const f of files) {
      // no-cache: the browser revalidates, so a new build is seen at the next load.
      app.get(f.route, (_req, reply) => reply.type(f.type).header('cache-control', 'no-cache').send(f.body));
    }
  };
}
