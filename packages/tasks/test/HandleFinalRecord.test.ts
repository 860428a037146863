/**
 * A submission's handle after its task finished here: it answers `await`
 * from the final record this process committed (no store read), so the
 * outcome stays with the handle even once the record is deleted; a final
 * record that was never committed is not told: the handle keeps the
 * store's error instead.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Option, Scope } from "effect"
import { TestClock } from "effect/testing"
import { TaskStoreError } from "../src/TaskError.ts"
import * as TaskStore from "../src/TaskStore.ts"
import { Add, AddLive, settle, startOn } from "./fixtures.ts"

/** The memory store, counting its reads of one record; `refuseFinal`: every write of a finished record fails. */
const countingStore = (refuseFinal: boolean) =>
  Effect.map(TaskStore.makeMemory, (memory) => {
    const reads = { count: 0 }
    const refusal = new TaskStoreError({ operation: "update", detail: "refused for the test" })
    const store = TaskStore.TaskStore.of({
      ...memory,
      get: (id) => Effect.suspend(() => {
        reads.count++
        return memory.get(id)
      }),
      update: (info) =>
        refuseFinal && info.status !== "running" && info.status !== "pending" ? Effect.fail(refusal) : memory.update(info)
    })
    return { store, reads }
  })

describe("a submission's handle of a task finished here", () => {
  it.effect("answers await from the committed final record: no store read, and the same after the record is deleted", () =>
    Effect.gen(function*() {
      const { reads, store } = yield* countingStore(false)
      const { scope, tasks } = yield* startOn(store, AddLive)
      const handle = yield* tasks.submit(Add, { a: 2, b: 3 })
      yield* settle
      assert.strictEqual(Option.getOrThrow(yield* store.get(handle.id)).status, "completed")
      reads.count = 0
      assert.deepStrictEqual(yield* handle.await, Exit.succeed(5))
      assert.strictEqual(reads.count, 0, "the handle read the store")
      yield* tasks.delete(handle.id)
      assert.strictEqual(yield* handle.join, 5)
      // By id, a deleted record is gone as before.
      assert.strictEqual((yield* Effect.flip(tasks.awaitInfo(handle.id)))._tag, "TaskNotFound")
      yield* Scope.close(scope, Exit.void)
    }))

  it.effect("tells no outcome its store never committed: await fails with the store's error, without a read", () =>
    Effect.gen(function*() {
      const { reads, store } = yield* countingStore(true)
      const { scope, tasks } = yield* startOn(store, AddLive)
      const handle = yield* tasks.submit(Add, { a: 2, b: 3 })
      // The final write is refused, tried again on its schedule (from 100 ms, five times), then given up.
      for (let i = 0; i < 10; i++) {
        yield* TestClock.adjust("1 second")
        yield* settle
      }
      assert.strictEqual((yield* tasks.stats).running, 0)
      reads.count = 0
      const error = yield* Effect.flip(handle.await)
      assert.strictEqual(reads.count, 0)
      // The store's refusal, kept for the handle: not the completion that was never committed, nor the stored
      // record (running), which would await as an interruption.
      assert.strictEqual(error._tag, "TaskStoreError")
      assert.strictEqual(Option.getOrThrow(yield* store.get(handle.id)).status, "running")
      yield* Scope.close(scope, Exit.void)
    }))
})
