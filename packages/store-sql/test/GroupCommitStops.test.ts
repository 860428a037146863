/**
 * How a group commit ends (the writes it refuses once closed are
 * `GroupCommitBatching.test`'s): a batch whose write is interrupted (only
 * when the runtime itself stops) fails its writers with that interruption
 * instead of leaving them waiting for good, and `settled` returns; closing
 * with nothing queued writes nothing, no empty batch.
 */
import { TaskError } from "@chainjobs/tasks"
import { record } from "@chainjobs/tasks/test/TaskStoreConformance"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Scope } from "effect"
import * as GroupCommit from "../src/GroupCommit.ts"

const stored: GroupCommit.BatchResult = { duplicates: new Set(), failed: { inserts: new Map(), updates: new Map(), progress: new Map() } }

describe("GroupCommit, ending", () => {
  it.effect("a batch whose write is interrupted fails its writers with the interruption, and settled returns", () =>
    Effect.gen(function*() {
      // The database's call is interrupted from outside its fiber, as the runtime stopping would.
      const write: GroupCommit.WriteBatch = () =>
        Effect.gen(function*() {
          const self = yield* Effect.fiber
          yield* Effect.forkDetach(Fiber.interrupt(self))
          return yield* Effect.never
        })
      const commit = yield* GroupCommit.make(write)
      const [a, b] = [record(), record()]
      const writes = yield* Effect.forkChild(
        Effect.all([Effect.flip(commit.insert(a)), Effect.flip(commit.update({ ...b, status: "running" }))], { concurrency: "unbounded" }),
        { startImmediately: true }
      )
      const settled = yield* Effect.forkChild(commit.settled, { startImmediately: true })
      for (let i = 0; i < 20; i++) yield* Effect.yieldNow
      assert.deepStrictEqual(
        [writes.pollUnsafe() === undefined ? "waiting" : "done", settled.pollUnsafe() === undefined ? "waiting" : "done"],
        ["done", "done"],
        "the writers and settled, once the batch's write was interrupted"
      )
      const errors: ReadonlyArray<TaskError.TaskStoreError> = yield* Fiber.join(writes)
      assert.deepStrictEqual(
        errors.map((error) => [error.operation, error.detail]),
        [["write", "the batch's write was interrupted"], ["write", "the batch's write was interrupted"]]
      )
    }))

  it.effect("closing with nothing queued writes no batch: the database sees only the batches that held writes", () =>
    Effect.gen(function*() {
      const sizes: Array<number> = []
      const scope = yield* Scope.make()
      const write: GroupCommit.WriteBatch = (batch) =>
        Effect.sync(() => {
          sizes.push(batch.inserts.size + batch.updates.size + batch.progress.size)
          return stored
        })
      const commit = yield* GroupCommit.make(write).pipe(Scope.provide(scope))
      yield* commit.insert(record())
      yield* commit.settled
      yield* Scope.close(scope, Exit.void)
      assert.deepStrictEqual(sizes, [1])
    }))
})
