/**
 * A request line that comes over WebSocket is parsed once: the door parses it
 * to check it and hands the protocol the message it parsed (before, the
 * protocol parsed the same text again). Seen on a real server in this
 * process, over a real WebSocket, by counting the parses of the request's
 * text. A server guarded over another ndjson serialization (effect's own)
 * answers too: the guard gives the server the serialization that reads what
 * it parsed.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { HttpRouter } from "effect/http"
import { RpcSerialization } from "effect/rpc"
import { TaskRpcs, TaskRpcServer } from "@chainjobs/rpc"
import * as Frames from "../src/internal/frames.ts"
import { overWebsocket, requestLine, serve, serveRoutes } from "./localServer.ts"

/** `TaskRpcs` guarded at `/ws` (`guardWebsocket`) over effect's own ndjson serialization, not the package's encoder. */
const plainNdjson = Layer.effectDiscard(Effect.gen(function*() {
  const router = yield* HttpRouter.HttpRouter
  const door = Frames.make(TaskRpcs.TaskRpcs.requests as ReadonlyMap<string, any>, 16)
  yield* router.add("GET", "/ws", yield* TaskRpcServer.guardWebsocket(TaskRpcs.TaskRpcs, door, 1024 * 1024))
}).pipe(Effect.provide(Layer.merge(TaskRpcServer.layerHandlers, RpcSerialization.layerNdjson))))

describe("a WebSocket request line", () => {
  it.live("is parsed once on the server, and answered", () =>
    Effect.gen(function*() {
      const port = yield* serve({})
      const id = `parse-once-${Math.random().toString(36).slice(2)}`
      const line = requestLine("Get", { id })
      const parse = JSON.parse
      let parses = 0
      const counting: typeof JSON.parse = (text, reviver) => {
        if (typeof text === "string" && text.startsWith(`{"_tag":"Request"`) && text.includes(id)) parses++
        return parse(text, reviver)
      }
      JSON.parse = counting
      const exchange = yield* Effect.ensuring(overWebsocket(port, [line], 1), Effect.sync(() => {
        JSON.parse = parse
      }))
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
