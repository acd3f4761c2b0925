/**
 * API keys on the HTTP API: a fastify `onRequest` hook that finds the request's key
 * (`Authorization: Bearer <token>` or `X-API-Key: <token>`; on the `GET /ws` upgrade also
 * `?token=<token>`, since browsers cannot set headers there), and refuses what it may not do:
 * - no key, or one unknown or revoked: 401 `UNAUTHENTICATED` with `WWW-Authenticate: Bearer`;
 * - a scope too low (GET/HEAD need `read`, any other method `write`, `/audit` and `POST /snapshots`
 *   `admin`): 403 `FORBIDDEN`;
 * - firm-wide routes (alerts, reconciliation, checks, audit, metrics) with a key restricted to
 *   some books: 403 `FORBIDDEN`, because what they show is not split by book.
 * `/healthz` and `/readyz` stay open (orchestrators probe them without secrets), and so do the
 * dashboard's static files (`/`, `/ui/app.js`, `/ui/app.css`) and the API description (`/docs`,
 * `/docs/*`), which hold no data. A route the
 * table does not name needs `read` (or `write`): new routes are closed until someone opens them.
 *
 * The key found is the request's `Principal`; routes that show per-book data filter with
 * `visibleBooks(req)` (undefined: every book). `wsAuth` gives the WebSocket plugin the same
 * answer for its upgrade request, which passes through this hook like any GET.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { scopeAllows, type Principal, type Scope } from '../../app/api-keys.js';
import { problem } from './problem.js';

export interface HttpAuth {
  /** The live key a token names, or undefined (unknown, revoked, malformed). */
  authenticate(token: string): Promise<Principal | undefined>;
}

/** What the WebSocket plugin (ws.ts) asks of auth: who may see which book, for one request. */
export interface WsAuthLike {
  authenticate(req: object): { canSee(book: string): boolean } | undefined;
}

// The probes, and the dashboard's static files (ui-routes.ts: no data, no secret in them).
const OPEN = new Set(['/healthz', '/readyz', '/', '/ui/app.js', '/ui/app.css']);
// The API description (docs-routes.ts: /docs, /docs/openapi.json, Swagger UI's assets): no data.
const isDocs = (url: string): boolean => url === '/docs' || url.startsWith('/docs/');
const ADMIN = new Set(['/audit']);
// Taking (or retaking) an official end-of-day snapshot changes every PnL measured from it.
const ADMIN_POSTS = new Set(['/snapshots']);
const FIRM_WIDE = [/^\/alerts(\/|$)/, /^\/recon\//, /^\/checks$/, /^\/audit$/, /^\/metrics$/];

export type RoutePolicy = 'open' | { readonly scope: Scope; readonly everyBook: boolean };

/** What a route needs: `url` is its pattern (`/breaks/:id`), or the path when no route matched. */
export function routePolicy(method: string, url: string): RoutePolicy {
  if ((OPEN.has(url) || isDocs(url)) && (method === 'GET' || method === 'HEAD')) return 'open';
  const scope: Scope = ADMIN.has(url) || (method === 'POST' && ADMIN_POSTS.has(url)) ? 'admin' : method === 'GET' || method === 'HEAD' ? 'read' : 'write';
  return { scope, everyBook: FIRM_WIDE.some((re) => re.test(url)) };
}

// The principal of each request, by the fastify request and by its raw Node request (the
// WebSocket plugin may hold either). Weak: gone with the request.
const principals = new WeakMap<object, Principal>();

/** The request's key, when auth is on and the hook found one. */
export function principalOf(req: FastifyRequest): Principal | undefined {
  return principals.get(req);
}

/** The books the request may see; undefined: every book (no auth, or an unrestricted key). */
export function visibleBooks(req: FastifyRequest): ReadonlySet<string> | undefined {
  return principals.get(req)?.books;
}

/** For the WebSocket plugin: the key its upgrade request authenticated with (the hook ran first). */
export const wsAuth: WsAuthLike = {
  authenticate: (req) => principals.get(req) ?? principals.get((req as { raw?: object }).raw ?? req),
};

function tokenOf(req: FastifyRequest): string | undefined {
  const h = req.headers.authorization;
  // Browsers cannot set headers on a WebSocket: the upgrade of GET /ws (only) may carry the key
  // as ?token=. The HTTP logger is off (server.ts), so the URL is not written anywhere.
  if (h === undefined && req.headers['x-api-key'] === undefined && req.routeOptions.url === '/ws') {
    const t = new URLSearchParams(req.url.split('?')[1] ?? '').get('token');
    if (t !== null) return t.trim();
  }
  if (typeof h === 'string') {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
    return m?.[1] ?? '';
  }
  const k = req.headers['x-api-key'];
  return typeof k === 'string' ? k.trim() : undefined;
}

const REALM = 'Bearer realm="utl"';

function unauthenticated(reply: FastifyReply, detail: string, invalid: boolean): FastifyReply {
  reply.header('www-authenticate', invalid ? `${REALM}, error="invalid_token"` : REALM);
  return problem(reply, 401, 'UNAUTHENTICATED', 'An API key is needed', detail);
}

function forbidden(reply: FastifyReply, detail: string, scope?: Scope): FastifyReply {
  if (scope !== undefined) reply.header('www-authenticate', `${REALM}, error="insufficient_scope", scope="${scope}"`);
  return problem(reply, 403, 'FORBIDDEN', 'Not allowed with this key', detail);
}

/** Installs the hook on `app` (before its routes and plugins are registered). */
export function installAuth(app: FastifyInstance, auth: HttpAuth): void {
  app.addHook('onRequest', async (req, reply) => {
    const url = req.routeOptions.url ?? req.url.split('?')[0] ?? '/';
    const policy = routePolicy(req.method, url);
    if (policy === 'open') return;
    const token = tokenOf(req);
    if (token === undefined) return unauthenticated(reply, 'send Authorization: Bearer <token> (or X-API-Key: <token>)', false);
    const principal = token === '' ? undefined : await auth.authenticate(token);
    if (principal === undefined) return unauthenticated(reply, 'the API key is unknown, malformed or revoked', true);
    principals.set(req, principal);
    principals.set(req.raw, principal);
    if (!scopeAllows(principal.scope, policy.scope)) return forbidden(reply, `${req.method} ${url} needs the ${policy.scope} scope; key ${principal.name} has ${principal.scope}`, policy.scope);
    if (policy.everyBook && principal.books !== undefined) return forbidden(reply, `${url} shows firm-wide data: it needs a key for every book; key ${principal.name} sees only some books`);
    return undefined;
  });
}

/** A 403 for a book the request's key may not see or write. */
export function bookForbidden(reply: FastifyReply, detail: string): FastifyReply {
  return forbidden(reply, detail);
}

/**
 * The books a request asks for (`book=a,b`, or every book: undefined), narrowed to what its key
 * may see: a restricted key asking for nothing gets its own books; naming another book is a 403
 * (the reply is sent and returned).
 */
export function requestedBooks(req: FastifyRequest, bookParam: string | undefined, reply: FastifyReply): string[] | undefined | FastifyReply {
  const books = bookParam === undefined ? undefined : bookParam.split(',');
  const allowed = visibleBooks(req);
  if (allowed === undefined) return books;
  const hidden = books?.find((b) => !allowed.has(b));
  if (hidden !== undefined) return bookForbidden(reply, `this key may not see book ${JSON.stringify(hidden)}`);
  return books ?? [...allowed];
}
