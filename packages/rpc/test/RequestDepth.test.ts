/**
 * The payload depth limit at its edge, over both transports of a real
 * server: a payload nested exactly `maxDepth` levels passes the door (its
 * RPC answers it), one level more is refused with `PayloadTooDeep` naming
 * `maxDepth + 1` and the limit — over HTTP a 400 with the typed error, over
 * WebSocket a close with 1008 and the error in the reason. For a submission
 * the limit holds for the task payload it carries, as over REST.
 */
import { createServer } from "node:http"
import { NodeHttpServer } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Layer, Schema } from "effect"
import { HttpRouter, HttpServer } from "effect/http"
import { TaskRpcServer } from "@chainjobs/rpc"
import { kinds, serverDependencies } from "./fixtures.ts"

/** A server on a free port of 127.0.0.1 serving `/rpc` and `/ws`, refusing payloads deeper than `maxDepth`; its port. */
const serve = (maxDepth: number) =>
  Effect.gen(function*() {
    const context = yield* Layer.build(
      HttpRouter.serve(
        Layer.mergeAll(TaskRpcServer.layerHttp({ path: "/rpc" }), TaskRpcServer.layerWebsocket({ path: "/ws" })).pipe(
          Layer.provide(serverDependencies(kinds(() => Effect.void), { payloadLimit: { maxBytes: 1_000_000, maxDepth } }))
        ),
        { disableLogger: true, disableListenLog: true }
      ).pipe(Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" })))
    )
    const address = Context.get(context, HttpServer.HttpServer).address
    if (address._tag === "UnixPathAddress") return assert.fail("the server listens on a path, not a port")
    return address.port
  })

/** A value nested exactly `levels` deep: each level an array or an object (as `shape` says, cyclically), with a shallow sibling, around `leaf`. */
const nested = (levels: number, shape: ReadonlyArray<boolean>, leaf: string): unknown => {
  let value: unknown = leaf
  for (let i = 0; i < levels; i++) {
    value = shape.length > 0 && shape[i % shape.length] ? { v: value, s: leaf } : [leaf, value]
  }
  return value
}

/** One request line: `tag` with `payload`, alice's token in its headers. */
const requestLine = (tag: string, payload: unknown) =>
  `${JSON.stringify({ _tag: "Request", id: "1", tag, payload, headers: [["authorization", "Bearer alice-token"]] })}\n`

/** What the server answered one line over HTTP: the status and the parsed body lines. */
const overHttp = (port: number, line: string) =>
  Effect.promise(async () => {
    const response = await fetch(`http://127.0.0.1:${port}/rpc`, {
      method: "POST",
      headers: { "content-type": "application/ndjson" },
      body: line
    })
    const text = await response.text()
    return { status: response.status, body: text.trim().split("\n").map((l) => JSON.parse(l)) }
  })

/** What the server answered one line over WebSocket: its first answer line, or how it closed the socket. */
const overWebsocket = (port: number, line: string) =>
  Effect.promise(() =>
    new Promise<{ readonly answer?: any; readonly code?: number; readonly reason?: string }>((resolve) => {
      const socket = new WebSocket(`ws://127.0.0.1:${port}/ws`)
      socket.onopen = () => socket.send(line)
      socket.onmessage = (event) => {
        socket.onclose = null
        socket.close()
        resolve({ answer: JSON.parse(String(event.data).split("\n")[0]) })
      }
      socket.onclose = (event) => resolve({ code: event.code, reason: event.reason })
    })
  )

/** The error of an `Exit` answer line. */
const exitError = (answer: any) => {
  assert.strictEqual(answer?._tag, "Exit", JSON.stringify(answer))
  assert.strictEqual(answer.exit._tag, "Failure", JSON.stringify(answer))
  return answer.exit.cause[0].error
}

const Depth = Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 10 }))

describe("the payload depth limit over the transports", () => {
  it.live.prop(
    "a payload of exactly maxDepth levels passes the door; one level more is refused naming maxDepth + 1",
    { maxDepth: Depth, shape: Schema.Array(Schema.Boolean), leaf: Schema.String },
    ({ leaf, maxDepth, shape }) =>
      Effect.gen(function*() {
        const port = yield* serve(maxDepth)
        const tooDeep = { _tag: "PayloadTooDeep", depth: maxDepth + 1, limit: maxDepth }
        const closeReason = `TaskAccessError: the payload nests ${maxDepth + 1} levels deep; at most ${maxDepth} are accepted`
        // An RPC's own payload (`Get` takes `{ id }`: a nested one passes the door and fails its Schema).
        const atLimit = requestLine("Get", nested(maxDepth, shape, leaf))
        const http = yield* overHttp(port, atLimit)
        assert.strictEqual(http.status, 200)
        assert.strictEqual(exitError(http.body.find((m) => m._tag === "Exit"))._tag, "MalformedRequest")
        assert.strictEqual(exitError((yield* overWebsocket(port, atLimit)).answer)._tag, "MalformedRequest")
        const overLimit = requestLine("Get", nested(maxDepth + 1, shape, leaf))
        const refused = yield* overHttp(port, overLimit)
        assert.strictEqual(refused.status, 400)
        assert.deepStrictEqual(refused.body[0].reason, tooDeep)
        assert.deepStrictEqual(yield* overWebsocket(port, overLimit), { code: 1008, reason: closeReason })
        // A submission's task payload (`add` takes `{ a, b }`: a nested one is an invalid payload of the kind).
        for (const tag of ["Submit", "Run"]) {
          const submitted = requestLine(tag, { kind: "add", payload: nested(maxDepth, shape, leaf) })
          assert.strictEqual(exitError((yield* overHttp(port, submitted)).body.find((m) => m._tag === "Exit"))._tag, "InvalidPayload")
          assert.strictEqual(exitError((yield* overWebsocket(port, submitted)).answer)._tag, "InvalidPayload")
          const deeper = requestLine(tag, { kind: "add", payload: nested(maxDepth + 1, shape, leaf) })
          const refusedSubmission = yield* overHttp(port, deeper)
          assert.strictEqual(refusedSubmission.status, 400)
          assert.deepStrictEqual(refusedSubmission.body[0].reason, tooDeep)
          assert.deepStrictEqual(yield* overWebsocket(port, deeper), { code: 1008, reason: closeReason })
        }
      }).pipe(Effect.scoped),
    { timeout: 60_000, arbitrary: { runs: 12 } }
  )
})
