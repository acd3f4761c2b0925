/**
 * The HTTP front: a thread of its own that listens on the API's address, answers
 * `GET /positions` from a copy of the positions kept current by the service's book updates, and
 * passes everything else on to the API (fastify, on this thread, listening on a Unix socket).
 * The booking thread's pauses (its collector marking a heap of lots and windows, a large batch)
 * then no longer hold up the most read answer: the front's heap is the positions' bytes.
 * docs/operations.md "The HTTP front" says what it answers and how current it is.
 *
 * This side: starts the thread, feeds it (`update`, `caughtUp`, `ready`) and resolves the keys it
 * asks about (`HttpAuth`, cached there for `authCacheMs`).
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { PositionsFeed, type ModelMessage } from '../../app/positions-model.js';
import type { BookUpdate } from '../../app/service.js';
import type { HttpAuth } from './auth.js';
import type { FromFront, FrontWorkerData, ToFront } from './front-worker.js';

export interface FrontOptions {
  readonly host: string;
  readonly port: number;
  /** The Unix socket the API listens on. */
  readonly upstream: string;
  readonly reporting: string;
  readonly auth?: HttpAuth;
  /** How long the front keeps a resolved key (ms): a revoked key is refused at most this much later (plus the API's own cache). */
  readonly authCacheMs?: number;
  readonly onError?: (err: unknown, where: string) => void;
  /** The thread stopped while it should serve (a bug): nothing listens on the port any more. */
  readonly onFail?: (err: Error) => void;
}

/** The worker's script: the built one beside this file (under the tests, which run the sources, the one `npm run build` wrote). */
function workerScript(): URL | string {
  const here = fileURLToPath(import.meta.url);
  if (!here.endsWith('.ts')) return new URL('./front-worker.js', import.meta.url);
  const built = here.replace(/\/src\/adapters\/http\/front\.ts$/, '/dist/src/adapters/http/front-worker.js');
  if (!existsSync(built)) throw new Error(`the HTTP front runs the built worker: run npm run build (${built} is missing)`);
  return built;
}

export class HttpFront {
  private readonly feed = new PositionsFeed();
  private closed: Promise<void> | undefined;
  /**
   * Updates and seqs not yet handed over: those of one turn of the event loop go as one message.
   * Each message wakes the thread and costs this one a write to wake it with (about a twentieth of
   * this thread's time at 5,000 fills/s when a batch's update and seq went apart).
   */
  private pending: ModelMessage[] = [];
  private flushing: NodeJS.Immediate | undefined;

  private constructor(
    private readonly worker: Worker,
    /** The port it listens on. */
    readonly port: number,
  ) {}

  static async start(opts: FrontOptions): Promise<HttpFront> {
    const data: FrontWorkerData = { host: opts.host, port: opts.port, upstream: opts.upstream, reporting: opts.reporting, auth: opts.auth !== undefined, authCacheMs: opts.authCacheMs ?? 1000 };
    const worker = new Worker(workerScript(), { workerData: data });
    const report = opts.onError ?? (() => undefined);
    const port = await new Promise<number>((resolve, reject) => {
      const early = (err: unknown): void => reject(err instanceof Error ? err : new Error(String(err)));
      worker.once('error', early);
      worker.once('exit', (code) => reject(new Error(`the HTTP front stopped before listening (exit ${code})`)));
      worker.on('message', function first(m: FromFront) {
        if (m.t !== 'listening') return;
        worker.off('message', first);
        worker.off('error', early);
        worker.removeAllListeners('exit');
        resolve(m.port);
      });
    });
    worker.on('error', (err) => report(err, 'HTTP front'));
    const front = new HttpFront(worker, port);
    worker.once('exit', (code) => {
      if (front.closed === undefined) opts.onFail?.(new Error(`the HTTP front stopped (exit ${code}): the API's port is not served`));
    });
    worker.on('message', (m: FromFront) => {
      if (m.t === 'error') report(new Error(m.message), `HTTP front: ${m.where}`);
      else if (m.t === 'auth') {
        const post = (principal: Extract<ToFront, { t: 'auth' }>['principal']): void => worker.postMessage({ t: 'auth', id: m.id, principal } satisfies ToFront);
        if (opts.auth === undefined) post(null);
        else {
          opts.auth.authenticate(m.token).then(
            (p) => post(p === undefined ? null : { scope: p.scope, books: p.books === undefined ? null : [...p.books] }),
            (err: unknown) => {
              report(err, 'HTTP front: resolving a key');
              post(null);
            },
          );
        }
      }
    });
    return front;
  }

  /** A book's update (`Service.onUpdate`). */
  update(u: Pick<BookUpdate, 'book' | 'seq' | 'positions'>): void {
    this.post(this.feed.message(u));
  }

  /** Every event up to `seq` is in the updates given (`Service.onCaughtUp`). */
  caughtUp(seq: number): void {
    this.post({ t: 'seq', seq });
  }

  /** Every book was given: the front answers from its copy from now on. */
  ready(): void {
    this.flush();
    if (this.closed === undefined) this.worker.postMessage({ t: 'ready' } satisfies ToFront);
  }

  /** Stops listening (open connections are closed) and ends the thread. */
  close(): Promise<void> {
    this.closed ??= new Promise<void>((resolve) => {
      const timer = setTimeout(() => void this.worker.terminate(), 5000);
      this.worker.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      this.worker.on('message', (m: FromFront) => {
        if (m.t === 'closed') void this.worker.terminate();
      });
      this.worker.postMessage({ t: 'close' } satisfies ToFront);
    });
    if (this.flushing !== undefined) clearImmediate(this.flushing);
    this.flushing = undefined;
    this.pending = [];
    return this.closed;
  }

  /** Queues a message for the end of this turn (in order: the thread applies them as given). */
  private post(m: ModelMessage): void {
    if (this.closed !== undefined) return;
    if (this.pending.push(m) === 1) this.flushing = setImmediate(() => this.flush());
  }

  private flush(): void {
    if (this.flushing !== undefined) clearImmediate(this.flushing);
    this.flushing = undefined;
    if (this.pending.length === 0 || this.closed !== undefined) return;
    const ms = this.pending;
    this.pending = [];
    this.worker.postMessage((ms.length === 1 ? ms[0]! : { t: 'many', ms }) satisfies ToFront);
  }
}
