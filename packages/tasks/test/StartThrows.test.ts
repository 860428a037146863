/**
 * A throw while a task starts, before its fiber runs it — here its kind's
 * retry policy, whose schedule cannot be read — ends the task as a `defect`
 * naming the thrown error, and leaves the supervisor serving: the kind's next
 * task is dispatched (and ends so too), another kind's runs, and the runtime's
 * scope closes. Both places the policy is read: capped by the submission
 * (`retries`, read as the task starts) and as the kind's own (read as its
 * attempts are made).
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Layer, Schedule, Schema } from "effect"
import * as Task from "../src/Task.ts"
import * as Tasks from "../src/Tasks.ts"
import { Add, AddLive, advance, settle, supervisor } from "./fixtures.ts"

/** A retry policy whose schedule throws when read (a fault in a kind's policy). */
const unreadable = {
  get schedule(): Schedule.Schedule<unknown, Error> {
    throw new RangeError("no schedule here")
  }
}

/** One task at a time, so that the next one waits for the first's release. */
const Unreadable = Task.define("start-throws", {
  payload: Schema.Struct({ value: Schema.Int }),
  success: Schema.Int,
  policy: { retry: unreadable, concurrency: 1 }
})

const runtime = supervisor(Layer.mergeAll(Task.implement(Unreadable, ({ value }) => Effect.succeed(value)), AddLive))

describe("a throw while a task starts", () => {
  for (const retries of [2, undefined]) {
    it.effect(`retries ${retries}: the task fails as a defect naming the error, and the kind's next task is dispatched`, () =>
      Effect.gen(function*() {
        const tasks = yield* Tasks.Tasks
        const options = retries === undefined ? undefined : { retries }
        const first = yield* tasks.submit(Unreadable, { value: 1 }, options)
        const second = yield* tasks.submit(Unreadable, { value: 2 }, options)
        yield* settle
        yield* advance(3)
        for (const handle of [first, second]) {
          const exit = yield* handle.await
          assert.isTrue(Exit.isFailure(exit) && Cause.hasDies(exit.cause))
          const info = yield* handle.info
          assert.deepStrictEqual([info.status, info.reason], ["failed", "defect"])
          assert.include(info.errorMessage ?? "", "no schedule here")
        }
        const other = yield* tasks.submit(Add, { a: 1, b: 2 })
        assert.deepStrictEqual(yield* other.await, Exit.succeed(3))
      }).pipe(Effect.provide(runtime)))
  }
})
