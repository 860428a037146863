/**
 * A cap on the connections an HTTP server holds open at once. Each open
 * connection holds a socket, its buffers and whatever streams it carries;
 * with no cap a client opening connection after connection grows the
 * service's memory without bound, whatever it is allowed per connection.
 *
 * `cap` counts every connection the server is handed — by its own listening
 * socket and by the sockets sharing its port (`Acceptors`, which hand theirs
 * over by emitting `connection`, past Node's own `maxConnections` count) —
 * and closes one accepted past the limit at once, before any listener sees
 * it: no byte of it is read, and the connections open are not touched. A
 * connection leaves the count when its socket closes, however it closes.
 *
 * @since 0.1.0
 */
import { Metric } from "effect"
import type * as Net from "node:net"

/** Connections closed as they were accepted because the server held as many open as its limit allows. */
export const refused = Metric.counter("chainjobs_connections_refused_total", {
  description: "Connections closed as they were accepted because the server held as many open as its limit allows",
  incremental: true
})

/**
 * Holds `server` to `limit` open connections (a whole number of at least 1): a connection handed to it while it holds
 * `limit` is destroyed at once and reported to `onRefused`; the others go on to its listeners. Returns the server.
 */
export const cap = <S extends Net.Server>(server: S, limit: number, onRefused: () => void = () => {}): S => {
  let open = 0
  const emit = server.emit as (this: Net.Server, event: string | symbol, ...args: Array<any>) => boolean
  // A declared function, not one inside the type assertion: the mutation tool leaves a function in an `as` untouched.
  function capped(this: Net.Server, event: string | symbol, ...args: Array<any>): boolean {
    if (event !== "connection") return emit.call(this, event, ...args)
    const socket = args[0] as Net.Socket
    if (open >= limit) {
      socket.destroy()
      onRefused()
      return true
    }
    open++
    socket.once("close", () => open--)
    return emit.call(this, event, ...args)
  }
  server.emit = capped as S["emit"]
  return server
}
