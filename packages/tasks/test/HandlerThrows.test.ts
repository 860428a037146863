/**
 * A handler that throws when called, before it returns an Effect (a plain
 * function whose first line fails: a parse, a lookup), ends its task as a
 * `defect` naming the thrown error — on the lean path of a kind without
 * retries and on a retried kind's — and leaves the supervisor serving:
 * the next task runs, and the runtime's scope closes.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Layer, Schedule, Schema } from "effect"
import * as Task from "../src/Task.ts"
import * as Tasks from "../src/Tasks.ts"
import { advance, settle, supervisor } from "./fixtures.ts"

/** Throws when its payload says so, before making its Effect; else returns its value. */
const Thrower = Task.define("handler-throws", {
  payload: Schema.Struct({ value: Schema.Int, throws: Schema.Boolean }),
  success: Schema.Int
})
/** The same, on a kind that retries twice, a second apart. */
const RetriedThrower = Task.define("handler-throws-retried", {
  payload: Schema.Struct({ value: Schema.Int, throws: Schema.Boolean }),
  success: Schema.Int,
  policy: { retry: { schedule: Schedule.spaced("1 second").pipe(Schedule.upTo({ times: 2 })) } }
})

const body = ({ throws, value }: { readonly value: number; readonly throws: boolean }) => {
  if (throws) throw new RangeError(`no value ${value}`)
  return Effect.succeed(value)
}

const runtime = supervisor(Layer.mergeAll(Task.implement(Thrower, body), Task.implement(RetriedThrower, body)))

describe("a handler that throws when called", () => {
  for (const kind of [Thrower, RetriedThrower]) {
    it.effect(`${kind.name}: its task fails as a defect naming the error, and the next task runs`, () =>
      Effect.gen(function*() {
        const tasks = yield* Tasks.Tasks
        const thrown = yield* tasks.submit(kind, { value: 7, throws: true })
        yield* settle
        yield* advance(3)
        const exit = yield* thrown.await
        assert.isTrue(Exit.isFailure(exit) && Cause.hasDies(exit.cause))
        const info = yield* thrown.info
        assert.deepStrictEqual([info.status, info.reason], ["failed", "defect"])
        assert.include(info.errorMessage ?? "", "no value 7")
        const next = yield* tasks.submit(kind, { value: 8, throws: false })
        assert.deepStrictEqual(yield* next.await, Exit.succeed(8))
      }).pipe(Effect.provide(runtime)))
  }
})
