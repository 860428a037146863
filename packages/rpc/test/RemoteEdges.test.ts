/**
 * Two edges of the remote surface: the payload limit is inclusive (a payload
 * of exactly the limit's `maxBytes` bytes of JSON is accepted, one byte more is
 * refused), and a watch whose record does not change while its WebSocket
 * reconnects does not deliver that record twice: the task holds until the
 * reconnected watch was sent its record again, and only then ends.
 */
import { assert, describe, it, layer } from "@effect/vitest"
import { Context, Effect, Exit, Layer, Schema, Stream } from "effect"
import { RpcTest } from "effect/rpc"
import { Auth, TaskRpcClient, TaskRpcs, TaskRpcServer } from "@chainjobs/rpc"
import type { TaskAccessError } from "@chainjobs/tasks"
import { Fail, Gated, kinds, Release, serverDependencies } from "./fixtures.ts"
import { proxy, ServerProcess } from "./ServerProcess.ts"

/** The RPC handlers over a memory supervisor, refusing payloads of more than `maxBytes` bytes of JSON. */
const server = (maxBytes: number) =>
  TaskRpcServer.layerHandlers.pipe(
    Layer.provideMerge(serverDependencies(kinds(() => Effect.void), { payloadLimit: { maxBytes, maxDepth: 32 } }))
  )

/** An in-memory typed client whose calls carry alice's token. */
const alice = RpcTest.makeClient(TaskRpcs.TaskRpcs).pipe(
  Effect.provide(Auth.layerClient("alice-token")),
  Effect.map((rpc) => TaskRpcClient.make(rpc))
)

/** Text beyond ASCII, so that bytes and characters differ. */
const wide = "é✓😀"

describe("the payload limit", () => {
  it.effect.prop(
    "a payload of exactly maxPayloadBytes bytes is accepted, one byte more is refused",
    [Schema.String],
    ([text]) =>
      Effect.gen(function*() {
        const payload = { message: text + wide }
        const size = Buffer.byteLength(JSON.stringify(payload))
        const atLimit = yield* Effect.exit(Effect.flatMap(alice, (client) => client.submit(Fail, payload))).pipe(
          Effect.provide(server(size), { local: true })
        )
        assert.isTrue(Exit.isSuccess(atLimit), `a payload of ${size} bytes was refused at a limit of ${size}`)
        const overLimit = yield* Effect.flip(Effect.flatMap(alice, (client) => client.submit(Fail, payload))).pipe(
          Effect.provide(server(size - 1), { local: true })
        )
        assert.strictEqual(overLimit._tag, "TaskAccessError")
        assert.deepInclude((overLimit as TaskAccessError.TaskAccessError).reason, { _tag: "PayloadTooLarge", size, limit: size - 1 })
      }),
    { arbitrary: { runs: 25 } }
  )
})

/** The gated task's record while it holds: running at 50%. */
const holding = (info: { readonly status: string; readonly progress: number }) => info.status === "running" && info.progress === 50

describe("a watch across a reconnect", () => {
  layer(ServerProcess.layer, { excludeTestServices: true, timeout: "30 seconds" })("server in a child process", (it) => {
    it.effect("a record that did not change while the WebSocket reconnected is not delivered again", () =>
      Effect.gen(function*() {
        const server = yield* ServerProcess
        const cut = yield* proxy(server.port)
        const client = yield* Effect.map(
          Layer.build(TaskRpcClient.layerWebsocket({ url: `ws://127.0.0.1:${cut.port}/ws`, token: "alice-token" })),
          Context.get(TaskRpcClient.TaskRpcClient)
        )
        // Releases the gate straight to the server, not through the proxy.
        const other = yield* Effect.map(
          Layer.build(TaskRpcClient.layerHttp({ url: `http://127.0.0.1:${server.port}/rpc`, token: "alice-token" })),
          Context.get(TaskRpcClient.TaskRpcClient)
        )
        // The task holds at 50% ("holding") until released: its record cannot change while the client reconnects.
        const gate = `reconnect-${Date.now()}`
        const handle = yield* client.submit(Gated, { gate })
        let severed = false
        const release = Effect.gen(function*() {
          // The reconnected watch was sent the unchanged record again (the only text "holding" on a new connection);
          // only then does the task end, so a watch that delivered what it was sent would show the record twice.
          yield* cut.carried(`"holding"`, 1, "20 seconds")
          yield* Effect.flatMap(other.submit(Release, { gate }), (released) => released.join)
        })
        const events = yield* handle.events.pipe(
          Stream.tap((info) =>
            Effect.gen(function*() {
              if (severed || !holding(info)) return
              severed = true
              cut.sever()
              yield* Effect.forkScoped(Effect.orDie(release))
            })
          ),
          Stream.runCollect
        )
        assert.isAtLeast(cut.connections(), 2, "the client reconnected")
        const seen = events.map((info) => JSON.stringify(info))
        assert.strictEqual(new Set(seen).size, seen.length, `delivered twice: ${seen.join("\n")}`)
        assert.strictEqual(events.filter(holding).length, 1, `the held record: ${seen.join("\n")}`)
        assert.strictEqual(events[events.length - 1].status, "completed")
      }))
  })
})
