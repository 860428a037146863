/**
 * Retries seen from outside: a kind retrying defects (`defects: true`) whose
 * schedule runs out fails as a defect with the last attempt's own defect
 * (not the wrapper the schedule saw), and every retry is told to the event
 * stream as `Retrying` before its attempt's `Started`.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Fiber, Ref, Schedule, Schema, Stream } from "effect"
import { TestClock } from "effect/testing"
import * as Task from "../src/Task.ts"
import { Tasks } from "../src/Tasks.ts"
import { settle, supervisor } from "./fixtures.ts"

/** Dies on every attempt, naming it; its defects are retried twice, a second apart. */
const Dying = Task.define("dying", {
  payload: Schema.Struct({}),
  success: Schema.Int,
  policy: { retry: { schedule: Schedule.spaced("1 second").pipe(Schedule.upTo({ times: 2 })), defects: true } }
})
const DyingLive = Task.implement(Dying, (_, context) => Effect.die(new Error(`died on attempt ${context.attempt}`)))

describe("retried defects and the event stream", () => {
  it.effect("a defect retried until the schedule runs out fails as that defect, told as Retrying then Started each time", () =>
    Effect.gen(function*() {
      const tasks = yield* Tasks
      const tags = yield* Ref.make<ReadonlyArray<string>>([])
      const following = yield* Effect.forkChild(Stream.runForEach(tasks.events, (event) =>
        Ref.update(tags, (seen) => [...seen, event._tag])))
      yield* settle
      const handle = yield* tasks.submit(Dying, {})
      const waiting = yield* Effect.forkChild(handle.await)
      yield* TestClock.adjust("5 seconds")
      const exit = yield* Fiber.join(waiting)
      assert.isTrue(Exit.isFailure(exit) && Cause.hasDies(exit.cause))
      const defect = Exit.isFailure(exit) ? Cause.squash(exit.cause) : undefined
      assert.instanceOf(defect, Error)
      assert.include((defect as Error).message, "died on attempt 3")
      const info = yield* handle.info
      assert.strictEqual(info.attempt, 3)
      assert.strictEqual(info.reason, "defect")
      assert.include(info.errorMessage, "died on attempt 3")
      yield* settle
      assert.deepStrictEqual(yield* Ref.get(tags), [
        "Submitted", "Started", "Retrying", "Started", "Retrying", "Started", "Finished"
      ])
      yield* Fiber.interrupt(following)
    }).pipe(Effect.provide(supervisor(DyingLive))))
})
