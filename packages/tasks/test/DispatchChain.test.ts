/**
 * The supervisor's `dispatch` loops instead of recursing: a task done at once
 * (its handler gave an `Exit`, over the memory store) is released inside the
 * `dispatch` that started it, and that release dispatches again. Without the
 * re-entrancy guard each such task would start the next one a few frames
 * deeper: 5,000 of them overflowed the stack, and the tasks after the overflow
 * never completed (the test waited). A long queue of them must all complete.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer, Scope } from "effect"
import * as TaskStore from "../src/TaskStore.ts"
import { Add, AddLive, Gate, gateLive, startOn } from "./fixtures.ts"

describe("dispatch", () => {
  it.effect("a long queue of tasks done at once, freed one worker at a time, all complete", () =>
    Effect.gen(function*() {
      const gates = yield* gateLive
      const store = yield* TaskStore.makeMemory
      const { scope, tasks } = yield* startOn(store, Layer.mergeAll(AddLive, gates.layer), { maxWorkers: 1, shutdownGracePeriod: 0 })
      const holder = yield* tasks.submit(Gate, { id: "first" })
      const queued = 5_000
      const handles = []
      for (let i = 0; i < queued; i++) handles.push(yield* tasks.submit(Add, { a: i, b: 1 }))
      yield* gates.open("first")
      assert.deepStrictEqual(yield* holder.await, Exit.succeed("first"))
      const last = yield* handles[queued - 1].await
      assert.deepStrictEqual(last, Exit.succeed(queued))
      yield* Scope.close(scope, Exit.void)
    }))
})
