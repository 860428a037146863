/**
 * A remote watch delivers every record that differs from the last one it
 * delivered in a field a watcher sees (status, progress, message, detail,
 * heartbeat, finish), and no record equal to the last one in all of them. A
 * watch of every change that the server refuses (its connection's stream
 * limit) fails at once: only a dropped subscription or the transport is retried.
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Layer, Schema, Stream } from "effect"
import { RpcTest } from "effect/rpc"
import { TestClock } from "effect/testing"
import { Task } from "@chainjobs/tasks"
import { Auth, TaskRpcClient, TaskRpcs, TaskRpcServer } from "@chainjobs/rpc"
import { serverDependencies } from "./fixtures.ts"

/** Reports a scripted series of progress, each step changing one field of its record, then completes. */
const Scripted = Task.define("scripted", {
  payload: Schema.Struct({}),
  success: Schema.Void,
  detail: Schema.Struct({ block: Schema.Int })
})

/**
 * The records a remote watch of a `Scripted` task delivers, through a client over an in-memory server whose handler
 * runs `kinds`' script: the watch is opened, then `go` let go, then `meanwhile` run, then the watch read to its end.
 */
const watched = <E, R>(kinds: Layer.Layer<never, E, R>, go: Deferred.Deferred<void>, meanwhile: Effect.Effect<void> = Effect.void) => {
  const server = TaskRpcServer.layerHandlers.pipe(Layer.provideMerge(serverDependencies(kinds)))
  return Effect.gen(function*() {
    const client = TaskRpcClient.make(yield* RpcTest.makeClient(TaskRpcs.TaskRpcs))
    const handle = yield* client.submit(Scripted, {})
    const opened = yield* Deferred.make<void>()
    const watching = yield* handle.events.pipe(
      Stream.tap(() => Deferred.succeed(opened, undefined)),
      Stream.runCollect,
      Effect.forkScoped
    )
    yield* Deferred.await(opened)
    yield* Deferred.succeed(go, undefined)
    yield* meanwhile
    return yield* Fiber.join(watching)
  }).pipe(Effect.provide(server), Effect.provide(Auth.layerClient("alice-token")))
}

describe("remote watch", () => {
  it.effect("delivers a record that changed in one watched field only, and not one that did not change", () =>
    Effect.gen(function*() {
      // The handler starts reporting once the watch is open, and reports again once the clock has moved.
      const go = yield* Deferred.make<void>()
      const later = yield* Deferred.make<void>()
      const kinds = Task.implement(Scripted, () =>
        Effect.gen(function*() {
          const context = yield* Task.context(Scripted)
          yield* Deferred.await(go)
          yield* context.progress(10, "scanning") // progress and message
          yield* context.progress(20) // progress only
          yield* context.progress(20, "indexing") // message only
          yield* context.progress(20, undefined, { block: 7 }) // detail only
          yield* context.progress(20, "indexing", { block: 7 }) // nothing: not delivered
          yield* Deferred.await(later)
          yield* context.progress(20, "indexing", { block: 7 }) // the heartbeat only, the clock having moved
        }))
      const records = yield* watched(kinds, go, Effect.gen(function*() {
        // Let the handler reach the second gate before the clock moves.
        for (let i = 0; i < 50; i++) yield* Effect.yieldNow
        yield* TestClock.adjust("1 second")
        yield* Deferred.succeed(later, undefined)
      }))

      const running = records.filter((info) => info.status === "running")
      assert.deepStrictEqual(running.map((info) => [info.progress, info.message, info.detail]), [
        [0, null, null],
        [10, "scanning", null],
        [20, "scanning", null],
        [20, "indexing", null],
        [20, "indexing", { block: 7 }],
        [20, "indexing", { block: 7 }]
      ])
      const [before, after] = running.slice(-2).map((info) => info.heartbeatAt as number)
      assert.strictEqual(after - before, 1000)
      const last = records[records.length - 1]
      assert.strictEqual(last.status, "completed")
      assert.isNotNull(last.finishedAt)
    }))

  it.effect("delivers a change of the detail alone when no other record follows it while running", () =>
    Effect.gen(function*() {
      const go = yield* Deferred.make<void>()
      const kinds = Task.implement(Scripted, () =>
        Effect.gen(function*() {
          const context = yield* Task.context(Scripted)
          yield* Deferred.await(go)
          yield* context.progress(10, "scanning")
          yield* context.progress(10, "scanning", { block: 1 }) // detail only, the last change before the end
        }))
      const records = yield* watched(kinds, go)
      const running = records.filter((info) => info.status === "running")
      assert.deepStrictEqual(running.map((info) => [info.progress, info.message, info.detail]), [
        [0, null, null],
        [10, "scanning", null],
        [10, "scanning", { block: 1 }]
      ])
    }))

  it.live("a watch of every change refused by the connection's stream limit fails at once with TooManyStreams: not retried", () =>
    Effect.gen(function*() {
      const go = yield* Deferred.make<void>()
      const kinds = Task.implement(Scripted, () => Deferred.await(go))
      const server = TaskRpcServer.layerHandlersWith(1).pipe(Layer.provideMerge(serverDependencies(kinds)))
      const refusal = yield* Effect.gen(function*() {
        const client = TaskRpcClient.make(yield* RpcTest.makeClient(TaskRpcs.TaskRpcs))
        // The connection's one slot: a task's watch, open once its first record came.
        const handle = yield* client.submit(Scripted, {})
        const opened = yield* Deferred.make<void>()
        yield* handle.events.pipe(Stream.tap(() => Deferred.succeed(opened, undefined)), Stream.runDrain, Effect.forkScoped)
        yield* Deferred.await(opened)
        // Retried, the refusal would come only after the client's retryFor (30 s): bounded well below it.
        return yield* client.watchChanges().pipe(
          Stream.runDrain,
          Effect.flip,
          Effect.timeoutOrElse({ duration: "10 seconds", orElse: () => Effect.die(new Error("the refused watch was retried")) })
        )
      }).pipe(Effect.scoped, Effect.provide(server), Effect.provide(Auth.layerClient("alice-token")))
      yield* Deferred.succeed(go, undefined)
      assert.strictEqual(refusal._tag, "TooManyStreams")
    }))
})
