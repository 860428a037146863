/**
 * A kind with both a timeout and a retry policy: the timeout limits each
 * attempt (every one, and each from its own start), and an attempt that
 * timed out ends the task with reason `timeout` instead of being retried as
 * if it were the kind's typed error.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer, Schedule, Schema } from "effect"
import { Task, TaskContext, TaskError, TaskStore, TaskSupervisor } from "../src/index.ts"
import { advance, settle } from "./fixtures.ts"

class Flake extends Schema.TaggedError<Flake>()("Flake", { attempt: Schema.Number }) {
  override get message() {
    return `attempt ${this.attempt} failed`
  }
}

/**
 * Attempt n sleeps `seconds[n - 1]` (or forever past the list's end), then
 * fails with `Flake` unless it is attempt `succeedOn`.
 */
const Slow = Task.define("slow-flaky", {
  payload: Schema.Struct({ seconds: Schema.Array(Schema.Int), succeedOn: Schema.Int }),
  success: Schema.Int,
  error: Flake,
  policy: {
    timeout: "10 seconds",
    retry: { schedule: Schedule.spaced("1 second").pipe(Schedule.upTo({ times: 5 })) }
  }
})

const starts: Array<number> = []

const SlowLive = Task.implement(Slow, ({ seconds, succeedOn }) =>
  Effect.gen(function*() {
    const { attempt } = yield* TaskContext.TaskContext
    starts.push(attempt)
    yield* attempt <= seconds.length ? Effect.sleep(`${seconds[attempt - 1]} seconds`) : Effect.never
    if (attempt === succeedOn) return attempt
    return yield* new Flake({ attempt })
  }))

const runtime = SlowLive.pipe(
  Layer.provideMerge(TaskSupervisor.layer({ shutdownGracePeriod: 0 })),
  Layer.provideMerge(TaskStore.layerMemory)
)

describe("a kind with a timeout and retries", () => {
  it.effect("each attempt gets the whole timeout, counted from its own start", () =>
    Effect.gen(function*() {
      starts.length = 0
      const tasks = yield* TaskSupervisor.Tasks
      // 8 s + 1 s backoff + 8 s: 17 s in all, longer than one timeout but no attempt is.
      const handle = yield* tasks.submit(Slow, { seconds: [8, 8], succeedOn: 2 })
      yield* settle
      yield* advance(17)
      assert.deepStrictEqual(yield* handle.await, Exit.succeed(2))
      assert.deepStrictEqual(starts, [1, 2])
    }).pipe(Effect.provide(runtime)))

  it.effect("a retried attempt is timed out too, and a timed-out attempt is not retried", () =>
    Effect.gen(function*() {
      starts.length = 0
      const tasks = yield* TaskSupervisor.Tasks
      // Attempt 1 fails at once; attempt 2 (after the 1 s backoff) never ends on its own.
      const handle = yield* tasks.submit(Slow, { seconds: [0], succeedOn: 0 })
      yield* settle
      yield* advance(1 + 10)
      const info = yield* handle.info
      assert.strictEqual(info.status, "failed")
      assert.strictEqual(info.reason, "timeout")
      assert.strictEqual(info.attempt, 2)
      const exit = yield* handle.await
      assert.isTrue(Exit.isFailure(exit))
      const error = yield* Effect.flip(handle.join)
      assert.instanceOf(error, TaskError.TaskAborted)
      // The retry schedule has attempts left, and none is spent on the timeout.
      yield* advance(30)
      assert.deepStrictEqual(starts, [1, 2])
      assert.strictEqual((yield* handle.info).attempt, 2)
    }).pipe(Effect.provide(runtime)))
})
