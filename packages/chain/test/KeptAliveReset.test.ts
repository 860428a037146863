import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import * as HttpConnection from "../src/internal/httpConnection.ts"
import * as BoundedPost from "./BoundedPost.ts"

/**
 * An endpoint on 127.0.0.1 that answers the first request on each socket and, by `broken`, when a second request
 * arrives on it: `"reset"` resets the socket — what a provider does when it closes a socket idle past its keep-alive
 * timeout just as the client writes on it —, `"garbage"` answers bytes that are no HTTP (a broken proxy: the client
 * fails on a parse error, not a reset); `"resetAll"` resets every request instead (a broken endpoint).
 */
const endpoint = (broken: "reset" | "garbage" | "resetAll") =>
  Effect.acquireRelease(
    Effect.callback<{ readonly url: string; readonly server: Http.Server; readonly sockets: Set<unknown> }>((resume) => {
      const served = new WeakMap<object, number>()
      const sockets = new Set<unknown>()
      const server = Http.createServer({ keepAlive: true }, (request, response) => {
        const count = (served.get(request.socket) ?? 0) + 1
        served.set(request.socket, count)
        sockets.add(request.socket)
        if (broken === "resetAll" || count > 1) {
          if (broken === "garbage") request.socket.end("no HTTP at all\r\n\r\n")
          else request.socket.resetAndDestroy()
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
      const { url, sockets } = yield* endpoint("reset")
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
      const { url } = yield* endpoint("resetAll")
      const connection = yield* HttpConnection.open(url)
      const exit = yield* Effect.exit(BoundedPost.post(connection, body))
      assert.isTrue(BoundedPost.failedOnItsOwn(exit), `the request failed with its own error, not: ${exit}`)
    }).pipe(Effect.scoped))

  it.live("sends a reset request again once only: reset again on the kept-alive socket it waited for, it fails", () =>
    Effect.gen(function*() {
      const { url } = yield* endpoint("reset")
      const connection = yield* HttpConnection.open(url)
      // one socket at a time: the first is answered on socket 1; the second is reset there and sent again, behind the
      // third, which a new socket 2 answers; the second's resend then goes on socket 2, which resets it too
      const [first, second, third] = yield* Effect.all(
        [1, 2, 3].map(() => Effect.exit(BoundedPost.post(connection, body))),
        { concurrency: "unbounded" }
      )
      assert.isTrue(Exit.isSuccess(first) && Exit.isSuccess(third), "the first and third requests answered")
      assert.isTrue(BoundedPost.failedOnItsOwn(second), `the second request was sent a third time: ${second}`)
    }).pipe(Effect.scoped))

  it.live("fails a request on a kept-alive socket that ends in another error than a reset: only a reset is sent again", () =>
    Effect.gen(function*() {
      const { url, sockets } = yield* endpoint("garbage")
      const connection = yield* HttpConnection.open(url)
      assert.strictEqual((yield* BoundedPost.post(connection, body)).status, 200)
      // written on the kept-alive socket, which answers it with no HTTP: the parse error is the request's failure
      const exit = yield* Effect.exit(BoundedPost.post(connection, body))
      assert.isTrue(BoundedPost.failedOnItsOwn(exit), `a request answered with no HTTP was sent again: ${exit}`)
      assert.strictEqual(sockets.size, 1)
    }).pipe(Effect.scoped))
})
