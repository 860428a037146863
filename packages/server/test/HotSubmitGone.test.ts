/**
 * The lean submit path's body read (`HotSubmit.readBody`) on a real socket,
 * begun after the request arrived (as it is once principals answered through
 * an effect): a client that left mid-body before the read began is read as
 * gone at once — Node's destroyed request emits nothing more, so a read
 * waiting for its events would never end, keeping the request, its response
 * and the fiber — and a client still there has its body read, however late.
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Option } from "effect"
import { createServer, type IncomingMessage } from "node:http"
import type { AddressInfo } from "node:net"
import { connect } from "node:net"
import * as HotSubmit from "../src/HotSubmit.ts"

/**
 * A server handing over each request unread, and telling when it has closed (once every listener of its close has
 * run); a client writing `head` and `body` raw; closed with the scope.
 */
const arriving = (body: string, length: number) =>
  Effect.gen(function*() {
    const arrived = yield* Deferred.make<IncomingMessage>()
    const closed = yield* Deferred.make<void>()
    const server = createServer((request) => {
      request.once("close", () => setImmediate(() => Deferred.doneUnsafe(closed, Exit.void)))
      Deferred.doneUnsafe(arrived, Exit.succeed(request))
    })
    yield* Effect.acquireRelease(
      Effect.callback<void>((resume) => void server.listen(0, "127.0.0.1", () => resume(Effect.void))),
      () =>
        Effect.callback<void>((resume) => {
          server.closeAllConnections()
          server.close(() => resume(Effect.void))
        })
    )
    const socket = connect((server.address() as AddressInfo).port, "127.0.0.1")
    yield* Effect.addFinalizer(() => Effect.sync(() => socket.destroy()))
    socket.write(
      `POST /api/tasks/demo-scan?access_token=t HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n` +
        `content-length: ${length}\r\n\r\n${body}`
    )
    return { request: yield* Deferred.await(arrived), closed, socket }
  })

describe("HotSubmit.readBody", () => {
  it.live("a client gone mid-body before the read began is read as gone, not waited for", () =>
    Effect.gen(function*() {
      const { closed, request, socket } = yield* arriving(`{"fromBlock":`, 100)
      socket.destroy()
      yield* Deferred.await(closed)
      // bounded (a loaded machine): without the answer it would wait for ever
      const body = yield* Effect.timeoutOption(HotSubmit.readBody(request, 1_000), "15 seconds")
      assert.deepStrictEqual(body, Option.some("gone" as const), "the read of a gone client's body never ended")
    }).pipe(Effect.scoped), 30_000)

  it.live("a client still there has its whole body read, the read begun after it arrived", () =>
    Effect.gen(function*() {
      const text = `{"fromBlock":1,"toBlock":2}`
      const { request, socket } = yield* arriving(text.slice(0, 5), Buffer.byteLength(text))
      const reading = yield* Effect.forkChild(HotSubmit.readBody(request, 1_000))
      socket.write(text.slice(5))
      const body = yield* Effect.timeoutOption(Fiber.join(reading), "15 seconds")
      assert.deepStrictEqual(body, Option.some({ text }))
    }).pipe(Effect.scoped), 30_000)
})
