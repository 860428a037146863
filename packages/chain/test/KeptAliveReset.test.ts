import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import * as HttpConnection from "../src/internal/httpConnection.ts"
import * as BoundedPost from "./BoundedPost.ts"

/**
 * An endpoint on 127.0.0.1 that answers the first request on each socket and resets the socket when a second request
 * arrives on it — what a provider does when it closes a socket idle past its keep-alive timeout just as the client
 * writes on it. `resetAll`: it resets every request instead (a broken endpoint).
 */
const endpoint = (resetAll: boolean) =>
  Effect.acquireRelease(
    Effect.callback<{ readonly url: string; readonly server: Http.Server; readonly sockets: Set<unknown> }>((resume) => {
      const served = new WeakMap<object, number>()
      const sockets = new Set<unknown>()
      const server = Http.createServer({ keepAlive: true }, (request, response) => {
        const count = (served.get(request.socket) ?? 0) + 1
        served.set(request.socket, count)
        sockets.add(request.socket)
        if (resetAll || count > 1) {
          request.socket.resetAndDestroy()
          return
        }
        request.resume()
        request.on("end", () => response.end(JSON.stringify({ jsonrpc: "2.0", id: 1, result: "0x1" })))
      })
      server.listen(0, "127.0.0.1", () =>
        resume(Effect.succeed({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, server, sockets })))
    }),
    ({ server }) => Effect.callback<void>((resume) => {
      server.closeAllConnections()
      server.close(() => resume(Effect.void))
    })
  )

const body = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] })

describe("a kept-alive connection the endpoint resets as a request is written", () => {
  it.live("sends that request once more on a new socket instead of failing it", () =>
    Effect.gen(function*() {
      const { url, sockets } = yield* endpoint(false)
      const connection = yield* HttpConnection.open(url)
      const first = yield* BoundedPost.post(connection, body)
      assert.strictEqual(first.status, 200)
      // written on the kept-alive socket, which the endpoint resets: answered on a new one
      const second = yield* BoundedPost.post(connection, body)
      assert.strictEqual(second.status, 200)
      assert.include(second.body, "0x1")
      assert.strictEqual(sockets.size, 2)
    }).pipe(Effect.scoped))

  it.live("fails a request reset on a new socket: only a kept-alive one is sent again", () =>
    Effect.gen(function*() {
      const { url } = yield* endpoint(true)
      const connection = yield* HttpConnection.open(url)
      const exit = yield* Effect.exit(BoundedPost.post(connection, body))
      assert.isTrue(Exit.isFailure(exit))
    }).pipe(Effect.scoped))
})
