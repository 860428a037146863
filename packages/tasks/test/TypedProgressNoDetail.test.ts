/**
 * A typed context's progress without a detail: the kind's detail Schema is
 * not asked to encode a detail that was not given (a Struct would refuse
 * `undefined` and the task would die); the record keeps its percent and
 * message, and no detail.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Option, Schema, Scope } from "effect"
import * as Task from "../src/Task.ts"
import * as TaskStore from "../src/TaskStore.ts"
import { settle, startOn } from "./fixtures.ts"

/** A kind whose progress detail is a Struct: `undefined` does not encode with it. */
const Step = Task.define("step", {
  payload: Schema.Struct({}),
  success: Schema.Int,
  detail: Schema.Struct({ at: Schema.Int })
})

describe("a typed context's progress without a detail", () => {
  it.effect("reports the percent and message, and leaves the detail unset", () =>
    Effect.gen(function*() {
      const store = yield* TaskStore.makeMemory
      const StepLive = Task.implement(Step, (_, context) =>
        Effect.as(context.progress(50, "half way"), 1))
      const { scope, tasks } = yield* startOn(store, StepLive)
      const handle = yield* tasks.submit(Step, {})
      yield* settle
      assert.deepStrictEqual(yield* handle.await, Exit.succeed(1))
      const stored = Option.getOrThrow(yield* store.get(handle.id))
      assert.strictEqual(stored.progress, 50)
      assert.strictEqual(stored.message, "half way")
      assert.strictEqual(stored.detail, null)
      yield* Scope.close(scope, Exit.void)
    }))
})
