/**
 * TCP ports of 127.0.0.1 for tests of every package (the base package holds them so that each package reaches them
 * without an import cycle): one free a moment ago, and one held for a scope.
 */
import { Effect, type Scope } from "effect"
import { createServer, type Server } from "node:net"

/** Listens on a port of 127.0.0.1 chosen by the system; the server and its port. */
const listening = Effect.promise(() =>
  new Promise<{ readonly server: Server; readonly port: number }>((resolve) => {
    // a connection is dropped at once, so that closing never waits for one
    const server = createServer((socket) => socket.destroy())
    server.listen(0, "127.0.0.1", () => resolve({ server, port: (server.address() as { readonly port: number }).port }))
  })
)

/** Closes `server`, once its connections end. */
const close = (server: Server) => Effect.promise(() => new Promise<void>((resolve) => server.close(() => resolve())))

/** A port of 127.0.0.1 that was free a moment ago (listened on, then closed): nothing listens there now. */
export const freePort: Effect.Effect<number> = Effect.flatMap(listening, ({ port, server }) => Effect.as(close(server), port))

/**
 * A port of 127.0.0.1 held (listened on, each connection dropped) until the scope closes: a service told to bind it
 * fails to.
 */
export const heldPort: Effect.Effect<number, never, Scope.Scope> = Effect.map(
  Effect.acquireRelease(listening, ({ server }) => close(server)),
  ({ port }) => port
)
