/**
 * Shutdown over a store whose writes take time, as every durable store's
 * do: once the runtime's scope has closed, the records of the tasks it
 * stopped are stored (`pending` for the next process, or `interrupted`), and
 * tasks that never started are still `pending`.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Exit, Layer, Option, Schema, Scope } from "effect"
import { Task, type TaskInfo, TaskStore, TaskSupervisor } from "../src/index.ts"

/** Runs until it is interrupted. */
const Resumable = Task.define("shutdown-resumable", {
  payload: Schema.Struct({ n: Schema.Int }),
  success: Schema.Void,
  policy: { onRestart: "resume" }
})
/** Runs until it is interrupted; fails for good after a restart. */
const Failing = Task.define("shutdown-failing", {
  payload: Schema.Struct({ n: Schema.Int }),
  success: Schema.Void,
  policy: { onRestart: "fail" }
})

const Kinds = Layer.mergeAll(
  Task.implement(Resumable, () => Effect.never),
  Task.implement(Failing, () => Effect.never)
)

/** Fault injection: the memory store, each write finishing a few milliseconds later on the event loop. */
const slowStore = Effect.gen(function*() {
  const memory = yield* TaskStore.makeMemory
  const later = <A, E>(write: Effect.Effect<A, E>) =>
    Effect.andThen(Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 5))), write)
  return {
    memory,
    slow: TaskStore.TaskStore.of({
      ...memory,
      insert: (info) => later(memory.insert(info)),
      update: (info) => later(memory.update(info)),
      updateProgress: (info) => later(memory.updateProgress(info))
    })
  }
})

const stored = (store: TaskStore.TaskStore["Service"], id: string) =>
  Effect.map(store.get(id), (found): TaskInfo.TaskInfo => Option.getOrThrow(found))

describe("shutdown over a store that takes time to write", () => {
  it.live("the stopped tasks' records are stored when the runtime's scope has closed", () =>
    Effect.gen(function*() {
      const { memory, slow } = yield* slowStore
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(
        Kinds.pipe(
          Layer.provideMerge(TaskSupervisor.layer({ maxWorkers: 2, shutdownGracePeriod: 0 })),
          Layer.provide(Layer.succeed(TaskStore.TaskStore, slow))
        ),
        scope
      )
      const tasks = Context.get(context, TaskSupervisor.Tasks)
      const resumed = yield* tasks.submit(Resumable, { n: 1 })
      const failed = yield* tasks.submit(Failing, { n: 2 })
      const neverStarted = yield* tasks.submit(Resumable, { n: 3 })
      // Both workers busy: the third waits.
      while ((yield* memory.get(failed.id)).pipe(Option.exists((info) => info.status !== "running"))) {
        yield* Effect.sleep("5 millis")
      }
      assert.strictEqual((yield* stored(memory, resumed.id)).status, "running")

      yield* Scope.close(scope, Exit.void)

      const resumedInfo = yield* stored(memory, resumed.id)
      assert.strictEqual(resumedInfo.status, "pending", "a resumable task is stored back for the next process")
      assert.strictEqual(resumedInfo.attempt, 2)
      const failedInfo = yield* stored(memory, failed.id)
      assert.strictEqual(failedInfo.status, "interrupted")
      assert.isNotNull(failedInfo.finishedAt)
      const neverStartedInfo = yield* stored(memory, neverStarted.id)
      assert.strictEqual(neverStartedInfo.status, "pending")
      assert.strictEqual(neverStartedInfo.attempt, 1)
      assert.deepStrictEqual(
        (yield* memory.unfinished).map((info) => info.id).sort(),
        [resumed.id, neverStarted.id].sort()
      )
    }))
})
