/**
 * A kept-alive socket reset after the endpoint began its answer
 * (`internal/httpConnection.ts`): only a request reset before any answer is
 * sent once more (`KeptAliveReset.test`); once an answer began, the endpoint
 * read the request and may have acted on it (a `eth_sendRawTransaction`), so
 * the reset is the endpoint's failure and the request is not sent again. The
 * same when the endpoint closes the socket there (a FIN, not a reset): Node
 * then fails only the answer ("aborted"), not the request, so the POST fails
 * through the answer's own error — it neither waits forever nor is sent again.
 */
import * as Http from "node:http"
import type * as Net from "node:net"
import type { AddressInfo } from "node:net"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import * as HttpConnection from "../src/internal/httpConnection.ts"
import * as BoundedPost from "./BoundedPost.ts"

/**
 * An endpoint that answers the first request on each socket whole; to the next one on it, it sends the head and part
 * of the body, then breaks the socket off when the test says so (`breakNow`): a reset, or a close (`end`).
 */
const endpoint = (breakOff: "reset" | "close") => Effect.acquireRelease(
  Effect.callback<{ readonly url: string; readonly server: Http.Server; readonly requests: () => number; readonly breakNow: () => void }>((resume) => {
    const served = new WeakMap<object, number>()
    let requests = 0
    let begun: Net.Socket | undefined
    const server = Http.createServer((request, response) => {
      requests++
      const count = (served.get(request.socket) ?? 0) + 1
      served.set(request.socket, count)
      request.resume()
      request.on("end", () => {
        if (count === 1) {
          response.end(JSON.stringify({ jsonrpc: "2.0", id: 1, result: "0x1" }))
          return
        }
        response.writeHead(200, { "content-type": "application/json", "content-length": "100" })
        response.write("{\"jsonrpc\":")
        begun = request.socket
      })
    })
    server.keepAliveTimeout = 0
    server.listen(0, "127.0.0.1", () =>
      resume(Effect.succeed({
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
        server,
        requests: () => requests,
        breakNow: () => breakOff === "reset" ? begun?.resetAndDestroy() : begun?.end()
      })))
  }),
  ({ server }) => Effect.callback<void>((resume) => {
    server.closeAllConnections()
    server.close(() => resume(Effect.void))
  })
)

const body = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_sendRawTransaction", params: ["0x01"] })

/** The connection's one socket (maxSockets 1), lent out or free. */
const socketOf = (connection: HttpConnection.HttpConnection): Net.Socket | undefined =>
  [...Object.values(connection.agent.sockets), ...Object.values(connection.agent.freeSockets)].flatMap((list) => list ?? [])[0] as
    | Net.Socket
    | undefined

/** Sends a request on the kept-alive socket, breaks the socket off once the client read the answer's start, and gives the request's exit and how many requests the endpoint got. */
const brokenOff = (breakOff: "reset" | "close") =>
  Effect.gen(function*() {
    const { breakNow, requests, url } = yield* endpoint(breakOff)
    const connection = yield* HttpConnection.open(url)
    yield* BoundedPost.post(connection, body)
    const socket = socketOf(connection)!
    const readBefore = socket.bytesRead
    const posting = yield* Effect.forkChild(Effect.exit(BoundedPost.post(connection, body)))
    // until the client has read the start of the second answer (its head parsed as it is read)
    for (let tries = 0; socket.bytesRead === readBefore; tries++) {
      if (tries > 5000) return yield* Effect.die(new Error("the client read nothing of the second answer"))
      yield* Effect.sleep("1 millis")
    }
    breakNow()
    return { exit: yield* Fiber.join(posting), requests: requests() }
  })

describe("a kept-alive socket reset after the answer began", () => {
  it.live("fails the request: it is not sent again", () =>
    Effect.gen(function*() {
      const { exit, requests } = yield* brokenOff("reset")
      assert.isTrue(BoundedPost.failedOnItsOwn(exit), `the request failed with its own error, not: ${exit}`)
      assert.strictEqual(requests, 2)
    }).pipe(Effect.scoped))

  it.live("closed there (a FIN), fails the request through the answer's error, once", () =>
    Effect.gen(function*() {
      const { exit, requests } = yield* brokenOff("close")
      assert.isTrue(BoundedPost.failedOnItsOwn(exit), `the request failed with its own error, not: ${exit}`)
      assert.strictEqual(requests, 2)
    }).pipe(Effect.scoped))
})
