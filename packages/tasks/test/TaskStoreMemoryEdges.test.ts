/**
 * Edges of the memory store (`TaskStore.makeMemory`) and its purge filter
 * that the conformance suite does not reach: a finished record without a
 * finish time is never "finished before" anything, and a progress write for a
 * record the store does not hold is no failure.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import * as TaskStore from "../src/TaskStore.ts"
import { record } from "./TaskStoreConformance.ts"

describe("the memory store's edges", () => {
  it("matchesPurge: a finished record with no finish time is not finished before any time", () => {
    const info = record({ status: "completed", finishedAt: null })
    assert.isFalse(TaskStore.matchesPurge(info, { finishedBefore: 5_000 }))
    assert.isTrue(TaskStore.matchesPurge({ ...info, finishedAt: 4_999 }, { finishedBefore: 5_000 }))
  })

  it.effect("a progress write for a record the store does not hold succeeds", () =>
    Effect.gen(function*() {
      const store = yield* TaskStore.makeMemory
      const exit = yield* Effect.exit(store.updateProgress(record({ status: "running", progress: 10 })))
      assert.isTrue(Exit.isSuccess(exit), String(exit))
    }))
})
