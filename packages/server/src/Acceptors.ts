/**
 * More than one new connection accepted per turn of the event loop.
 *
 * Node accepts one pending connection per listening socket each time its
 * event loop polls (libuv's `uv__server_io` takes one, and the socket is
 * reported again at the next poll while its accept queue holds more). A busy
 * turn of 10 ms therefore caps a server at 100 new connections a second,
 * whatever its CPU: under issue 17's mix (hundreds of event streams a second,
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
 * the server is closed.
 *
 * `SO_REUSEPORT` lets another process of the same user join the port and
 * take a share of its connections: the same user can stop the service
 * anyway, and no other user can.
 *
 * @since 0.1.0
 */
import { Config, Schema } from "effect"
import * as Net from "node:net"

/** Listening sockets per server, unless the service is told otherwise: up to this many connections accepted per turn. */
export const defaultCount = 16

/** Listening sockets per server from `CHAINJOBS_ACCEPTORS`: a whole number of at least 1 (1: Node's own single socket). */
export const countConfig: Config.Config<number> = Config.schema(
  Schema.Int.check(Schema.isGreaterThanOrEqualTo(1)),
  "CHAINJOBS_ACCEPTORS"
).pipe(Config.withDefault(defaultCount))

/** The listen options `spread` needs of the server itself, for `count` sockets: the port shared (when more than one). */
export const listenOptions = (count: number): { readonly reusePort: boolean } => ({ reusePort: count > 1 })

/** The extra listening sockets of a server `spread` was applied to (for tests and figures). */
const extras = new WeakMap<Net.Server, ReadonlyArray<Net.Server>>()

/** The listening sockets added to `server` that listen now (0 before it listens, and after it is closed). */
export const listening = (server: Net.Server): number => (extras.get(server) ?? []).filter((extra) => extra.listening).length

/**
 * Once `server` listens, opens `count - 1` more listening sockets on its
 * address (with `backlog` each), which hand their connections to it; closes
 * them when `server` is closed. One that cannot listen (the server's socket
 * does not share its port) is closed and left out: the server then accepts
 * with the sockets that could.
 */
export const spread = <S extends Net.Server>(server: S, count: number, backlog: number): S => {
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
      extra.on("error", () => extra.close())
      // Closed while it was starting to listen: it stops as soon as it listens.
      extra.once("listening", () => {
        if (closed) extra.close()
      })
      extra.listen({ host: address.address, port: address.port, backlog, reusePort: true })
      added.push(extra)
    }
  })
  // Closing the server stops every socket accepting at once; connections already handed over are the server's to end.
  const target: Net.Server = server
  const close = target.close
  target.close = function(this: Net.Server, callback?: (error?: Error) => void) {
    closed = true
    for (const extra of added) if (extra.listening) extra.close()
    return close.call(this, callback)
  }
  return server
}
