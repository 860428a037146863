/**
 * A trace runs across the wire: each call a client makes is a client span,
 * child of the caller's span, and the server's span of that call is its
 * child — same trace id, its parent the client span's id, carried in the
 * request over a real WebSocket to a real server in this process. Spans are
 * recorded as the tracer makes them (the native tracer's spans, kept).
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Layer, Option, Stream, Tracer } from "effect"
import { TaskRpcClient } from "@chainjobs/rpc"
import { Add } from "./fixtures.ts"
import { serve } from "./localServer.ts"

/** A tracer keeping every span it makes (made by the native tracer). */
const recording = () => {
  const spans: Array<Tracer.Span> = []
  const tracer = Tracer.make({
    span(options) {
      const span = Tracer.nativeTracer.span(options)
      spans.push(span)
      return span
    }
  })
  return { spans, tracer }
}

/** The parent span id of `span`, or `undefined` for a root. */
const parentId = (span: Tracer.Span) => Option.getOrUndefined(Option.map(span.parent, (parent) => parent.spanId))

describe("tracing across the wire", () => {
  it.live("each call is a client span under the caller's, and the server's span of it is its child", () =>
    Effect.gen(function*() {
      const { spans, tracer } = recording()
      const result = yield* Effect.gen(function*() {
        const port = yield* serve({})
        const context = yield* Layer.build(TaskRpcClient.layerWebsocket({ url: `ws://127.0.0.1:${port}/ws`, token: "alice-token" }))
        const client = Context.get(context, TaskRpcClient.TaskRpcClient)
        return yield* Effect.withSpan(
          Effect.flatMap(client.submit(Add, { a: 2, b: 3 }), (handle) => handle.join),
          "caller"
        )
      }).pipe(Effect.withTracer(tracer), Effect.scoped)
      assert.strictEqual(result, 5)
      const caller = spans.find((span) => span.name === "caller")!
      assert.isDefined(caller)
      for (const tag of ["Submit", "Await"]) {
        const named = spans.filter((span) => span.name.endsWith(tag))
        const client = named.find((span) => span.kind === "client")
        const server = named.find((span) => span.kind === "server")
        assert.isDefined(client, `no client span of ${tag} among ${spans.map((s) => `${s.name}/${s.kind}`).join(", ")}`)
        assert.isDefined(server, `no server span of ${tag}`)
        assert.strictEqual(client!.traceId, caller.traceId)
        assert.strictEqual(parentId(client!), caller.spanId)
        assert.strictEqual(server!.traceId, caller.traceId)
        assert.strictEqual(parentId(server!), client!.spanId)
        assert.strictEqual(server!.status._tag, "Ended")
        assert.strictEqual(client!.status._tag, "Ended")
        // The attributes effect/rpc gives its client spans.
        assert.deepStrictEqual(Object.fromEntries(client!.attributes), { "rpc.system.name": "effect_rpc", "rpc.method": tag })
      }
    }))

  it.live("a watch is a client span under the caller's while subscribed, and the server's span of it is its child", () =>
    Effect.gen(function*() {
      const { spans, tracer } = recording()
      const seen = yield* Effect.gen(function*() {
        const port = yield* serve({})
        const context = yield* Layer.build(TaskRpcClient.layerWebsocket({ url: `ws://127.0.0.1:${port}/ws`, token: "alice-token" }))
        const client = Context.get(context, TaskRpcClient.TaskRpcClient)
        const handle = yield* client.submit(Add, { a: 1, b: 1 })
        return yield* Effect.withSpan(Stream.runCollect(Stream.take(handle.events, 1)), "caller")
      }).pipe(Effect.withTracer(tracer), Effect.scoped)
      assert.strictEqual(seen.length, 1)
      const caller = spans.find((span) => span.name === "caller")!
      const client = spans.find((span) => span.name.endsWith("Watch") && span.kind === "client")
      const server = spans.find((span) => span.name.endsWith("Watch") && span.kind === "server")
      assert.isDefined(client, `no client span of Watch among ${spans.map((s) => `${s.name}/${s.kind}`).join(", ")}`)
      assert.isDefined(server, "no server span of Watch")
      assert.strictEqual(parentId(client!), caller.spanId)
      assert.strictEqual(server!.traceId, caller.traceId)
      assert.strictEqual(parentId(server!), client!.spanId)
      assert.strictEqual(client!.status._tag, "Ended")
    }))

  it.live("with disableTracing the client makes no span and sends no span ids: the server's span of a call is in another trace", () =>
    Effect.gen(function*() {
      const { spans, tracer } = recording()
      yield* Effect.gen(function*() {
        const port = yield* serve({})
        const context = yield* Layer.build(
          TaskRpcClient.layerWebsocket({ url: `ws://127.0.0.1:${port}/ws`, token: "alice-token", disableTracing: true })
        )
        const client = Context.get(context, TaskRpcClient.TaskRpcClient)
        return yield* Effect.withSpan(client.submit(Add, { a: 2, b: 3 }), "caller")
      }).pipe(Effect.withTracer(tracer), Effect.scoped)
      const caller = spans.find((span) => span.name === "caller")!
      const submits = spans.filter((span) => span.name.endsWith("Submit"))
      assert.deepStrictEqual(submits.map((span) => span.kind), ["server"])
      assert.notStrictEqual(submits[0].traceId, caller.traceId)
    }))
})
