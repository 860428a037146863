import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Logger, Option, Ref, Schedule, Schema, Scope } from "effect"
import { TestClock } from "effect/testing"
import * as Schedules from "../src/Schedules.ts"
import * as Task from "../src/Task.ts"
import { Tasks } from "../src/Tasks.ts"
import { settle, Sleep, sleepLive, supervisor } from "./fixtures.ts"

const withSleep = <A, E, R>(body: (log: Ref.Ref<ReadonlyArray<string>>) => Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const log = yield* Ref.make<ReadonlyArray<string>>([])
    return yield* body(log).pipe(Effect.provide(supervisor(sleepLive(log))))
  })

const started = (log: Ref.Ref<ReadonlyArray<string>>) =>
  Effect.map(Ref.get(log), (l) => l.filter((line) => line.startsWith("start")).length)

describe("recurring submissions", () => {
  it.effect("a fixed interval submits an ordinary task on every tick", () =>
    withSleep((log) =>
      Effect.gen(function*() {
        const tasks = yield* Tasks
        const recurring = yield* tasks.schedule(Sleep, { seconds: 1 }, { schedule: Schedule.spaced("1 minute") })
        yield* settle
        assert.strictEqual(yield* started(log), 0)
        yield* TestClock.adjust("3 minutes")
        assert.strictEqual(yield* started(log), 3)
        yield* TestClock.adjust("1 second")
        const page = yield* tasks.list({ kind: ["sleep"] })
        assert.strictEqual(page.items.length, 3)
        assert.isTrue(page.items.every((info) => info.status === "completed"))
        const last = yield* recurring.lastTask
        assert.strictEqual(Option.getOrThrow(last), page.items[0].id)
        yield* recurring.cancel
        yield* TestClock.adjust("3 minutes")
        assert.strictEqual(yield* started(log), 3)
      })))

  it.effect("cron fires on its boundaries", () =>
    withSleep((log) =>
      Effect.gen(function*() {
        const tasks = yield* Tasks
        yield* TestClock.adjust("30 minutes")
        yield* tasks.schedule(Sleep, { seconds: 1 }, { schedule: Schedule.cron("0 * * * *") })
        yield* TestClock.adjust("29 minutes")
        assert.strictEqual(yield* started(log), 0)
        yield* TestClock.adjust("2 minutes")
        assert.strictEqual(yield* started(log), 1)
        yield* TestClock.adjust("1 hour")
        assert.strictEqual(yield* started(log), 2)
      })))

  it.effect("overlap skip drops ticks while the previous run is unfinished", () =>
    withSleep((log) =>
      Effect.gen(function*() {
        const tasks = yield* Tasks
        yield* tasks.schedule(Sleep, { seconds: 150 }, { schedule: Schedule.spaced("1 minute"), overlap: "skip" })
        for (let i = 0; i < 6; i++) yield* TestClock.adjust("1 minute")
        // ticks at 1, 2, 3, 4, 5, 6 min: a run starts at 1 min and lasts 2.5 min, so 2 and 3 are skipped
        assert.strictEqual(yield* started(log), 2)
      })))

  it.effect("overlap allow runs every tick at once; queue waits for the previous run", () =>
    withSleep((log) =>
      Effect.gen(function*() {
        const tasks = yield* Tasks
        const allow = yield* tasks.schedule(Sleep, { seconds: 150, tag: "allow" }, {
          schedule: Schedule.spaced("1 minute"),
          overlap: "allow"
        })
        for (let i = 0; i < 3; i++) yield* TestClock.adjust("1 minute")
        assert.strictEqual(yield* started(log), 3)
        yield* allow.cancel
        const before = yield* started(log)
        yield* tasks.schedule(Sleep, { seconds: 150, tag: "queue" }, {
          schedule: Schedule.spaced("1 minute"),
          overlap: "queue"
        })
        for (let i = 0; i < 6; i++) yield* TestClock.adjust("1 minute")
        // queued runs start back to back: at 1, 3.5, 6 minutes
        assert.strictEqual((yield* started(log)) - before, 3)
      })))
})

class Crash extends Schema.TaggedError<Crash>()("Crash", { message: Schema.String }) {}
const Follower = Task.define("follower", {
  payload: Schema.Struct({ crashAfter: Schema.Int }),
  success: Schema.Void,
  error: Crash
})

describe("daemons", () => {
  it.effect("a failing daemon is restarted with backoff; stop interrupts it", () =>
    Effect.gen(function*() {
      const runs = yield* Ref.make(0)
      const live = Task.implement(Follower, ({ crashAfter }) =>
        Effect.andThen(Ref.update(runs, (n) => n + 1), Effect.andThen(Effect.sleep(`${crashAfter} seconds`), Effect.fail(new Crash({ message: "rpc went away" })))))
      yield* Effect.gen(function*() {
        const tasks = yield* Tasks
        const daemon = yield* tasks.daemon(Follower, { crashAfter: 10 }, {
          restart: Schedule.exponential("1 second")
        })
        yield* settle
        assert.strictEqual(yield* Ref.get(runs), 1)
        yield* TestClock.adjust("10 seconds") // crash, restart after 1 s
        yield* TestClock.adjust("1 second")
        assert.strictEqual(yield* Ref.get(runs), 2)
        yield* TestClock.adjust("10 seconds") // crash, restart after 2 s
        yield* TestClock.adjust("1 second")
        assert.strictEqual(yield* Ref.get(runs), 2)
        yield* TestClock.adjust("1 second")
        assert.strictEqual(yield* Ref.get(runs), 3)
        assert.strictEqual(yield* daemon.starts, 3)
        const failed = yield* tasks.list({ kind: ["follower"], status: ["failed"] })
        assert.strictEqual(failed.items.length, 2)
        const current = Option.getOrThrow(yield* daemon.current)
        yield* daemon.stop
        assert.strictEqual((yield* tasks.get(current)).status, "interrupted")
        yield* TestClock.adjust("1 minute")
        assert.strictEqual(yield* Ref.get(runs), 3)
      }).pipe(Effect.provide(supervisor(live)))
    }))

  it.effect("a daemon that ran healthily for resetAfter starts its backoff over", () =>
    Effect.gen(function*() {
      const runs = yield* Ref.make(0)
      const live = Task.implement(Follower, ({ crashAfter }) =>
        Effect.andThen(Ref.update(runs, (n) => n + 1), Effect.andThen(Effect.sleep(`${crashAfter} seconds`), Effect.fail(new Crash({ message: "crash" })))))
      yield* Effect.gen(function*() {
        const tasks = yield* Tasks
        yield* tasks.daemon(Follower, { crashAfter: 120 }, { restart: Schedule.exponential("10 seconds"), resetAfter: "1 minute" })
        yield* settle
        // every run lasts 2 minutes, longer than resetAfter: each restart waits the first delay, 10 s
        for (let run = 1; run <= 4; run++) {
          assert.strictEqual(yield* Ref.get(runs), run)
          yield* TestClock.adjust("120 seconds")
          yield* TestClock.adjust("10 seconds")
        }
        assert.strictEqual(yield* Ref.get(runs), 5)
      }).pipe(Effect.provide(supervisor(live)))
    }))

  it.effect("a daemon that ends cleanly is not restarted unless restartOn is always", () =>
    Effect.gen(function*() {
      const runs = yield* Ref.make(0)
      const Once = Task.define("once", { payload: Schema.Struct({}), success: Schema.Void })
      const live = Task.implement(Once, () => Ref.update(runs, (n) => n + 1))
      yield* Effect.gen(function*() {
        const tasks = yield* Tasks
        yield* tasks.daemon(Once, {}, { restart: Schedule.spaced("1 second") })
        yield* TestClock.adjust("5 seconds")
        assert.strictEqual(yield* Ref.get(runs), 1)
        const always = yield* tasks.daemon(Once, {}, { restart: Schedule.spaced("1 second"), restartOn: "always" })
        yield* TestClock.adjust("5 seconds")
        assert.strictEqual(yield* Ref.get(runs), 7)
        yield* always.stop
      }).pipe(Effect.provide(supervisor(live)))
    }))
})

/** Runs `body` with a logger that keeps the messages of warnings, handed to `body`. */
const withWarnings = <A, E, R>(body: (warnings: ReadonlyArray<string>) => Effect.Effect<A, E, R>) =>
  Effect.suspend(() => {
    const warnings: Array<string> = []
    const capture = Logger.make<unknown, void>(({ logLevel, message }) => {
      if (logLevel === "Warn") warnings.push(String(Array.isArray(message) ? message[0] : message))
    })
    return body(warnings).pipe(Effect.provide(Logger.layer([capture])))
  })

/** A follower daemon's supervisor, counting runs; `body` gets the count. */
const withFollower = <A, E, R>(body: (runs: Ref.Ref<number>) => Effect.Effect<A, E, R | Tasks>) =>
  Effect.gen(function*() {
    const runs = yield* Ref.make(0)
    const live = Task.implement(Follower, ({ crashAfter }) =>
      Effect.andThen(Ref.update(runs, (n) => n + 1), Effect.andThen(Effect.sleep(`${crashAfter} seconds`), Effect.fail(new Crash({ message: "crash" })))))
    return yield* body(runs).pipe(Effect.provide(supervisor(live)))
  })

describe("recurring submissions and daemons, at their edges", () => {
  it.effect("with no overlap rule a tick is skipped while the previous run is unfinished", () =>
    withSleep((log) =>
      Effect.gen(function*() {
        const tasks = yield* Tasks
        yield* tasks.schedule(Sleep, { seconds: 150 }, { schedule: Schedule.spaced("1 minute") })
        for (let i = 0; i < 6; i++) yield* TestClock.adjust("1 minute")
        // as "skip": runs at 1 and 4 min (a queued rule would start a third at 6 min)
        assert.strictEqual(yield* started(log), 2)
      })))

  it.effect("a recurring submission that fails is logged, and the next tick submits again", () =>
    withWarnings((warnings) =>
      withSleep((log) =>
        Effect.gen(function*() {
          const tasks = yield* Tasks
          let refuse = 1
          // Fault injection: the first submission is refused.
          const submitter: Schedules.Submitter = {
            submit: (kind, payload, options) => refuse-- > 0 ? Effect.fail("refused") : tasks.submit(kind, payload, options),
            get: tasks.get,
            awaitInfo: tasks.awaitInfo,
            interrupt: tasks.interrupt
          }
          const scope = yield* Scope.make()
          yield* Schedules.schedule(submitter, scope, Sleep, { seconds: 0 }, { schedule: Schedule.spaced("1 minute") })
          yield* TestClock.adjust("1 minute")
          assert.strictEqual(yield* started(log), 0)
          assert.deepStrictEqual(warnings, [`chainjobs: recurring submission of "sleep" failed`])
          yield* TestClock.adjust("1 minute")
          assert.strictEqual(yield* started(log), 1)
          yield* Scope.close(scope, Exit.void)
        }))))

  it.effect("a daemon whose task is interrupted from outside is not restarted", () =>
    withFollower((runs) =>
      Effect.gen(function*() {
        const tasks = yield* Tasks
        const daemon = yield* tasks.daemon(Follower, { crashAfter: 10 }, { restart: Schedule.spaced("1 second") })
        yield* settle
        yield* tasks.interrupt(Option.getOrThrow(yield* daemon.current))
        yield* TestClock.adjust("1 minute")
        assert.strictEqual(yield* Ref.get(runs), 1)
        assert.strictEqual(yield* daemon.starts, 1)
      })))

  it.effect("late in the clock, runs shorter than resetAfter keep the backoff growing", () =>
    withFollower((runs) =>
      Effect.gen(function*() {
        const tasks = yield* Tasks
        yield* TestClock.adjust("1 hour")
        yield* tasks.daemon(Follower, { crashAfter: 30 }, { restart: Schedule.exponential("10 seconds"), resetAfter: "1 minute" })
        yield* settle
        // run 1 crashes at 30 s, run 2 starts 10 s later, crashes 30 s after; run 3 waits 20 s
        yield* TestClock.adjust("40 seconds")
        assert.strictEqual(yield* Ref.get(runs), 2)
        yield* TestClock.adjust("49 seconds")
        assert.strictEqual(yield* Ref.get(runs), 2)
        yield* TestClock.adjust("1 second")
        assert.strictEqual(yield* Ref.get(runs), 3)
      })))

  it.effect("a run of exactly resetAfter is healthy: the restart after it waits the schedule's first delay, then starts", () =>
    withFollower((runs) =>
      Effect.gen(function*() {
        const tasks = yield* Tasks
        yield* tasks.daemon(Follower, { crashAfter: 60 }, { restart: Schedule.exponential("10 seconds"), resetAfter: "1 minute" })
        yield* settle
        for (let run = 1; run <= 3; run++) {
          assert.strictEqual(yield* Ref.get(runs), run)
          yield* TestClock.adjust("60 seconds")
          yield* TestClock.adjust("9 seconds")
          assert.strictEqual(yield* Ref.get(runs), run, `run ${run + 1} started before the first delay was out`)
          yield* TestClock.adjust("1 second")
        }
        assert.strictEqual(yield* Ref.get(runs), 4)
      })))

  it.effect("a daemon whose restart schedule is spent stops, and says so", () =>
    withWarnings((warnings) =>
      withFollower((runs) =>
        Effect.gen(function*() {
          const tasks = yield* Tasks
          yield* tasks.daemon(Follower, { crashAfter: 1 }, { restart: Schedule.recurs(1) })
          yield* settle
          yield* TestClock.adjust("1 second")
          yield* TestClock.adjust("1 second")
          assert.strictEqual(yield* Ref.get(runs), 2)
          yield* TestClock.adjust("1 minute")
          assert.strictEqual(yield* Ref.get(runs), 2)
          assert.deepStrictEqual(warnings, [`chainjobs: daemon "follower" stopped`])
        }))))
})
