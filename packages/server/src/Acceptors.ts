/**
 * More than one new connection accepted per turn of the event loop.
 *
 * Node accepts one pending connection per listening socket each time its
 * event loop polls (libuv's `uv__server_io` takes one, and the socket is
 * reported again at the next poll while its accept queue holds more). A busy
 * turn of 10 ms therefore caps a server at 100 new connections a second,
 * whatever its CPU: in the full load mix (hundreds of event streams a second,
 * each a new connection) the accept queue held every waiting client, new
 * connections waited seconds before the service saw them, while requests on
 * open connections were answered in milliseconds.
 *
 * `spread` opens `count - 1` more listening sockets on the server's address
 * once it listens, all sharing the port (`SO_REUSEPORT`: the kernel spreads
 * new connections over them, each with its own accept queue of the same
 * length), and hands every connection they accept to the server, which serves
 * it as one of its own: a turn then accepts up to `count`. The server must
 * listen with `reusePort: true` (`listenOptions`). They stop accepting when
 * the server is closed, and its `close` reports closed only once they have
 * too: a connection counts on the socket that accepted it, and Node's
 * `close` waits only for its own.
 *
 * `SO_REUSEPORT` lets another process of the same user join the port and
 * take a share of its connections. On a fixed port, `claim` keeps Node's
 * refusal of a second instance (address in use) before the group is joined.
 *
 * @since 0.1.0
 */
import { Config, Effect, Schema } from "effect"
import { HttpServerError } from "effect/http"
import * as Net from "node:net"

/**
 * Listening sockets per server, unless the service is told otherwise: up to this many connections accepted per turn.
 * Sixteen were too few in the full load mix: the turns of a busy service last tens of milliseconds, and its accept
 * queues held hundreds of connections for a second and more, spread evenly over the sixteen sockets. Sixty-four
 * still left a new connection waiting for several turns (accept queues of 264-883 per 10 s interval, the wait before
 * the accept most of a status read's p99); 256 took it lower in two pairs of runs (packages/server/README.md). An
 * idle listening socket costs nothing per turn.
 */
export const defaultCount = 256

/** Listening sockets per server from `CHAINJOBS_ACCEPTORS`: a whole number of at least 1 (1: Node's own single socket). */
export const countConfig: Config.Config<number> = Config.schema(
  Schema.Int.check(Schema.isGreaterThanOrEqualTo(1)),
  "CHAINJOBS_ACCEPTORS"
).pipe(Config.withDefault(defaultCount))

/** The listen options `spread` needs of the server itself, for `count` sockets: the port shared (when more than one). */
export const listenOptions = (count: number): { readonly reusePort: boolean } => ({ reusePort: count > 1 })

/** The extra listening sockets of a server `spread` was applied to (for tests and figures). */
const extras = new WeakMap<Net.Server, ReadonlyArray<Net.Server>>()

/** The listening sockets added to `server`, listening or not (none before it listens), for tests and figures. */
export const addedTo = (server: Net.Server): ReadonlyArray<Net.Server> => extras.get(server) ?? []

/** The listening sockets added to `server` that listen now (0 before it listens, and after it is closed). */
export const listening = (server: Net.Server): number => addedTo(server).filter((extra) => extra.listening).length

/**
 * Run just before a server with `count` sockets listens on `host`:`port`:
 * fails with the address-in-use `ServeError` (as a server on a socket of its
 * own would) when something listens there already, found by listening there
 * without `reusePort` and closing at once. Joining a fixed port with
 * `reusePort` would otherwise share it with a second instance silently. A
 * tiny race is left: an instance that takes the port between this probe's
 * close and the server's own listen is not refused. Nothing to do for one
 * socket (no `reusePort`) or port 0 (a port of its own).
 */
export const claim = (count: number, host: string, port: number): Effect.Effect<void, HttpServerError.ServeError> =>
  count <= 1 || port === 0 ? Effect.void : Effect.callback<void, HttpServerError.ServeError>((resume) => {
    const probe = Net.createServer()
    probe.once("error", (cause) => resume(Effect.fail(new HttpServerError.ServeError({ cause }))))
    probe.listen({ host, port }, () => probe.close(() => resume(Effect.void)))
    // Interrupted: free the port (closing a probe that never listened only emits its close).
    return Effect.sync(() => probe.close())
  })

/**
 * Once `server` listens, opens `count - 1` more listening sockets on its
 * address (with `backlog` each), which hand their connections to it; closes
 * them when `server` is closed, and calls `close`'s callback once the server
 * and every one of them have closed (each has ended the connections it
 * accepted). A connection's idle and timeout handling is the server's (its
 * `connection` listener takes it in), so `closeIdleConnections` and
 * `closeAllConnections` reach them all.
 *
 * An error on one goes to `onError`. An accept error (`EMFILE` under a
 * flood) leaves it listening with its queue, as Node's own server does. One
 * that cannot listen (the server's socket does not share its port) is left
 * out: the server then accepts with the sockets that could.
 */
export const spread = <S extends Net.Server>(
  server: S,
  count: number,
  backlog: number,
  onError: (error: Error) => void
): S => {
  if (count <= 1) return server
  const added: Array<Net.Server> = []
  extras.set(server, added)
  let closed = false
  server.once("listening", () => {
    const address = server.address()
    // A server on a path (a Unix socket) or closed at once: nothing to share.
    if (address === null || typeof address === "string" || closed) return
    for (let i = 1; i < count; i++) {
      const extra = Net.createServer((socket) => server.emit("connection", socket))
      // Node's server emits an accept error and keeps its handle listening: closing would drop this socket
      // for good and reset its queue. Without a listener the error would be thrown.
      extra.on("error", onError)
      // Closed while it was starting to listen: it stops as soon as it listens (nothing accepted yet).
      extra.once("listening", () => {
        if (closed) extra.close()
      })
      extra.listen({ host: address.address, port: address.port, backlog, reusePort: true })
      added.push(extra)
    }
  })
  // Closing the server stops every socket accepting at once; the callback waits for all of them to close.
  const target: Net.Server = server
  const close = target.close
  target.close = function(this: Net.Server, callback?: (error?: Error) => void) {
    closed = true
    // The sockets that listen now; one still starting closes when it listens, having accepted nothing.
    const closing = added.filter((extra) => extra.listening)
    let pending = closing.length + 1
    let failure: Error | undefined
    const closedOne = (error?: Error) => {
      failure ??= error
      if (--pending === 0) callback?.(failure)
    }
    for (const extra of closing) extra.close(() => closedOne())
    return close.call(this, closedOne)
  }
  return server
}
