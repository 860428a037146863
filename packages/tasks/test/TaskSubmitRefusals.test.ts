/**
 * Submissions refused before or while they are recorded change nothing: a
 * non-finite priority is a typed `InvalidPayload` naming `priority` and
 * records nothing, and a submission whose insert the store refused holds no
 * key and no worker afterwards.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer, Schema } from "effect"
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
})
