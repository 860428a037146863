import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Option, Scope } from "effect"
import { TestClock } from "effect/testing"
import * as TaskStore from "../src/TaskStore.ts"
import { Add, AddLive, settle, startOn } from "./fixtures.ts"

/** A memory store whose inserts take 10 ms (of the TestClock), as a database's would. */
const slowStore = Effect.map(TaskStore.makeMemory, (store) =>
  TaskStore.TaskStore.of({ ...store, insert: (info) => Effect.andThen(Effect.sleep("10 millis"), store.insert(info)) }))

describe("a submitter interrupted while its task is being recorded", () => {
  it.effect("does not leave the task admitted and never run: it runs, and the supervisor can shut down", () =>
    Effect.gen(function*() {
      const store = yield* slowStore
      const { scope, tasks } = yield* startOn(store, AddLive, { shutdownGracePeriod: 0 })
      // As an HTTP request whose client went away while the insert was in flight: its fiber is interrupted.
      const submitting = yield* Effect.forkChild(tasks.submit(Add, { a: 1, b: 2 }))
      yield* settle
      const interrupting = yield* Effect.forkChild(Fiber.interrupt(submitting))
      yield* settle
      yield* TestClock.adjust("10 millis")
      yield* settle
      yield* Fiber.join(interrupting)
      // Before: the interrupt stopped the insert, the admitted task held a worker as running for ever, never started.
      assert.strictEqual((yield* tasks.stats).running, 0)
      const [recorded] = (yield* store.list({ limit: 10 })).items
      assert.strictEqual(recorded?.status, "completed")
      yield* Scope.close(scope, Exit.void)
      assert.strictEqual(Option.getOrThrow(yield* store.get(recorded.id)).status, "completed")
    }))
})
