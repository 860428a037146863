/**
 * A dropped WebSocket, with the server in the test process (so that a
 * mutation run sees the client's code): the client reconnects by itself and
 * the watch resumes, ending at the task's final record.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Layer, Stream } from "effect"
import { TaskRpcClient } from "@chainjobs/rpc"
import { Gated, Release } from "./fixtures.ts"
import { serve } from "./localServer.ts"
import { proxy } from "./ServerProcess.ts"

const connect = (client: Layer.Layer<TaskRpcClient.TaskRpcClient>) =>
  Effect.map(Layer.build(client), Context.get(TaskRpcClient.TaskRpcClient))

describe("a dropped WebSocket, server in process", () => {
  it.live("the client reconnects and the watch ends at the final record", () =>
    Effect.gen(function*() {
      const port = yield* serve({})
      const cut = yield* proxy(port)
      const alice = yield* connect(TaskRpcClient.layerWebsocket({ url: `ws://127.0.0.1:${cut.port}/ws`, token: "alice-token" }))
      const other = yield* connect(TaskRpcClient.layerHttp({ url: `http://127.0.0.1:${port}/rpc`, token: "alice-token" }))
      const gate = "reconnect"
      const handle = yield* alice.submit(Gated, { gate })
      let severed = false
      const events = yield* handle.events.pipe(
        Stream.tap((info) =>
          Effect.gen(function*() {
            if (severed || info.status !== "running" || info.progress === 0) return
            severed = true
            cut.sever()
            // Released over another connection: the watch can only see the end through a new socket.
            yield* Effect.forkChild(Effect.flatMap(other.submit(Release, { gate }), (released) => released.join))
          })
        ),
        Stream.runCollect
      )
      assert.isAtLeast(cut.connections(), 2, "the client reconnected")
      assert.strictEqual(events[events.length - 1].status, "completed")
    }).pipe(Effect.scoped), 30_000)
})
