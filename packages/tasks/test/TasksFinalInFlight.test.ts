/**
 * A task's settled record is told only once the store took it: while its
 * final write is in flight, the supervisor still holds the task and answers
 * the record it held before (running) to `get`, `Tasks.peek` and a new
 * `watch` — as the store answers — and tells the final record once the write
 * committed. The one fault injected: a memory store whose write of that
 * task's final record waits for the test before it is applied.
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Layer, Option, Stream } from "effect"
import { isTerminal, makeId, type TaskInfo } from "../src/TaskInfo.ts"
import * as TaskStore from "../src/TaskStore.ts"
import * as Tasks from "../src/Tasks.ts"
import { Add, AddLive, testConfig } from "./fixtures.ts"

describe("a final record whose write is in flight", () => {
  it.effect("is not told by get, peek or watch before the store took it", () =>
    Effect.gen(function*() {
      const id = makeId(Date.now())
      const writing = yield* Deferred.make<void>()
      const go = yield* Deferred.make<void>()
      const store = yield* TaskStore.makeMemory
      const { updateAll: _, ...rest } = store
      // the final record of task `id` is written only once the test lets it
      const holding = TaskStore.TaskStore.of({
        ...rest,
        update: (info: TaskInfo) =>
          info.id === id && isTerminal(info.status)
            ? Effect.andThen(Deferred.succeed(writing, undefined), Effect.andThen(Deferred.await(go), store.update(info)))
            : store.update(info)
      })
      yield* Effect.gen(function*() {
        const tasks = yield* Tasks.Tasks
        const handle = yield* tasks.submit(Add, { a: 1, b: 2 }, { id })
        yield* Deferred.await(writing)
        const stored = Option.getOrThrow(yield* store.get(id))
        assert.strictEqual(stored.status, "running")
        assert.deepStrictEqual(yield* tasks.get(id), stored, "get told a final record not yet stored")
        assert.deepStrictEqual(Tasks.peek(tasks, id), stored, "peek told a final record not yet stored")
        const watched = yield* Effect.forkChild(Stream.runCollect(tasks.watch(id)), { startImmediately: true })
        const awaited = yield* Effect.forkChild(handle.await, { startImmediately: true })
        yield* Deferred.succeed(go, undefined)
        const final = Option.getOrThrow(yield* store.get(id))
        assert.strictEqual(final.status, "completed")
        assert.deepStrictEqual((yield* Fiber.join(watched)).map((info) => info.status), ["running", "completed"])
        assert.deepStrictEqual(yield* Fiber.join(awaited), yield* handle.await)
        assert.deepStrictEqual(yield* tasks.get(id), final)
        assert.deepStrictEqual(Tasks.peek(tasks, id), final)
        // a failed check lets the write go too: the supervisor's shutdown waits for it
      }).pipe(Effect.ensuring(Deferred.succeed(go, undefined)), Effect.provide(AddLive.pipe(Layer.provideMerge(Tasks.layer(testConfig)), Layer.provide(Layer.succeed(TaskStore.TaskStore, holding)))))
    }))
})
