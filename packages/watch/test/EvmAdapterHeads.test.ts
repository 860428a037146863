/**
 * `EvmAdapter.newHeads` against a scripted WebSocket endpoint (fault
 * injection: a real socket on 127.0.0.1, a server that answers the
 * subscription as the test says): heads come from subscription notifications
 * only, other messages are ignored, the subscription's refusal, an answer
 * that is not JSON, a close by the server and a refused connection each fail
 * the stream with a ChainFailed saying which, and the stream closes its socket
 * when it ends; an error answering another request than the subscription does
 * not end it. `EvmAdapterEdges.test.ts` subscribes on the real Hardhat node.
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Stream } from "effect"
import { createHash } from "node:crypto"
import { createServer, type IncomingMessage } from "node:http"
import type { AddressInfo, Socket } from "node:net"
import * as EvmAdapter from "../src/EvmAdapter.ts"
import { reasonOf } from "./fixtures.ts"

/** A server-to-client frame (unmasked, final): `opcode` 1 is text, 8 is close. */
const frame = (opcode: number, payload: Buffer) => {
  const length = payload.length
  const header = length < 126
    ? Buffer.from([0x80 | opcode, length])
    : Buffer.from([0x80 | opcode, 126, length >> 8, length & 0xff])
  return Buffer.concat([header, payload])
}

/** The first whole client frame in `data` (clients mask theirs): its opcode, payload and size; `undefined` while incomplete. */
const clientFrame = (data: Buffer): { readonly opcode: number; readonly payload: Buffer; readonly size: number } | undefined => {
  if (data.length < 2) return undefined
  let length = data[1]! & 0x7f
  let offset = 2
  if (length === 126) {
    if (data.length < 4) return undefined
    length = data.readUInt16BE(2)
    offset = 4
  }
  if (data.length < offset + 4 + length) return undefined
  const mask = data.subarray(offset, offset + 4)
  const payload = Buffer.from(data.subarray(offset + 4, offset + 4 + length).map((byte, index) => byte ^ mask[index % 4]!))
  return { opcode: data[0]! & 0x0f, payload, size: offset + 4 + length }
}

/** What the scripted endpoint saw: the client's first message, and whether the client closed the connection (its close frame). */
interface Seen {
  readonly request: Deferred.Deferred<unknown>
  readonly closed: Deferred.Deferred<void>
}

/**
 * A WebSocket endpoint on 127.0.0.1 that accepts connections, waits for the client's first message, then
 * writes `script`'s frames, and answers a close frame by closing; closed with the scope.
 */
const scriptedEndpoint = (script: ReadonlyArray<Buffer>) =>
  Effect.gen(function*() {
    const seen: Seen = { request: yield* Deferred.make<unknown>(), closed: yield* Deferred.make<void>() }
    const sockets = new Set<Socket>()
    const server = createServer()
    server.on("upgrade", (request: IncomingMessage, socket: Socket) => {
      sockets.add(socket)
      const accept = createHash("sha1").update(`${request.headers["sec-websocket-key"]}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest("base64")
      socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`)
      let received = Buffer.alloc(0)
      socket.on("data", (data: Buffer) => {
        received = Buffer.concat([received, data])
        for (let next = clientFrame(received); next !== undefined; next = clientFrame(received)) {
          received = received.subarray(next.size)
          if (next.opcode === 8) {
            // the client closes: answer its close frame and end the connection, as a server does
            Deferred.doneUnsafe(seen.closed, Effect.void)
            socket.end(frame(8, next.payload))
          } else if (Deferred.doneUnsafe(seen.request, Effect.succeed(JSON.parse(next.payload.toString("utf8"))))) {
            for (const each of script) socket.write(each)
          }
        }
      })
      socket.on("error", () => {})
    })
    yield* Effect.acquireRelease(
      Effect.callback<void>((resume) => {
        server.listen(0, "127.0.0.1", () => resume(Effect.void))
      }),
      () =>
        Effect.callback<void>((resume) => {
          for (const socket of sockets) socket.destroy()
          server.close(() => resume(Effect.void))
        })
    )
    return { url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}/`, seen }
  })

const text = (message: unknown) => frame(1, Buffer.from(typeof message === "string" ? message : JSON.stringify(message)))
const notification = (number: string | undefined) =>
  text({ jsonrpc: "2.0", method: "eth_subscription", params: { subscription: "0xabc", result: number === undefined ? {} : { number } } })

/** The stream's failure (reason and message), bounded: a stream that neither fails nor ends in 10 s is a test failure. */
const failureOf = (url: string) =>
  Stream.runDrain(EvmAdapter.newHeads("dev", url)).pipe(
    Effect.timeoutOrElse({ duration: "10 seconds", orElse: () => Effect.die(new Error(`newHeads on ${url} neither failed nor ended in 10 s`)) }),
    Effect.exit,
    Effect.map(reasonOf)
  )

describe("EvmAdapter.newHeads", () => {
  it.live("heads come from subscription notifications only; the stream closes its socket when it ends", () =>
    Effect.gen(function*() {
      const { seen, url } = yield* scriptedEndpoint([
        text({ jsonrpc: "2.0", id: 1, result: "0xabc" }),
        // not heads: another method carrying a block-like result, a notification without params, without a result or
        // without a number
        text({ jsonrpc: "2.0", method: "eth_other", params: { subscription: "0xabc", result: { number: "0x63" } } }),
        text({ jsonrpc: "2.0", method: "eth_subscription" }),
        text({ jsonrpc: "2.0", method: "eth_subscription", params: { subscription: "0xabc" } }),
        notification(undefined),
        notification("0x10"),
        notification("0x11")
      ])
      const heads = yield* EvmAdapter.newHeads("dev", url).pipe(
        Stream.take(2),
        Stream.runCollect,
        Effect.timeoutOrElse({ duration: "10 seconds", orElse: () => Effect.die(new Error("no two heads in 10 s")) })
      )
      assert.deepStrictEqual(heads, [16, 17])
      assert.deepStrictEqual(yield* Deferred.await(seen.request), {
        jsonrpc: "2.0",
        id: 1,
        method: "eth_subscribe",
        params: ["newHeads"]
      })
      yield* Deferred.await(seen.closed).pipe(
        Effect.timeoutOrElse({ duration: "10 seconds", orElse: () => Effect.die(new Error("the client kept its socket open 10 s after the stream ended")) })
      )
    }).pipe(Effect.scoped), 30_000)

  it.live("a refused subscription fails the stream with the node's message", () =>
    Effect.gen(function*() {
      const { url } = yield* scriptedEndpoint([
        text({ jsonrpc: "2.0", id: 1, error: { code: -32601, message: "subscriptions are not served here" } })
      ])
      assert.deepStrictEqual(yield* failureOf(url), ["ChainFailed", `chain dev: ${url}: eth_subscribe: subscriptions are not served here`])
    }).pipe(Effect.scoped), 30_000)

  it.live("an answer that is not JSON fails the stream", () =>
    Effect.gen(function*() {
      const { url } = yield* scriptedEndpoint([text("<html>bad gateway</html>")])
      assert.deepStrictEqual(yield* failureOf(url), ["ChainFailed", `chain dev: ${url}: an answer that is not JSON`])
    }).pipe(Effect.scoped), 30_000)

  it.live("a close by the server fails the stream", () =>
    Effect.gen(function*() {
      const { url } = yield* scriptedEndpoint([text({ jsonrpc: "2.0", id: 1, result: "0xabc" }), frame(8, Buffer.from([0x03, 0xe8]))])
      assert.deepStrictEqual(yield* failureOf(url), ["ChainFailed", `chain dev: ${url}: the WebSocket closed`])
    }).pipe(Effect.scoped), 30_000)

  it.live("a connection refused fails the stream as a failed WebSocket", () =>
    Effect.gen(function*() {
      // a port just freed: nothing listens there
      const { url } = yield* Effect.scoped(scriptedEndpoint([]))
      assert.deepStrictEqual(yield* failureOf(url), ["ChainFailed", `chain dev: ${url}: the WebSocket failed`])
    }), 30_000)
})

describe("EvmAdapter.newHeads, answers to other requests", () => {
  it.live("an error answering another request than the subscription (here id 2) does not end the stream", () =>
    Effect.gen(function*() {
      const { url } = yield* scriptedEndpoint([
        text({ jsonrpc: "2.0", id: 1, result: "0xabc" }),
        text({ jsonrpc: "2.0", id: 2, error: { code: -32600, message: "not this one" } }),
        notification("0x12")
      ])
      const heads = yield* EvmAdapter.newHeads("dev", url).pipe(
        Stream.take(1),
        Stream.runCollect,
        Effect.timeoutOrElse({ duration: "10 seconds", orElse: () => Effect.die(new Error("no head in 10 s")) })
      )
      assert.deepStrictEqual(heads, [18])
    }).pipe(Effect.scoped), 30_000)
})
