/**
 * A submission's own time limits (`SubmitOptions.timeoutMillis`,
 * `heartbeatTimeoutMillis`) and retries over its kind's: they time the task
 * out or fail it for silence as the kind's would, cap (or give) retries, are
 * recorded with it (so a task taken back after a restart keeps them), and a
 * bad value is refused with `InvalidPayload` naming the option before
 * anything is recorded.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer, Option, Schedule, Schema, Scope } from "effect"
import * as Task from "../src/Task.ts"
import * as TaskStore from "../src/TaskStore.ts"
import { type SubmitOptions, Tasks } from "../src/Tasks.ts"
import { advance, settle, startOn, supervisor } from "./fixtures.ts"
import { record } from "./TaskStoreConformance.ts"

/** Sleeps `seconds` without a heartbeat; its kind allows an hour of either. */
const Quiet = Task.define("quiet", {
  payload: Schema.Struct({ seconds: Schema.Int }),
  success: Schema.Int,
  policy: { timeout: "1 hour", heartbeatTimeout: "1 hour", onRestart: "resume" }
})
const QuietLive = Task.implement(Quiet, ({ seconds }) => Effect.as(Effect.sleep(`${seconds} seconds`), seconds))

class Flake extends Schema.TaggedError<Flake>()("Flake", {}) {}

/** Fails at once, every attempt; its kind retries 5 times, a second apart. */
const Flaky = Task.define("flaky", {
  payload: Schema.Struct({}),
  success: Schema.Void,
  error: Flake,
  policy: { retry: { schedule: Schedule.spaced("1 second").pipe(Schedule.upTo({ times: 5 })) } }
})
/** Fails at once, every attempt; its kind does not retry. */
const Once = Task.define("once", { payload: Schema.Struct({}), success: Schema.Void, error: Flake })

const runtime = supervisor(
  Layer.mergeAll(QuietLive, Task.implement(Flaky, () => Effect.fail(new Flake())), Task.implement(Once, () => Effect.fail(new Flake()))),
  { heartbeatCheckInterval: "1 second", shutdownGracePeriod: 0 }
)

describe("a submission's time limits", () => {
  it.effect("timeoutMillis times the attempt out under the kind's hour, and is recorded", () =>
    Effect.gen(function*() {
      const tasks = yield* Tasks
      const limited = yield* tasks.submit(Quiet, { seconds: 60 }, { timeoutMillis: 5_000 })
      const plain = yield* tasks.submit(Quiet, { seconds: 60 })
      yield* settle
      assert.strictEqual((yield* limited.info).timeoutMillis, 5_000)
      assert.isFalse("timeoutMillis" in (yield* plain.info))
      yield* advance(6)
      const info = yield* limited.info
      assert.deepStrictEqual([info.status, info.reason, info.errorMessage], ["failed", "timeout", "timed out after 5s"])
      // the other runs on under the kind's limits
      assert.strictEqual((yield* plain.info).status, "running")
      yield* advance(60)
      assert.deepStrictEqual(yield* plain.await, Exit.succeed(60))
    }).pipe(Effect.provide(runtime)))

  it.effect("heartbeatTimeoutMillis fails a silent task with reason heartbeat", () =>
    Effect.gen(function*() {
      const tasks = yield* Tasks
      const silent = yield* tasks.submit(Quiet, { seconds: 60 }, { heartbeatTimeoutMillis: 3_000 })
      yield* settle
      yield* advance(5)
      const info = yield* silent.info
      assert.deepStrictEqual([info.status, info.reason, info.errorMessage], ["failed", "heartbeat", "no heartbeat for over 3s"])
    }).pipe(Effect.provide(runtime)))

  it.effect("retries caps the kind's retries (0: none), and gives a kind without retries some, 1 s apart and doubling", () =>
    Effect.gen(function*() {
      const tasks = yield* Tasks
      const attempts = (kind: typeof Flaky | typeof Once, retries: number | undefined) =>
        Effect.gen(function*() {
          const handle = yield* tasks.submit(kind, {}, retries === undefined ? undefined : { retries })
          yield* settle
          yield* advance(20)
          const info = yield* handle.info
          assert.deepStrictEqual([info.status, info.reason], ["failed", "error"])
          return [info.attempt, info.retries] as const
        })
      assert.deepStrictEqual(yield* attempts(Flaky, undefined), [6, undefined])
      assert.deepStrictEqual(yield* attempts(Flaky, 1), [2, 1])
      assert.deepStrictEqual(yield* attempts(Flaky, 0), [1, 0])
      assert.deepStrictEqual(yield* attempts(Once, undefined), [1, undefined])
      assert.deepStrictEqual(yield* attempts(Once, 2), [3, 2])
    }).pipe(Effect.provide(runtime)))

  it.effect("a task taken back after a restart keeps its submission's timeout", () =>
    Effect.gen(function*() {
      const store = yield* TaskStore.makeMemory
      // what a process killed mid-run leaves behind: a running task with its own 4-second limit
      const left = record({ kind: "quiet", status: "running", payload: { seconds: 60 }, startedAt: 0, timeoutMillis: 4_000 })
      yield* store.insert(left)
      const { scope, tasks } = yield* startOn(store, QuietLive, { shutdownGracePeriod: 0 })
      yield* settle
      yield* advance(5)
      const info = yield* tasks.get(left.id)
      assert.deepStrictEqual([info.status, info.reason, info.attempt], ["failed", "timeout", 2])
      assert.strictEqual(Option.getOrThrow(yield* store.get(left.id)).timeoutMillis, 4_000)
      yield* Scope.close(scope, Exit.void)
    }))
})

/**
 * Submits a `Quiet` task with `options`, which must be refused with `InvalidPayload` naming `field`, recording
 * nothing (the store holds as many records after as before).
 */
const refusedNaming = (options: SubmitOptions, field: string) =>
  Effect.gen(function*() {
    const tasks = yield* Tasks
    const store = yield* TaskStore.TaskStore
    const recorded = (yield* store.list({})).items.length
    const refused = yield* Effect.flip(tasks.submit(Quiet, { seconds: 1 }, options))
    assert.strictEqual(refused._tag, "InvalidPayload", `${JSON.stringify(options)} not refused`)
    if (refused._tag === "InvalidPayload") assert.deepStrictEqual(refused.issues[0]!.path, [field])
    assert.strictEqual((yield* store.list({})).items.length, recorded)
  })

/**
 * The refusals of bad options share one supervisor, built once for the block: a supervisor and a test clock built for
 * each of a property's 100 runs were most of its time. A refused submission changes nothing, so what one run leaves
 * the next finds; each run checks that its own refusal recorded nothing.
 */
it.layer(runtime)("a submission's bad options", (it) => {
  it.effect.prop(
    "retries that are not a whole number from 0 to 1000 are refused, naming them, and nothing is recorded",
    { retries: Schema.Number },
    ({ retries }) =>
      Number.isSafeInteger(retries) && retries >= 0 && retries <= 1000 ? Effect.void : refusedNaming({ retries }, "retries")
  )

  it.effect.prop(
    "a time limit that is not a positive whole number of milliseconds is refused, naming it, and nothing is recorded",
    { millis: Schema.Number, heartbeat: Schema.Boolean },
    ({ heartbeat, millis }) => {
      if (Number.isSafeInteger(millis) && millis > 0) return Effect.void
      const field = heartbeat ? "heartbeatTimeoutMillis" : "timeoutMillis"
      return refusedNaming({ [field]: millis }, field)
    }
  )

  // the edges, which random numbers seldom hit (a lost upper bound on retries went unseen by the property)
  it.effect("the values just past each bound are refused", () =>
    Effect.gen(function*() {
      for (const retries of [-1, 1001, 0.5, 2 ** 53, Number.NaN, Infinity]) yield* refusedNaming({ retries }, "retries")
      for (const field of ["timeoutMillis", "heartbeatTimeoutMillis"]) {
        for (const millis of [0, -1, 0.5, 2 ** 53, Number.NaN, Infinity]) yield* refusedNaming({ [field]: millis }, field)
      }
    }))
})
