import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect, Layer, Schema } from "effect"
import * as Task from "../src/Task.ts"
import * as TaskStore from "../src/TaskStore.ts"
import * as Tasks from "../src/Tasks.ts"
import { Add, AddLive } from "./fixtures.ts"

/** One step in a task fiber: an `Effect.gen` handler, not done when called. */
const Step = Task.define("step", { payload: Schema.Struct({ n: Schema.Number }), success: Schema.Number })
const StepLive = Task.implement(Step, ({ n }) =>
  Effect.gen(function*() {
    return yield* Effect.sync(() => n + 1)
  }))

/** `clock` with its millisecond reads counted (what the supervisor stamps records with). */
const counting = (clock: Clock.Clock) => {
  const counted = { reads: 0 }
  const wrapped: Clock.Clock = {
    currentTimeMillisUnsafe: () => {
      counted.reads++
      return clock.currentTimeMillisUnsafe()
    },
    currentTimeMillis: Effect.sync(() => wrapped.currentTimeMillisUnsafe()),
    currentTimeNanosUnsafe: () => clock.currentTimeNanosUnsafe(),
    currentTimeNanos: clock.currentTimeNanos,
    monotonicTimeNanosUnsafe: () => clock.monotonicTimeNanosUnsafe(),
    monotonicTimeNanos: clock.monotonicTimeNanos,
    sleep: (duration) => clock.sleep(duration)
  }
  return { counted, wrapped }
}

describe("clock reads", () => {
  it.effect("a task recorded at once reads the clock twice: made (and started, in the same call) and settled", () =>
    Effect.gen(function*() {
      const { counted, wrapped } = counting(yield* Clock.Clock)
      yield* Effect.gen(function*() {
        const tasks = yield* Tasks.Tasks
        const before = counted.reads
        const handles = [
          ...(yield* Effect.forEach([1, 2, 3], (a) => tasks.submit(Add, { a, b: 1 }))),
          ...(yield* Effect.forEach([1, 2, 3], (n) => tasks.submit(Step, { n })))
        ]
        const results = yield* Effect.forEach(handles, (handle) => handle.join)
        assert.deepStrictEqual(results, [2, 3, 4, 2, 3, 4])
        // a third read (at the start) would cost as much as a tenth of a no-op task, and give the same millisecond
        assert.strictEqual(counted.reads - before, 2 * handles.length)
        const info = yield* tasks.get(handles[0].id)
        assert.strictEqual(info.startedAt, info.createdAt)
        assert.strictEqual(info.heartbeatAt, info.createdAt)
      }).pipe(
        Effect.provide(
          Layer.mergeAll(AddLive, StepLive).pipe(
            Layer.provideMerge(Tasks.layer({ shutdownGracePeriod: 0 })),
            Layer.provideMerge(TaskStore.layerMemory)
          )
        ),
        Effect.provideService(Clock.Clock, wrapped)
      )
    }))
})
