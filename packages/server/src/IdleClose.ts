/**
 * A kept-alive connection is closed as idle only once the service has read
 * what its client sent.
 *
 * Node closes a kept-alive HTTP connection when its idle timer expires
 * (`keepAliveTimeout` plus `keepAliveTimeoutBuffer`: 6 s), and runs that
 * timer from its event loop's timers phase, before the loop's poll reads the
 * sockets. After a long turn (a loaded service's, or one the host took the
 * processor from) a request its client sent in time can be waiting in the
 * socket, unread, when the timer runs: Node closes the connection with it,
 * the kernel answers the client with a reset, and the client cannot tell
 * whether its request was read. In the full load mix on a starved machine
 * that lost submissions (`submit-EPIPE`).
 *
 * `install` takes the timeout over: the close waits for the check phase of
 * the same turn (`setImmediate`), after the poll has read every socket that
 * had bytes, and is made only if the connection received none since its
 * timer expired. A request read by then is served as Node serves one that
 * came in time (its parse stops the idle timer). One sent after the poll
 * still meets a closed connection, the race every HTTP/1.1 client of kept-alive
 * connections has: it resends a request that got no byte of an answer on a
 * connection closed as idle, and honours the `Keep-Alive: timeout=5` hint
 * the service sends, a second under the close.
 *
 * Only the idle timer is a socket timeout here: the server's `timeout` is 0
 * (Node's default), so a request in progress or a streamed answer is never
 * cut by inactivity; a slow request is cut by `headersTimeout` and
 * `requestTimeout` (`Server.nodeServer`).
 *
 * @since 0.1.0
 */
import type * as Http from "node:http"
import type * as Net from "node:net"

/** Closes `server`'s connections whose idle timer expired only when they received no byte by the end of that turn. */
export const install = <S extends Http.Server>(server: S): S => {
  server.on("timeout", (socket: Net.Socket) => {
    const read = socket.bytesRead
    setImmediate(() => {
      if (!socket.destroyed && socket.bytesRead === read) socket.destroy()
    })
  })
  return server
}
