/**
 * Requests that reach the service before it serves. The HTTP server listens
 * as soon as its layer is built, but the request handler is attached only
 * once every route is ready (`HttpRouter.serve`); Node leaves a request that
 * arrives in between with no listener, unanswered for ever. `hold` keeps such
 * requests and hands them to the handler the moment it is attached, so a
 * client that connects during a start or restart is served, never left
 * hanging. Should the server close first (a start that failed, a shutdown),
 * the held requests are answered `503` with `Retry-After`. A WebSocket
 * upgrade that arrives before the handler finds no listener and is refused
 * (its connection closed), which a client retries.
 *
 * @since 0.1.0
 */
import type * as Http from "node:http"

/** The most requests held at once; more arriving before the handler are answered 503. */
export const maxHeld = 1024

/** The answer to a request the service could not take while starting or stopping. */
const unavailable = (response: Http.ServerResponse) => {
  if (response.headersSent || response.writableEnded) return
  response.writeHead(503, { "content-type": "application/json", "retry-after": "1", connection: "close" })
  response.end(JSON.stringify({ _tag: "ServiceUnavailable", reason: "starting" }))
}

/** The requests held right now. */
export interface Held {
  readonly size: () => number
}

/** Holds the requests `server` receives before another `request` listener is attached, then hands them over. */
export const hold = (server: Http.Server): Held => {
  const held: Array<readonly [Http.IncomingMessage, Http.ServerResponse]> = []
  const early = (request: Http.IncomingMessage, response: Http.ServerResponse) => {
    if (server.listenerCount("request") > 1) return
    if (held.length >= maxHeld) return unavailable(response)
    held.push([request, response])
  }
  server.on("request", early)
  server.on("newListener", (event) => {
    if (event !== "request") return
    // Emitted before the listener is added: hand the held requests over once it is.
    setImmediate(() => {
      const listeners = server.listeners("request").filter((listener) => listener !== early)
      if (listeners.length === 0) return
      for (const [request, response] of held.splice(0)) {
        for (const listener of listeners) listener.call(server, request, response)
      }
    })
  })
  // `close` waits for open connections, held ones included: answer them first.
  const close = server.close.bind(server)
  server.close = (callback?: (error?: Error) => void) => {
    for (const [, response] of held.splice(0)) unavailable(response)
    return close(callback)
  }
  return { size: () => held.length }
}
