/**
 * `GET /ws`, the live WebSocket API (docs/api.md "WebSocket"), a fastify plugin
 * (`app.register(wsRoutes(hub, { auth }))`): each connection becomes a session of the `LiveHub`
 * (src/app/live.ts), which speaks the protocol; this file only carries frames, pings and closes.
 *
 * Authentication happens before the upgrade: with a `WsAuth`, a request it refuses gets HTTP 401
 * (problem+json) and no WebSocket; one it accepts sees the books its `canSee` allows. Without one
 * every connection sees every book.
 */
import websocket from '@fastify/websocket';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import { SEE_ALL, type LiveHub, type LivePeer, type Visibility } from '../../app/live.js';
import { problem } from './problem.js';

/** The auth layer's answer for a connection: undefined when the request has no valid key. */
export interface WsAuth {
  authenticate(req: FastifyRequest): Visibility | undefined;
}

export interface WsOptions {
  readonly auth?: WsAuth;
  /** Largest frame a client may send (bytes); a larger one closes the connection (1009). */
  readonly maxFrameBytes?: number;
  /** After a close from this side, the socket is destroyed if the peer has not closed within this. */
  readonly closeGraceMs?: number;
}

function peerOf(socket: WebSocket, closeGraceMs: number): LivePeer {
  return {
    send: (text) => socket.send(text),
    bufferedBytes: () => socket.bufferedAmount,
    ping: () => socket.ping(),
    close: (code, reason) => {
      socket.close(code, reason);
      // A peer that does not read never answers the close either.
      setTimeout(() => socket.terminate(), closeGraceMs).unref();
    },
  };
}

export function wsRoutes(hub: LiveHub, opts: WsOptions = {}): FastifyPluginAsync {
  const seen = new WeakMap<FastifyRequest, Visibility>();
  const closeGraceMs = opts.closeGraceMs ?? 1000;
  return async (app) => {
    // Once per server: a second registration would handle every upgrade twice.
    if (!app.hasDecorator('websocketServer')) await app.register(websocket, { options: { maxPayload: opts.maxFrameBytes ?? 64 * 1024 } });
    app.addHook('onClose', () => hub.close());
    app.get(
      '/ws',
      {
        websocket: true,
        preValidation: async (req, reply) => {
          if (opts.auth === undefined) return;
          const v = opts.auth.authenticate(req);
          if (v === undefined) return problem(reply, 401, 'UNAUTHORIZED', 'Unauthorized', 'a valid API key is needed');
          seen.set(req, v);
        },
      },
      (socket, req) => {
        const visibility = opts.auth === undefined ? SEE_ALL : seen.get(req);
        // Never a default of "everything" when authentication is on.
        if (visibility === undefined) return socket.close(4401, 'unauthorized');
        const session = hub.open(peerOf(socket, closeGraceMs), visibility);
        if (session === undefined) return;
        socket.on('message', (data, isBinary) => {
          if (isBinary) session.receiveBinary();
          else session.receive(Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.concat(Array.isArray(data) ? data : [Buffer.from(data)]).toString('utf8'));
        });
        socket.on('pong', () => session.alive());
        socket.on('close', () => session.closedByPeer());
        // A reset connection also closes; the error itself needs no answer.
        socket.on('error', () => session.closedByPeer());
      },
    );
  };
}
