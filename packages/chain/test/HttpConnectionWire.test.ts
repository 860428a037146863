/**
 * One keep-alive connection (`internal/httpConnection.ts`) as the endpoint
 * sees it: what a POST carries (the method, the content headers, the
 * connection's own headers), that its requests share one socket, that an
 * https URL is spoken to over TLS, that interrupting a POST aborts it, and
 * that closing the connection's scope closes its socket. Each is a plain
 * server on 127.0.0.1 in the test process; nothing here waits on a clock.
 */
import * as Http from "node:http"
import * as Https from "node:https"
import * as Net from "node:net"
import type { AddressInfo } from "node:net"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Deferred, Effect, Exit, Fiber } from "effect"
import * as HttpConnection from "../src/internal/httpConnection.ts"
import * as BoundedPost from "./BoundedPost.ts"

/** What the endpoint received of one request. */
interface Received {
  readonly method: string | undefined
  readonly headers: Http.IncomingHttpHeaders
  readonly body: string
  readonly socket: Net.Socket
}

/**
 * An HTTP endpoint noting each request; it answers each at once, or never (`stall`). Its keep-alive timeout is off,
 * so a socket it answered on stays open however slowly the test goes on.
 */
const endpoint = (stall: boolean) =>
  Effect.acquireRelease(
    Effect.callback<{ readonly url: string; readonly server: Http.Server; readonly received: Array<Received>; readonly arrived: Deferred.Deferred<void> }>((resume) => {
      const received: Array<Received> = []
      const arrived = Deferred.makeUnsafe<void>()
      const server = Http.createServer((request, response) => {
        const chunks: Array<Buffer> = []
        request.on("data", (chunk: Buffer) => chunks.push(chunk))
        request.on("end", () => {
          received.push({ method: request.method, headers: request.headers, body: Buffer.concat(chunks).toString("utf8"), socket: request.socket })
          Deferred.doneUnsafe(arrived, Effect.void)
          if (!stall) response.end(JSON.stringify({ jsonrpc: "2.0", id: 1, result: "0x1" }))
        })
      })
      server.keepAliveTimeout = 0
      server.listen(0, "127.0.0.1", () =>
        resume(Effect.succeed({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, server, received, arrived })))
    }),
    ({ server }) => Effect.callback<void>((resume) => {
      server.closeAllConnections()
      server.close(() => resume(Effect.void))
    })
  )

/** The sockets of a connection's agent, lent out and free. */
const socketsOf = (connection: HttpConnection.HttpConnection): Array<Net.Socket> =>
  [...Object.values(connection.agent.sockets), ...Object.values(connection.agent.freeSockets)].flatMap((list) => list ?? []) as Array<Net.Socket>

// not ASCII: its length in bytes is not its length in characters
const body = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_call", params: ["ünïcode"] })

describe("a keep-alive connection as its endpoint sees it", () => {
  it.live("a POST carries the body as JSON, its length in bytes and the connection's headers; the next one goes on the same socket", () =>
    Effect.gen(function*() {
      const { received, url } = yield* endpoint(false)
      const connection = yield* HttpConnection.open(url, { "x-api-key": "secret" })
      const first = yield* BoundedPost.post(connection, body)
      const second = yield* BoundedPost.post(connection, body)
      assert.deepStrictEqual([first.status, second.status], [200, 200])
      assert.strictEqual(received.length, 2)
      for (const request of received) {
        assert.strictEqual(request.method, "POST")
        assert.strictEqual(request.headers["content-type"], "application/json")
        assert.strictEqual(request.headers["content-length"], String(Buffer.byteLength(body)))
        assert.strictEqual(request.headers["x-api-key"], "secret")
        assert.strictEqual(request.body, body)
      }
      // kept alive: the second request was written on the first one's socket
      assert.strictEqual(received[1]!.socket, received[0]!.socket)
    }).pipe(Effect.scoped))

  it.live("an https URL is spoken to over TLS, and a handshake the endpoint breaks off is a failure, not a defect", () =>
    Effect.gen(function*() {
      // a TCP server that notes the first byte a connection sends, then closes it
      const firstBytes: Array<number> = []
      const server = yield* Effect.acquireRelease(
        Effect.callback<Net.Server>((resume) => {
          const server = Net.createServer((socket) => {
            socket.once("data", (chunk: Buffer) => {
              firstBytes.push(chunk[0]!)
              socket.destroy()
            })
          })
          server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
        }),
        (server) => Effect.callback<void>((resume) => {
          server.close(() => resume(Effect.void))
        })
      )
      const connection = yield* HttpConnection.open(`https://127.0.0.1:${(server.address() as AddressInfo).port}/`)
      assert.instanceOf(connection.agent, Https.Agent)
      const exit = yield* Effect.exit(HttpConnection.post(connection, body))
      assert.isTrue(Exit.isFailure(exit))
      if (Exit.isFailure(exit)) {
        assert.isTrue(Cause.hasFails(exit.cause), "the transport's error as the failure")
        assert.isFalse(Cause.hasDies(exit.cause), "no defect")
      }
      // 0x16: a TLS handshake record, the client hello
      assert.deepStrictEqual(firstBytes, [0x16])
    }).pipe(Effect.scoped))

  it.live("interrupting a POST aborts its request: its socket is destroyed", () =>
    Effect.gen(function*() {
      const { arrived, url } = yield* endpoint(true)
      const connection = yield* HttpConnection.open(url)
      const posting = yield* Effect.forkChild(HttpConnection.post(connection, body))
      yield* Deferred.await(arrived)
      const sockets = socketsOf(connection)
      assert.strictEqual(sockets.length, 1)
      yield* Fiber.interrupt(posting)
      assert.isTrue(sockets[0]!.destroyed)
    }).pipe(Effect.scoped))

  it.live("closing the connection's scope closes its kept-alive socket", () =>
    Effect.gen(function*() {
      const { url } = yield* endpoint(false)
      const socket = yield* Effect.scoped(Effect.gen(function*() {
        const connection = yield* HttpConnection.open(url)
        const freed = yield* Deferred.make<Net.Socket>()
        connection.agent.once("free", (socket: Net.Socket) => Deferred.doneUnsafe(freed, Effect.succeed(socket)))
        yield* BoundedPost.post(connection, body)
        // the socket goes back to the agent once the answer is read: kept alive, open
        const socket = yield* Deferred.await(freed)
        assert.isFalse(socket.destroyed)
        return socket
      }))
      assert.isTrue(socket.destroyed)
    }).pipe(Effect.scoped))
})
