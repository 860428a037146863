/**
 * The edges of recurring submissions: without `overlap` a tick is skipped
 * while the previous run is unfinished; a daemon's run that lasted exactly
 * `resetAfter` starts the restart schedule over, the next run waiting its
 * first delay (not at once, and not the backed-off one); a daemon stops when
 * its restart schedule ends; a run interrupted by its user is not restarted,
 * even with `restartOn: "always"`.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Option, Ref, Schedule, Schema } from "effect"
import { TestClock } from "effect/testing"
import * as Task from "../src/Task.ts"
import { Tasks } from "../src/Tasks.ts"
import { Boom, settle, Sleep, sleepLive, supervisor } from "./fixtures.ts"

/** Runs for the next of the test's durations (in seconds), then fails. */
const Crashing = Task.define("daemon-edges-crashing", { payload: Schema.Struct({}), success: Schema.Void, error: Boom })

/** A supervisor with `Crashing`, whose runs last `durations` seconds in turn (0 once they are used up); `body` gets the count of runs. */
const withCrashing = <A, E>(durations: ReadonlyArray<number>, body: (runs: Ref.Ref<number>) => Effect.Effect<A, E, Tasks>) =>
  Effect.gen(function*() {
    const runs = yield* Ref.make(0)
    const live = Task.implement(Crashing, () =>
      Effect.gen(function*() {
        const n = yield* Ref.getAndUpdate(runs, (k) => k + 1)
        yield* Effect.sleep(`${durations[n] ?? 0} seconds`)
        return yield* Effect.fail(new Boom({ message: "crash" }))
      }))
    return yield* body(runs).pipe(Effect.provide(supervisor(live)))
  })

/** Moves the clock `millis` ahead and lets every task react. */
const wait = (millis: number) =>
  Effect.gen(function*() {
    yield* TestClock.adjust(`${millis} millis`)
    yield* settle
  })

describe("recurring submissions at their edges", () => {
  it.effect("without overlap, a tick is skipped while the previous run is unfinished", () =>
    Effect.gen(function*() {
      const log = yield* Ref.make<ReadonlyArray<string>>([])
      yield* Effect.gen(function*() {
        const tasks = yield* Tasks
        yield* tasks.schedule(Sleep, { seconds: 90 }, { schedule: Schedule.spaced("1 minute") })
        const starts = Effect.map(Ref.get(log), (lines) => lines.filter((line) => line.startsWith("start")).length)
        for (let i = 0; i < 2; i++) yield* TestClock.adjust("1 minute")
        // the run started at 1 min lasts 1.5 min: the tick at 2 min is skipped, not queued behind it
        for (let i = 0; i < 40; i++) {
          yield* TestClock.adjust("1 second")
          yield* settle
        }
        assert.strictEqual(yield* starts, 1)
        yield* TestClock.adjust("1 minute")
        assert.strictEqual(yield* starts, 2)
      }).pipe(Effect.provide(supervisor(sleepLive(log))))
    }))

  it.effect("a run that lasted exactly resetAfter starts the restart schedule over: the next run waits its first delay", () =>
    // two quick crashes (backoff 10 s, then 20 s), a run of exactly 60 s, then quick crashes again
    withCrashing([0, 0, 60], (runs) =>
      Effect.gen(function*() {
        const tasks = yield* Tasks
        yield* tasks.daemon(Crashing, {}, { restart: Schedule.exponential("10 seconds"), resetAfter: "1 minute" })
        yield* settle
        assert.strictEqual(yield* Ref.get(runs), 1)
        yield* wait(10_000)
        assert.strictEqual(yield* Ref.get(runs), 2)
        yield* wait(20_000)
        assert.strictEqual(yield* Ref.get(runs), 3)
        // the third run lasts 60 s; the restart after it waits 10 s again, not 40 s, and not nothing
        yield* wait(60_000)
        assert.strictEqual(yield* Ref.get(runs), 3)
        yield* wait(9_999)
        assert.strictEqual(yield* Ref.get(runs), 3)
        yield* wait(1)
        assert.strictEqual(yield* Ref.get(runs), 4)
        // and backs off again from there: 20 s
        yield* wait(19_999)
        assert.strictEqual(yield* Ref.get(runs), 4)
        yield* wait(1)
        assert.strictEqual(yield* Ref.get(runs), 5)
      })))

  it.effect("a run one millisecond short of resetAfter keeps the backoff", () =>
    withCrashing([0, 59.999], (runs) =>
      Effect.gen(function*() {
        const tasks = yield* Tasks
        yield* tasks.daemon(Crashing, {}, { restart: Schedule.exponential("10 seconds"), resetAfter: "1 minute" })
        yield* settle
        yield* wait(10_000)
        assert.strictEqual(yield* Ref.get(runs), 2)
        yield* wait(59_999)
        // backed off: 20 s, not the first delay
        yield* wait(10_000)
        assert.strictEqual(yield* Ref.get(runs), 2)
        yield* wait(10_000)
        assert.strictEqual(yield* Ref.get(runs), 3)
      })))

  it.effect("a daemon stops when its restart schedule ends", () =>
    withCrashing([], (runs) =>
      Effect.gen(function*() {
        const tasks = yield* Tasks
        const daemon = yield* tasks.daemon(Crashing, {}, { restart: Schedule.spaced("1 second").pipe(Schedule.upTo({ times: 2 })) })
        for (let i = 0; i < 10; i++) yield* wait(1_000)
        assert.strictEqual(yield* Ref.get(runs), 3)
        assert.strictEqual(yield* daemon.starts, 3)
      })))

  it.effect("a run interrupted by its user is not restarted, even with restartOn always", () =>
    withCrashing([1000], (runs) =>
      Effect.gen(function*() {
        const tasks = yield* Tasks
        const daemon = yield* tasks.daemon(Crashing, {}, { restart: Schedule.spaced("1 second"), restartOn: "always" })
        yield* settle
        const current = Option.getOrThrow(yield* daemon.current)
        yield* tasks.interrupt(current)
        for (let i = 0; i < 5; i++) yield* wait(1_000)
        assert.strictEqual(yield* Ref.get(runs), 1)
      })))
})
