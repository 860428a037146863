import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Layer, Ref, Schedule, Schema } from "effect"
import { TestClock } from "effect/testing"
import * as Task from "../src/Task.ts"
import { TaskContext } from "../src/TaskContext.ts"
import { TaskAborted } from "../src/TaskError.ts"
import { Tasks } from "../src/Tasks.ts"
import { Boom, settle, supervisor } from "./fixtures.ts"

class Permanent extends Schema.TaggedError<Permanent>()("Permanent", { message: Schema.String }) {}

/** Fails its first `failures` attempts (with `Boom`, `Permanent` or a defect), then succeeds with the attempt number. */
const Flaky = Task.define("flaky", {
  payload: Schema.Struct({ failures: Schema.Int, how: Schema.Literals(["boom", "permanent", "defect"]) }),
  success: Schema.Int,
  error: Schema.Union([Boom, Permanent]),
  policy: {
    retry: {
      schedule: Schedule.exponential("1 second").pipe(Schedule.upTo({ times: 3 })),
      doNotRetry: ["Permanent"]
    }
  }
})
const flakyHandler = ({ failures, how }: Task.Payload<typeof Flaky>) =>
  Effect.gen(function*() {
    const { attempt } = yield* TaskContext
    if (attempt > failures) return attempt
    if (how === "defect") return yield* Effect.die(new Error(`defect on attempt ${attempt}`))
    return yield* (how === "boom" ? new Boom({ message: `attempt ${attempt}` }) : new Permanent({ message: "stop" }))
  })
const FlakyLive = Task.implement(Flaky, flakyHandler)

const FlakyDefects = Task.define("flaky-defects", {
  payload: Flaky.payload,
  success: Schema.Int,
  error: Schema.Union([Boom, Permanent]),
  policy: { retry: { schedule: Schedule.spaced("1 second").pipe(Schedule.upTo({ times: 3 })), defects: true } }
})
const FlakyDefectsLive = Task.implement(FlakyDefects, flakyHandler)

/** Runs for `seconds`, sending a heartbeat every `beat` seconds (0: never); notes its finalizer. */
const Beating = Task.define("beating", {
  payload: Schema.Struct({ seconds: Schema.Int, beat: Schema.Int }),
  success: Schema.Void,
  policy: { heartbeatTimeout: "2 minutes", timeout: "15 minutes" }
})
const beatingLive = (finalized: Ref.Ref<number>) =>
  Task.implement(Beating, ({ beat, seconds }) =>
    Effect.gen(function*() {
      const context = yield* TaskContext
      for (let t = 1; t <= seconds; t++) {
        yield* Effect.sleep("1 second")
        if (beat > 0 && t % beat === 0) yield* context.heartbeat
      }
    }).pipe(Effect.ensuring(Ref.update(finalized, (n) => n + 1))))

describe("task policy", () => {
  it.effect("typed errors are retried on the schedule, counting attempts", () =>
    Effect.gen(function*() {
      const tasks = yield* Tasks
      const handle = yield* tasks.submit(Flaky, { failures: 2, how: "boom" })
      yield* settle
      assert.strictEqual((yield* handle.info).attempt, 1)
      yield* TestClock.adjust("1 second")
      assert.strictEqual((yield* handle.info).attempt, 2)
      yield* TestClock.adjust("2 seconds")
      assert.deepStrictEqual(yield* handle.await, Exit.succeed(3))
      assert.strictEqual((yield* handle.info).attempt, 3)
    }).pipe(Effect.provide(supervisor(FlakyLive))))

  it.effect("retries stop when the schedule is exhausted, with the last error", () =>
    Effect.gen(function*() {
      const tasks = yield* Tasks
      const handle = yield* tasks.submit(Flaky, { failures: 10, how: "boom" })
      const waiting = yield* Effect.forkChild(handle.await)
      yield* TestClock.adjust("1 minute")
      assert.deepStrictEqual(yield* Fiber.join(waiting), Exit.fail(new Boom({ message: "attempt 4" })))
      assert.strictEqual((yield* handle.info).attempt, 4)
    }).pipe(Effect.provide(supervisor(FlakyLive))))

  it.effect("an error named in doNotRetry fails at once", () =>
    Effect.gen(function*() {
      const tasks = yield* Tasks
      const handle = yield* tasks.submit(Flaky, { failures: 1, how: "permanent" })
      assert.deepStrictEqual(yield* handle.await, Exit.fail(new Permanent({ message: "stop" })))
      assert.strictEqual((yield* handle.info).attempt, 1)
    }).pipe(Effect.provide(supervisor(FlakyLive))))

  it.effect("defects are not retried unless the policy asks", () =>
    Effect.gen(function*() {
      const tasks = yield* Tasks
      const handle = yield* tasks.submit(Flaky, { failures: 1, how: "defect" })
      const exit = yield* handle.await
      assert.isTrue(Exit.hasDies(exit))
      const info = yield* handle.info
      assert.strictEqual(info.reason, "defect")
      assert.include(info.errorMessage, "defect on attempt 1")

      const retried = yield* tasks.submit(FlakyDefects, { failures: 2, how: "defect" })
      const waiting = yield* Effect.forkChild(retried.await)
      yield* TestClock.adjust("5 seconds")
      assert.deepStrictEqual(yield* Fiber.join(waiting), Exit.succeed(3))
    }).pipe(Effect.provide(supervisor(Layer.merge(FlakyLive, FlakyDefectsLive)))))

  it.effect("an attempt past its timeout is interrupted and fails with reason timeout", () =>
    Effect.gen(function*() {
      const finalized = yield* Ref.make(0)
      yield* Effect.gen(function*() {
        const tasks = yield* Tasks
        const handle = yield* tasks.submit(Beating, { seconds: 3600, beat: 60 })
        const waiting = yield* Effect.forkChild(handle.await)
        yield* TestClock.adjust("15 minutes")
        const exit = yield* Fiber.join(waiting)
        assert.isTrue(Exit.isFailure(exit))
        const error = Exit.isFailure(exit) ? exit.cause : undefined
        assert.include(String(error), "TaskAborted")
        const info = yield* handle.info
        assert.strictEqual(info.status, "failed")
        assert.strictEqual(info.reason, "timeout")
        assert.strictEqual(info.finishedAt, 15 * 60 * 1000)
        assert.strictEqual(yield* Ref.get(finalized), 1)
      }).pipe(Effect.provide(supervisor(beatingLive(finalized))))
    }))

  it.effect("a task silent past its heartbeat timeout is interrupted by the watchdog", () =>
    Effect.gen(function*() {
      const finalized = yield* Ref.make(0)
      yield* Effect.gen(function*() {
        const tasks = yield* Tasks
        const silent = yield* tasks.submit(Beating, { seconds: 600, beat: 0 })
        const alive = yield* tasks.submit(Beating, { seconds: 600, beat: 30 })
        yield* settle
        yield* TestClock.adjust("2 minutes")
        assert.strictEqual(yield* silent.status, "running")
        // checked every 10 s: the silent task is caught at the first check past 2 minutes
        yield* TestClock.adjust("10 seconds")
        const exit = yield* silent.await
        assert.deepStrictEqual(
          exit,
          Exit.fail(new TaskAborted({ id: silent.id, reason: "heartbeat", detail: "no heartbeat for over 2m" }))
        )
        const info = yield* silent.info
        assert.strictEqual(info.reason, "heartbeat")
        assert.strictEqual(info.finishedAt, 130_000)
        assert.strictEqual(yield* Ref.get(finalized), 1)
        assert.strictEqual(yield* alive.status, "running")
      }).pipe(Effect.provide(supervisor(beatingLive(finalized))))
    }))

  it.effect("the watchdog leaves a task alone while it waits out a retry delay", () =>
    Effect.gen(function*() {
      const SlowRetry = Task.define("slow-retry", {
        payload: Schema.Struct({}),
        success: Schema.Int,
        error: Boom,
        policy: { heartbeatTimeout: "1 minute", retry: { schedule: Schedule.spaced("5 minutes").pipe(Schedule.upTo({ times: 1 })) } }
      })
      const live = Task.implement(SlowRetry, () =>
        Effect.gen(function*() {
          const { attempt } = yield* TaskContext
          if (attempt === 1) return yield* new Boom({ message: "first" })
          return attempt
        }))
      yield* Effect.gen(function*() {
        const tasks = yield* Tasks
        const handle = yield* tasks.submit(SlowRetry, {})
        const waiting = yield* Effect.forkChild(handle.await)
        yield* TestClock.adjust("5 minutes")
        assert.deepStrictEqual(yield* Fiber.join(waiting), Exit.succeed(2))
      }).pipe(Effect.provide(supervisor(live)))
    }))

  it.effect("the heartbeat check interval is configurable", () =>
    Effect.gen(function*() {
      const finalized = yield* Ref.make(0)
      yield* Effect.gen(function*() {
        const tasks = yield* Tasks
        const silent = yield* tasks.submit(Beating, { seconds: 600, beat: 0 })
        yield* settle
        yield* TestClock.adjust("121 seconds")
        assert.strictEqual((yield* silent.info).reason, "heartbeat")
      }).pipe(Effect.provide(supervisor(beatingLive(finalized), { heartbeatCheckInterval: "1 second" })))
    }))
})
