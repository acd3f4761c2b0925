/**
 * The HTTP front's thread (front.ts starts it): it listens on the API's address and answers
 * `GET /positions` itself, from its copy of the positions (src/app/positions-model.ts); every other
 * request, and every `GET /positions` it does not answer, goes to the API on the booking thread
 * (fastify, on a Unix socket only this process reaches), byte for byte, WebSocket upgrades too.
 *
 * It answers only what it can answer exactly as the API would; the rest (an `at` or `lots`
 * parameter, a repeated or unusual one, a request without a valid key, a key lacking `read` or
 * naming a book it may not see, a copy not yet filled) goes to the API, which answers it (and
 * its errors) as always. A write that passed through here is read back: a `GET /positions`
 * after it waits until the copy holds the write's `seq` (or goes to the API after 2 s).
 */
import { createServer, request, Agent, type IncomingMessage, type ServerResponse, type OutgoingHttpHeaders } from 'node:http';
import { connect, type Socket } from 'node:net';
import { parentPort, workerData } from 'node:worker_threads';
import { PositionsModel, type ModelMessage } from '../../app/positions-model.js';

export interface FrontWorkerData {
  readonly host: string;
  readonly port: number;
  /** The Unix socket of the API on the booking thread. */
  readonly upstream: string;
  readonly reporting: string;
  /** Whether requests need an API key (then `auth` messages resolve tokens). */
  readonly auth: boolean;
  /** How long a resolved token is kept (ms). */
  readonly authCacheMs: number;
}

/** A key as the booking thread resolves it: what the front needs of it. */
export interface FrontPrincipal {
  readonly scope: string;
  /** The books it may see; null: every book. */
  readonly books: readonly string[] | null;
}

export type ToFront =
  | ModelMessage
  /** Model messages of one turn of the booking thread, in order. */
  | { readonly t: 'many'; readonly ms: readonly ModelMessage[] }
  | { readonly t: 'ready' }
  | { readonly t: 'auth'; readonly id: number; readonly principal: FrontPrincipal | null }
  | { readonly t: 'close' };

export type FromFront =
  | { readonly t: 'listening'; readonly port: number }
  | { readonly t: 'auth'; readonly id: number; readonly token: string }
  | { readonly t: 'error'; readonly where: string; readonly message: string }
  | { readonly t: 'closed' };

const data = workerData as FrontWorkerData;
const port = parentPort!;
const model = new PositionsModel(data.reporting);
let ready = false;
/** The highest `seq` a write through this front was answered at: what a read must show. */
let requiredSeq = 0;
/** Reads waiting for the copy to reach a `seq`. */
let waiting: { seq: number; done: (ok: boolean) => void }[] = [];

const tell = (m: FromFront): void => port.postMessage(m);
const report = (where: string, err: unknown): void => tell({ t: 'error', where, message: String(err) });

// ---- keys ----

const authCache = new Map<string, { principal: FrontPrincipal | null; atMs: number }>();
const authPending = new Map<number, (p: FrontPrincipal | null) => void>();
let authIds = 0;

const refreshing = new Set<string>();

function askFor(token: string): Promise<FrontPrincipal | null> {
  return new Promise((resolve) => {
    const id = ++authIds;
    authPending.set(id, (principal) => {
      if (authCache.size >= 10_000) authCache.clear();
      authCache.set(token, { principal, atMs: Date.now() });
      resolve(principal);
    });
    tell({ t: 'auth', id, token });
  });
}

/**
 * The key a token names, as the booking thread last said (at most `authCacheMs` ago). A key in
 * use is asked about again in the background once half of that has passed, so its requests do
 * not wait for the booking thread; only a key unused for a while does.
 */
function resolveToken(token: string): Promise<FrontPrincipal | null> {
  const hit = authCache.get(token);
  const age = hit === undefined ? Infinity : Date.now() - hit.atMs;
  if (hit === undefined || age > data.authCacheMs) return askFor(token);
  if (age > data.authCacheMs / 2 && !refreshing.has(token)) {
    refreshing.add(token);
    void askFor(token).finally(() => refreshing.delete(token));
  }
  return Promise.resolve(hit.principal);
}

/** The token of the request as the API's auth hook reads it (auth.ts `tokenOf`), or undefined. */
function tokenOf(req: IncomingMessage): string | undefined {
  const h = req.headers.authorization;
  if (typeof h === 'string') return /^Bearer\s+(\S+)\s*$/i.exec(h)?.[1];
  const k = req.headers['x-api-key'];
  return typeof k === 'string' && k.trim() !== '' ? k.trim() : undefined;
}

const SCOPES = ['read', 'write', 'admin'];

// ---- GET /positions ----

/** Values the front passes through as they are (no percent-decoding or `+` to tell apart). */
const PLAIN = /^[A-Za-z0-9_.:,/-]+$/;

/** `book`, `asset`, `venue`, each at most once and plain; undefined: not for the front. */
function positionsQuery(search: string): { book?: string; asset?: string; venue?: string } | undefined {
  const q: { book?: string; asset?: string; venue?: string } = {};
  if (search === '') return q;
  for (const part of search.split('&')) {
    const eq = part.indexOf('=');
    const k = eq < 0 ? part : part.slice(0, eq);
    const v = eq < 0 ? '' : part.slice(eq + 1);
    if ((k !== 'book' && k !== 'asset' && k !== 'venue') || q[k] !== undefined || !PLAIN.test(v)) return undefined;
    q[k] = v;
  }
  return q;
}

function caughtUp(seq: number, ms: number): Promise<boolean> {
  if (model.seq >= seq) return Promise.resolve(true);
  return new Promise((resolve) => {
    const w = { seq, done: (ok: boolean) => resolve(ok) };
    waiting.push(w);
    setTimeout(() => {
      waiting = waiting.filter((x) => x !== w);
      resolve(model.seq >= seq);
    }, ms).unref();
  });
}

/** Answers the request from the copy; false: the API is to answer it. */
async function positions(req: IncomingMessage, res: ServerResponse, search: string): Promise<boolean> {
  const q = positionsQuery(search);
  if (q === undefined || !ready) return false;
  let visible: readonly string[] | null = null;
  if (data.auth) {
    const token = tokenOf(req);
    if (token === undefined) return false;
    const principal = await resolveToken(token);
    if (principal === null || SCOPES.indexOf(principal.scope) < 0) return false;
    visible = principal.books;
  }
  let books: ReadonlySet<string> | undefined;
  if (q.book !== undefined) {
    const named = q.book.split(',');
    if (visible !== null && named.some((b) => !visible.includes(b))) return false;
    books = new Set(named);
  } else if (visible !== null) books = new Set(visible);
  const need = requiredSeq;
  if (model.seq < need && !(await caughtUp(need, 2000))) return false;
  const body = model.body({ ...(books === undefined ? {} : { books }), ...(q.asset === undefined ? {} : { asset: q.asset }), ...(q.venue === undefined ? {} : { venue: q.venue }) });
  res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': body.length });
  // The head and every chunk handed to the socket together (one writev), not a write each.
  res.cork();
  for (const c of body.chunks) res.write(c);
  res.end();
  res.uncork();
  return true;
}

// ---- to the API ----

// Idle sockets to the API are let go of before fastify closes them (72 s): a request never goes
// out on a socket the API is closing.
const agent = new Agent({ keepAlive: true, maxSockets: 256, timeout: 60_000 });
/** Hop-by-hop headers (RFC 9110 §7.6.1): each connection's own, never passed on. */
const HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade']);

function passOn(req: IncomingMessage, res: ServerResponse): void {
  const headers: OutgoingHttpHeaders = {};
  for (const [k, v] of Object.entries(req.headers)) if (!HOP.has(k) && k !== 'x-forwarded-for' && v !== undefined) headers[k] = v;
  // The client's address, for the API's per-address write limit (it trusts this header from here only).
  headers['x-forwarded-for'] = req.socket.remoteAddress ?? '';
  const write = req.method !== 'GET' && req.method !== 'HEAD';
  const up = request({ socketPath: data.upstream, method: req.method, path: req.url, headers, agent }, (ur) => {
    const seq = Number(ur.headers['x-utl-seq']);
    if (write && Number.isSafeInteger(seq) && seq > requiredSeq) requiredSeq = seq;
    const out: OutgoingHttpHeaders = {};
    for (const [k, v] of Object.entries(ur.headers)) if (!HOP.has(k) && k !== 'x-utl-seq' && v !== undefined) out[k] = v;
    res.writeHead(ur.statusCode ?? 502, ur.statusMessage, out);
    ur.pipe(res);
  });
  up.on('error', (err) => {
    report('passing a request on to the API', err);
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const body = JSON.stringify({ type: 'https://utl.dev/problems/api-unavailable', title: 'The API did not answer', status: 502, code: 'API_UNAVAILABLE', detail: 'retry; the error is logged' });
    res.writeHead(502, { 'content-type': 'application/problem+json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  res.on('close', () => {
    if (!res.writableFinished) up.destroy();
  });
  req.pipe(up);
}

function passOnUpgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
  const up = connect(data.upstream);
  const closeBoth = (): void => {
    socket.destroy();
    up.destroy();
  };
  up.on('connect', () => {
    let text = `${req.method} ${req.url} HTTP/${req.httpVersion}\r\n`;
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
      if (req.rawHeaders[i]!.toLowerCase() !== 'x-forwarded-for') text += `${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}\r\n`;
    }
    text += `x-forwarded-for: ${socket.remoteAddress ?? ''}\r\n\r\n`;
    up.write(text);
    if (head.length > 0) up.write(head);
    up.pipe(socket);
    socket.pipe(up);
  });
  up.on('error', closeBoth);
  socket.on('error', closeBoth);
  up.on('close', closeBoth);
  socket.on('close', closeBoth);
}

// ---- the server ----

const server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
  const url = req.url ?? '/';
  const qAt = url.indexOf('?');
  const path = qAt < 0 ? url : url.slice(0, qAt);
  if (req.method === 'GET' && path === '/positions') {
    positions(req, res, qAt < 0 ? '' : url.slice(qAt + 1)).then(
      (answered) => {
        if (!answered) passOn(req, res);
      },
      (err: unknown) => {
        report('GET /positions', err);
        if (!res.headersSent) passOn(req, res);
      },
    );
    return;
  }
  passOn(req, res);
});
server.on('upgrade', passOnUpgrade);
server.on('clientError', (_err, socket) => socket.destroy());

port.on('message', (m: ToFront) => {
  switch (m.t) {
    case 'ready':
      ready = true;
      return;
    case 'auth':
      authPending.get(m.id)?.(m.principal);
      authPending.delete(m.id);
      return;
    case 'close':
      server.close(() => {
        agent.destroy();
        tell({ t: 'closed' });
        port.close();
      });
      server.closeAllConnections();
      return;
    default:
      try {
        if (m.t === 'many') for (const x of m.ms) model.apply(x);
        else model.apply(m);
      } catch (err) {
        // The copy can no longer be trusted: every read goes to the API from now on.
        ready = false;
        report('applying a book update', err);
        return;
      }
      if (waiting.length > 0) {
        const still: typeof waiting = [];
        for (const w of waiting) {
          if (model.seq >= w.seq) w.done(true);
          else still.push(w);
        }
        waiting = still;
      }
  }
});

server.listen(data.port, data.host, () => {
  const a = server.address();
  tell({ t: 'listening', port: typeof a === 'object' && a !== null ? a.port : data.port });
});
