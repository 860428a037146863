/** A remote submission's options reach the server: its priority, and its choice on a busy key. */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { RpcTest } from "effect/rpc"
import { Auth, TaskRpcClient, TaskRpcs, TaskRpcServer } from "@chainjobs/rpc"
import { Add, Exclusive, kinds, serverDependencies } from "./fixtures.ts"

const server = TaskRpcServer.layerHandlers.pipe(Layer.provideMerge(serverDependencies(kinds(() => Effect.void))))

const alice = RpcTest.makeClient(TaskRpcs.TaskRpcs).pipe(
  Effect.provide(Auth.layerClient("alice-token")),
  Effect.map((rpc) => TaskRpcClient.make(rpc))
)

describe("remote submit options", () => {
  it.live("the priority and the conflict choice of a submission reach the server", () =>
    Effect.gen(function*() {
      const client = yield* alice
      const prioritized = yield* client.submit(Add, { a: 1, b: 2 }, { priority: 7 })
      assert.strictEqual((yield* prioritized.info).priority, 7)
      // The kind joins by default; asked to reject, the second submission on the busy key is refused.
      yield* client.submit(Exclusive, { key: "k", delayMs: 60_000 })
      const refused = yield* Effect.flip(client.submit(Exclusive, { key: "k", delayMs: 1 }, { onConflict: "reject" }))
      assert.strictEqual(refused._tag, "SubmitRejected")
    }).pipe(Effect.provide(server)))
})
