/**
 * The supervisor's Schema glue (`internal/codec.ts`) at `null` and
 * `undefined`: a handler failing with `null` gets a failed record that names
 * it (not a defect thrown while the outcome is written), and a payload whose
 * encoding is no object is never taken for its decoded object.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Option, Schema } from "effect"
import { interchangeable } from "../src/internal/codec.ts"
import * as Task from "../src/Task.ts"
import * as TaskStore from "../src/TaskStore.ts"
import * as Tasks from "../src/Tasks.ts"
import { supervisor } from "./fixtures.ts"

/** Fails with `null`, which its error Schema (a string) does not describe. */
const Nothing = Task.define("nothing", { payload: Schema.Struct({}), success: Schema.Void, error: Schema.String })
const NothingLive = Task.implement(Nothing, () => Effect.fail(null as unknown as string))

/** Fails with `null`, which its error Schema describes. */
const Empty = Task.define("empty", { payload: Schema.Struct({}), success: Schema.Void, error: Schema.Null })
const EmptyLive = Task.implement(Empty, () => Effect.fail(null))

const layer = supervisor(Layer.mergeAll(NothingLive, EmptyLive))

describe("codec at null", () => {
  it.effect("a handler failing with null is recorded as failed, its message naming null", () =>
    Effect.gen(function*() {
      const tasks = yield* Tasks.Tasks
      const store = yield* TaskStore.TaskStore
      const undescribed = yield* tasks.submit(Nothing, {})
      yield* Effect.exit(undescribed.join)
      const first = Option.getOrThrow(yield* store.get(undescribed.id))
      assert.deepStrictEqual([first.status, first.reason, first.error], ["failed", "defect", null])
      assert.strictEqual(first.errorMessage, "the handler failed with an error its kind's Schema does not describe: null")
      const described = yield* tasks.submit(Empty, {})
      assert.isNull(yield* Effect.flip(described.join))
      const second = Option.getOrThrow(yield* store.get(described.id))
      assert.deepStrictEqual([second.status, second.reason, second.error, second.errorMessage], ["failed", "error", null, "null"])
    }).pipe(Effect.provide(layer)))

  it("an object and an encoding that is undefined are not interchangeable", () => {
    assert.isFalse(interchangeable({}, undefined))
    assert.isFalse(interchangeable([], undefined))
  })
})
