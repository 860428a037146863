/**
 * A request line that comes over WebSocket or HTTP is parsed once: the door
 * parses it to check it and hands the protocol the message it parsed (before,
 * the protocol parsed the same text again). Seen on a real server in this
 * process, over a real WebSocket and real HTTP requests, by counting the
 * parses of the request's text. A server guarded over another ndjson
 * serialization (effect's own) answers too: the guard gives the server the
 * serialization that reads what it parsed.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { HttpRouter } from "effect/http"
import { RpcSerialization } from "effect/rpc"
import { TaskRpcs, TaskRpcServer } from "@chainjobs/rpc"
import * as Frames from "../src/internal/frames.ts"
import { overHttp, overWebsocket, requestLine, serve, serveRoutes } from "./localServer.ts"

/** `TaskRpcs` guarded at `/ws` (`guardWebsocket`) and `/rpc` (`guardHttp`) over effect's own ndjson serialization, not the package's encoder. */
const plainNdjson = Layer.effectDiscard(Effect.gen(function*() {
  const router = yield* HttpRouter.HttpRouter
  const door = Frames.make(TaskRpcs.TaskRpcs.requests as ReadonlyMap<string, any>, 16)
  yield* router.add("GET", "/ws", yield* TaskRpcServer.guardWebsocket(TaskRpcs.TaskRpcs, door, 1024 * 1024))
  yield* router.add("POST", "/rpc", yield* TaskRpcServer.guardHttp(TaskRpcs.TaskRpcs, door, 1024 * 1024))
}).pipe(Effect.provide(Layer.merge(TaskRpcServer.layerHandlers, RpcSerialization.layerNdjson))))

/** Runs `effect` counting the parses of request lines naming `id`; the result, and the count. */
const countingParses = <A, E, R>(id: string, effect: Effect.Effect<A, E, R>) =>
  Effect.suspend(() => {
    const parse = JSON.parse
    let parses = 0
    const counting: typeof JSON.parse = (text, reviver) => {
      if (typeof text === "string" && text.startsWith(`{"_tag":"Request"`) && text.includes(id)) parses++
      return parse(text, reviver)
    }
    JSON.parse = counting
    return Effect.map(
      Effect.ensuring(effect, Effect.sync(() => {
        JSON.parse = parse
      })),
      (result) => [result, parses] as const
    )
  })

describe("a WebSocket request line", () => {
  it.live("is parsed once on the server, and answered", () =>
    Effect.gen(function*() {
      const port = yield* serve({})
      const id = `parse-once-${Math.random().toString(36).slice(2)}`
      const line = requestLine("Get", { id })
      const [exchange, parses] = yield* countingParses(id, overWebsocket(port, [line], 1))
      assert.strictEqual(exchange.answers[0]._tag, "Exit")
      assert.deepStrictEqual(exchange.answers[0].exit.cause, [{ _tag: "Fail", error: { _tag: "TaskNotFound", id } }])
      assert.strictEqual(parses, 1)
    }).pipe(Effect.scoped))

  // the guard hands the protocol what it parsed, which only the serialization it gives the server reads
  it.live("is answered by a guarded server whatever ndjson serialization is provided", () =>
    Effect.gen(function*() {
      const port = yield* serveRoutes(plainNdjson)
      const exchange = yield* overWebsocket(port, [requestLine("Get", { id: "t-plain" })], 1)
      assert.strictEqual(exchange.answers[0]._tag, "Exit")
      assert.deepStrictEqual(exchange.answers[0].exit.cause, [{ _tag: "Fail", error: { _tag: "TaskNotFound", id: "t-plain" } }])
    }).pipe(Effect.scoped))
})

describe("an HTTP request body", () => {
  it.live("has each line parsed once on the server, and answered", () =>
    Effect.gen(function*() {
      const port = yield* serve({})
      const id = `parse-once-${Math.random().toString(36).slice(2)}`
      const body = requestLine("Get", { id }, "1") + requestLine("Get", { id: `${id}-b` }, "2")
      const [answer, parses] = yield* countingParses(id, overHttp(port, body))
      assert.strictEqual(answer.status, 200)
      assert.deepStrictEqual(answer.body.map((line: any) => line.exit.cause[0].error), [
        { _tag: "TaskNotFound", id },
        { _tag: "TaskNotFound", id: `${id}-b` }
      ])
      assert.strictEqual(parses, 2)
    }).pipe(Effect.scoped))

  it.live("is answered by a guarded server whatever ndjson serialization is provided", () =>
    Effect.gen(function*() {
      const port = yield* serveRoutes(plainNdjson)
      const answer = yield* overHttp(port, requestLine("Get", { id: "t-plain" }))
      assert.strictEqual(answer.status, 200)
      assert.deepStrictEqual(answer.body[0].exit.cause, [{ _tag: "Fail", error: { _tag: "TaskNotFound", id: "t-plain" } }])
    }).pipe(Effect.scoped))
})
