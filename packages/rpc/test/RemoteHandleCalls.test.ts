/**
 * A remote handle makes its calls when they are used, not when the handle is
 * made: a submission builds its `Submit` call and nothing else (before, every
 * handle built a read, a second read, an await and an interrupt, each with
 * its retry, most never run). The raw client is the real in-memory one
 * (`RpcTest`) over the real handlers, watched by a proxy that notes which of
 * its calls are built.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { RpcTest } from "effect/rpc"
import { Auth, TaskRpcClient, TaskRpcs, TaskRpcServer } from "@chainjobs/rpc"
import { Add, kinds, serverDependencies } from "./fixtures.ts"

const server = TaskRpcServer.layerHandlers.pipe(Layer.provideMerge(serverDependencies(kinds(() => Effect.void))))

/** Alice's typed client over the in-memory raw client, and the names of the raw calls built so far, in order. */
const watchedClient = Effect.gen(function*() {
  const rpc = yield* RpcTest.makeClient(TaskRpcs.TaskRpcs).pipe(Effect.provide(Auth.layerClient("alice-token")))
  const built: Array<string> = []
  const watched = new Proxy(rpc, {
    get: (target, name, receiver) => {
      const call = Reflect.get(target, name, receiver)
      if (typeof call !== "function" || typeof name !== "string") return call
      return (...args: Array<unknown>) => {
        built.push(name)
        return call(...args)
      }
    }
  })
  return { built, client: TaskRpcClient.make(watched) }
})

describe("a remote handle's calls", () => {
  it.effect("submitting builds the Submit call only; joining builds the Await call then", () =>
    Effect.gen(function*() {
      const { built, client } = yield* watchedClient
      built.length = 0
      const handle = yield* client.submit(Add, { a: 2, b: 3 })
      assert.deepStrictEqual(built, ["Submit"])
      assert.strictEqual(yield* handle.join, 5)
      assert.deepStrictEqual(built, ["Submit", "Await"])
    }).pipe(Effect.provide(server)))

  it.effect("each use of a handle's effect is a call of its own, reading the task as it is then", () =>
    Effect.gen(function*() {
      const { built, client } = yield* watchedClient
      const handle = yield* client.submit(Add, { a: 1, b: 1 })
      const exit = yield* handle.await
      assert.isTrue(exit._tag === "Success" && exit.value === 2)
      built.length = 0
      assert.strictEqual(yield* handle.status, "completed")
      assert.strictEqual((yield* handle.info).status, "completed")
      assert.strictEqual(yield* handle.join, 2)
      assert.deepStrictEqual(built, ["Get", "Get", "Await"])
    }).pipe(Effect.provide(server)))
})
