/** A remote submission's options reach the server: its priority, its choice on a busy key, its time limits. */
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

  it.live("a submission's time limits and retries reach the server; a bad one is refused naming it, and nothing is recorded", () =>
    Effect.gen(function*() {
      const client = yield* alice
      const limited = yield* client.submit(Add, { a: 1, b: 2 }, { timeoutMillis: 90_000, heartbeatTimeoutMillis: 5_000, retries: 2 })
      const info = yield* limited.info
      assert.deepStrictEqual([info.timeoutMillis, info.heartbeatTimeoutMillis, info.retries], [90_000, 5_000, 2])
      const before = (yield* client.list({})).items.length
      const refused = yield* Effect.flip(client.submit(Add, { a: 1, b: 2 }, { timeoutMillis: 0.5 }))
      assert.strictEqual(refused._tag, "InvalidPayload")
      if (refused._tag === "InvalidPayload") assert.deepStrictEqual(refused.issues[0]!.path, ["timeoutMillis"])
      assert.strictEqual((yield* client.list({})).items.length, before)
    }).pipe(Effect.provide(server)))
})
