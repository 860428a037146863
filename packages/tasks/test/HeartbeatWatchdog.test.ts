/**
 * The heartbeat watchdog: a running task silent for longer than its heartbeat
 * timeout (not for exactly that long) fails with reason `heartbeat`; a task
 * waiting between attempts is not running, so its silence then does not
 * count, and each new attempt is watched from its own start.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Schedule, Schema } from "effect"
import * as Task from "../src/Task.ts"
import { TaskContext } from "../src/TaskContext.ts"
import { Tasks } from "../src/Tasks.ts"
import { advance, Boom, settle, supervisor } from "./fixtures.ts"

/** Sleeps `seconds` without a heartbeat, under a heartbeat timeout of 3 seconds. */
const Silent = Task.define("silent", {
  payload: Schema.Struct({ seconds: Schema.Int }),
  success: Schema.Int,
  policy: { heartbeatTimeout: "3 seconds" }
})

/** Its first attempt fails at once; the next, 10 seconds later, sleeps `seconds` without a heartbeat (timeout 3 seconds). */
const FailsFirst = Task.define("fails-first", {
  payload: Schema.Struct({ seconds: Schema.Int }),
  success: Schema.Int,
  error: Boom,
  policy: { heartbeatTimeout: "3 seconds", retry: { schedule: Schedule.spaced("10 seconds") } }
})

const runtime = supervisor(
  Layer.mergeAll(
    Task.implement(Silent, ({ seconds }) => Effect.as(Effect.sleep(`${seconds} seconds`), seconds)),
    Task.implement(FailsFirst, ({ seconds }) =>
      Effect.gen(function*() {
        const context = yield* TaskContext
        if (context.attempt === 1) return yield* Effect.fail(new Boom({ message: "first attempt" }))
        yield* Effect.sleep(`${seconds} seconds`)
        return seconds
      }))
  ),
  { heartbeatCheckInterval: "1 second" }
)

describe("the heartbeat watchdog", () => {
  it.effect("a task silent for exactly its heartbeat timeout runs on; past it, it fails with reason heartbeat", () =>
    Effect.gen(function*() {
      const tasks = yield* Tasks
      const silent = yield* tasks.submit(Silent, { seconds: 60 })
      yield* settle
      yield* advance(3)
      assert.strictEqual((yield* silent.info).status, "running")
      yield* advance(1)
      const info = yield* silent.info
      assert.deepStrictEqual([info.status, info.reason, info.errorMessage], ["failed", "heartbeat", "no heartbeat for over 3s"])
    }).pipe(Effect.provide(runtime)))

  it.effect("the wait between attempts is not silence: the next attempt runs and completes", () =>
    Effect.gen(function*() {
      const tasks = yield* Tasks
      const retried = yield* tasks.submit(FailsFirst, { seconds: 2 })
      yield* settle
      yield* advance(13)
      const info = yield* retried.info
      assert.deepStrictEqual([info.status, info.attempt, info.result], ["completed", 2, 2])
    }).pipe(Effect.provide(runtime)))

  it.effect("an attempt after a wait is watched from its own start", () =>
    Effect.gen(function*() {
      const tasks = yield* Tasks
      const retried = yield* tasks.submit(FailsFirst, { seconds: 60 })
      yield* settle
      // The second attempt starts at 10 s: silent for 3 s at 13 s, for more at 14 s.
      yield* advance(13)
      assert.deepStrictEqual([(yield* retried.info).status, (yield* retried.info).attempt], ["running", 2])
      yield* advance(1)
      const info = yield* retried.info
      assert.deepStrictEqual([info.status, info.reason, info.attempt], ["failed", "heartbeat", 2])
    }).pipe(Effect.provide(runtime)))
})
