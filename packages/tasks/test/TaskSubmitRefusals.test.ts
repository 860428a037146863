/**
 * Submissions refused before or while they are recorded change nothing: a
 * non-finite priority is a typed `InvalidPayload` naming `priority` and
 * records nothing, and a submission whose insert the store refused holds no
 * key and no worker afterwards: a task queued behind it starts.
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Layer, Schema } from "effect"
import { Task, TaskError, TaskStore, TaskSupervisor } from "../src/index.ts"

/** Adds two numbers, one task per key at a time; a busy key refuses. */
const Keyed = Task.define("refusals-keyed", {
  payload: Schema.Struct({ key: Schema.String, a: Schema.Number }),
  success: Schema.Number,
  policy: { key: ({ key }) => key, onConflict: "reject" }
})
const KeyedLive = Task.implement(Keyed, ({ a }) => Effect.succeed(a + 1))

/** Fault injection: the memory store, refusing the next `failures` inserts. */
const refusingStore = (failures: number) =>
  Effect.map(TaskStore.makeMemory, (memory) => {
    let left = failures
    return TaskStore.TaskStore.of({
      ...memory,
      insert: (info) =>
        left-- > 0 ? Effect.fail(new TaskError.TaskStoreError({ operation: "insert", detail: "disk full" })) : memory.insert(info)
    })
  })

const runtime = (store: TaskStore.TaskStore["Service"]) =>
  KeyedLive.pipe(
    Layer.provideMerge(TaskSupervisor.layer({ maxWorkers: 1, shutdownGracePeriod: 0 })),
    Layer.provideMerge(Layer.succeed(TaskStore.TaskStore, store))
  )

describe("refused submissions change nothing", () => {
  it.effect("a priority that is not a finite number is an InvalidPayload naming priority; nothing is recorded", () =>
    Effect.gen(function*() {
      const store = yield* TaskStore.makeMemory
      yield* Effect.gen(function*() {
        const tasks = yield* TaskSupervisor.Tasks
        for (const priority of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
          const error = yield* Effect.flip(tasks.submit(Keyed, { key: "k", a: 1 }, { priority }))
          assert.instanceOf(error, TaskError.InvalidPayload)
          assert.deepStrictEqual((error as TaskError.InvalidPayload).issues.map((issue) => issue.path), [["priority"]])
        }
        assert.deepStrictEqual((yield* store.list({})).items, [])
        // The key was never taken: a valid submission with it is admitted and runs.
        assert.strictEqual(yield* tasks.run(Keyed, { key: "k", a: 1 }), 2)
      }).pipe(Effect.provide(runtime(store)))
    }))

  it.effect("a submission the store refused to record frees its key and its worker", () =>
    Effect.gen(function*() {
      const store = yield* refusingStore(1)
      yield* Effect.gen(function*() {
        const tasks = yield* TaskSupervisor.Tasks
        const refused = yield* Effect.exit(tasks.submit(Keyed, { key: "k", a: 1 }))
        assert.isTrue(Exit.isFailure(refused))
        assert.strictEqual((yield* Effect.flip(refused)).constructor, TaskError.TaskStoreError)
        const stats = yield* tasks.stats
        assert.strictEqual(stats.running + stats.pending, 0)
        // Same key, one worker: admitted (not "key-busy") and run to completion.
        const handle = yield* tasks.submit(Keyed, { key: "k", a: 41 })
        assert.deepStrictEqual(yield* handle.await, Exit.succeed(42))
      }).pipe(Effect.provide(runtime(store)))
    }))

  it.effect("a task queued behind a submission the store then refused starts on the freed worker", () =>
    Effect.gen(function*() {
      const memory = yield* TaskStore.makeMemory
      const refuse = yield* Deferred.make<void>()
      let first = true
      // Fault injection: the first insert is refused, once the test says so.
      const store = TaskStore.TaskStore.of({
        ...memory,
        insert: (info) => {
          if (!first) return memory.insert(info)
          first = false
          return Effect.andThen(
            Deferred.await(refuse),
            Effect.fail(new TaskError.TaskStoreError({ operation: "insert", detail: "disk full" }))
          )
        }
      })
      yield* Effect.gen(function*() {
        const tasks = yield* TaskSupervisor.Tasks
        // The first takes the only worker while its insert is pending; the second waits behind it.
        const refused = yield* Effect.forkChild(Effect.exit(tasks.submit(Keyed, { key: "a", a: 1 })), { startImmediately: true })
        const queued = yield* tasks.submit(Keyed, { key: "b", a: 9 })
        assert.strictEqual((yield* queued.info).status, "pending")
        yield* Deferred.succeed(refuse, undefined)
        assert.isTrue(Exit.isFailure(yield* Fiber.join(refused)))
        for (let i = 0; i < 20; i++) yield* Effect.yieldNow
        assert.strictEqual((yield* queued.info).status, "completed")
        assert.deepStrictEqual(yield* queued.await, Exit.succeed(10))
      }).pipe(Effect.provide(runtime(store)))
    }))
})
