import type { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';

/** How long, and how many bytes, a connection answered before its body was read is drained. */
export const LINGER_MS = 5_000;
export const LINGER_BYTES = 32 * 1024 * 1024;

/**
 * Whether this Node can drain such a connection: Node 20's HTTP server stops reading a socket once
 * it has written a `Connection: close` answer (its parser owns the socket's reads, and they stay
 * stopped whatever is resumed from outside; seen on 20.20), so there the connection closes at once,
 * as before, and a client still writing may see the reset. Node 24 (the runtime) keeps reading.
 */
export const LINGERING = Number(process.versions.node.split('.')[0]) >= 24;

type Lingering = Socket & { destroySoon?: () => void; [LINGER]?: true };
const LINGER = Symbol('keyloft.linger');

/**
 * A lingering close, as nginx's `lingering_close`. When keyloft answers before it has read the
 * request's body (413 for a body over the limit, 415, a parser error), Fastify closes the connection
 * after the answer. Closing a socket that still has unread data makes the kernel send a reset, and a
 * client still writing its body (every client that does not send `Expect: 100-continue`: fetch, the
 * keyloft CLI, most HTTP libraries) then sees ECONNRESET or EPIPE instead of the 413 and its message.
 *
 * So for such a connection keyloft ends its own side after the answer (the client reads the answer
 * and a FIN), reads and discards what the client still sends, and closes when the client closes its
 * side, after LINGER_MS, or after LINGER_BYTES more bytes, whichever comes first. Nothing read then
 * is served or kept: the HTTP parser discards the rest of the refused body, and a request pipelined
 * after it closes the connection before any hook or handler runs. The request timeout and the
 * connection limit still bound the connection as before. (Node 24 only: see LINGERING. The refusal
 * of pipelined requests holds on every version.)
 */
export function registerLingeringClose(app: FastifyInstance): void {
  // A request the client pipelined behind the refused one is not served (nor any of its hooks run):
  // the answer said `Connection: close`, and a pipelining client retries on a new connection.
  app.addHook('onRequest', (req, _reply, done) => {
    const socket = req.raw.socket as Lingering | null;
    if (socket?.[LINGER]) return socket.destroy();
    done();
  });
  app.addHook('onSend', async (req, reply) => {
    if (req.raw.complete || String(reply.getHeader('connection') ?? '').toLowerCase() !== 'close') return;
    const socket = req.raw.socket as Lingering | null;
    if (!socket || socket[LINGER]) return;
    socket[LINGER] = true;
    if (LINGERING) linger(socket);
  });
}

function linger(socket: Lingering): void {
  // Node's HTTP server calls destroySoon() once a `Connection: close` answer is written.
  if (typeof socket.destroySoon !== 'function') return;
  let draining = false;
  socket.destroySoon = () => {
    if (draining) return socket.destroy();
    draining = true;
    let seen = 0;
    const stop = () => socket.destroy();
    const timer = setTimeout(stop, LINGER_MS);
    timer.unref();
    socket.once('close', () => clearTimeout(timer));
    socket.once('end', stop);
    socket.on('data', (chunk: Buffer) => {
      seen += chunk.length;
      if (seen > LINGER_BYTES) stop();
    });
    socket.end();
    socket.resume();
  };
}
