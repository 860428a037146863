import { assert, describe, it } from "@effect/vitest"
import { Cron, Effect, Layer, Ref, Result, Schema } from "effect"
import { TestClock } from "effect/testing"
import * as PersistedSchedules from "../src/PersistedSchedules.ts"
import * as ScheduleStore from "../src/ScheduleStore.ts"
import { settle, sleepLive, supervisor } from "./fixtures.ts"

/** One process: a supervisor with the `sleep` kind and the stored schedules, over the given schedule store. */
const oneProcess = (store: ScheduleStore.ScheduleStore["Service"], log: Ref.Ref<ReadonlyArray<string>>) =>
  PersistedSchedules.layer.pipe(
    Layer.provideMerge(supervisor(sleepLive(log))),
    Layer.provideMerge(Layer.succeed(ScheduleStore.ScheduleStore, store))
  )

const starts = (log: Ref.Ref<ReadonlyArray<string>>) =>
  Effect.map(Ref.get(log), (lines) => lines.filter((line) => line.startsWith("start:")).length)

/** In a fresh process over `store`: `body`, with the process's log of starts. */
const inProcess = <A, E>(
  store: ScheduleStore.ScheduleStore["Service"],
  body: (log: Ref.Ref<ReadonlyArray<string>>) => Effect.Effect<A, E, PersistedSchedules.PersistedSchedules>
) =>
  Effect.gen(function*() {
    const log = yield* Ref.make<ReadonlyArray<string>>([])
    return yield* body(log).pipe(Effect.provide(oneProcess(store, log)))
  })

describe("persisted schedules", () => {
  it.effect("a declared schedule runs, runs again in the next process on the same store without being declared, and stops when removed", () =>
    Effect.gen(function*() {
      const store = yield* ScheduleStore.makeMemory
      yield* inProcess(store, (log) =>
        Effect.gen(function*() {
          const schedules = yield* PersistedSchedules.PersistedSchedules
          yield* schedules.declare({ name: "every-minute", kind: "sleep", payload: { seconds: 0 }, trigger: { _tag: "Interval", millis: 60_000 } })
          yield* TestClock.adjust("3 minutes")
          assert.strictEqual(yield* starts(log), 3)
        }))
      // The first process is gone; the next one declares nothing and finds the schedule stored.
      yield* inProcess(store, (log) =>
        Effect.gen(function*() {
          const schedules = yield* PersistedSchedules.PersistedSchedules
          yield* settle
          yield* TestClock.adjust("2 minutes")
          assert.strictEqual(yield* starts(log), 2)
          assert.deepStrictEqual((yield* schedules.list).map((s) => s.name), ["every-minute"])
          yield* schedules.remove("every-minute")
          yield* TestClock.adjust("3 minutes")
          assert.strictEqual(yield* starts(log), 2)
          assert.deepStrictEqual(yield* schedules.list, [])
          assert.strictEqual((yield* Effect.flip(schedules.remove("every-minute")))._tag, "ScheduleNotFound")
        }))
    }))

  it.effect("a declaration made through another process's service (the same store) starts here at the next sync, and a daemon is kept running", () =>
    Effect.gen(function*() {
      const store = yield* ScheduleStore.makeMemory
      yield* inProcess(store, (log) =>
        Effect.gen(function*() {
          // written to the store directly, as another process's declare does
          yield* store.put({ name: "keeper", kind: "sleep", payload: { seconds: 5 }, trigger: { _tag: "Daemon" }, createdAt: 0 })
          yield* TestClock.adjust(PersistedSchedules.syncInterval)
          yield* settle
          assert.strictEqual(yield* starts(log), 1)
        }))
    }))

  it.effect.prop("an interval that is not a positive whole number of milliseconds is refused, and nothing is stored", {
    millis: Schema.Number
  }, ({ millis }) =>
    Effect.gen(function*() {
      if (Number.isSafeInteger(millis) && millis >= 1) return true
      const store = yield* ScheduleStore.makeMemory
      const error = yield* inProcess(store, () =>
        Effect.flatMap(PersistedSchedules.PersistedSchedules, (schedules) =>
          Effect.flip(schedules.declare({ name: "bad", kind: "sleep", payload: { seconds: 1 }, trigger: { _tag: "Interval", millis } }))))
      assert.strictEqual(error._tag, "InvalidSchedule")
      assert.strictEqual(error._tag === "InvalidSchedule" ? error.reason : undefined, "interval")
      assert.deepStrictEqual(yield* store.list, [])
      return true
    }), { arbitrary: { runs: 30 } })

  it.effect("a bad cron, an unknown kind, a payload the kind refuses or a blank name is refused with its own error, nothing stored", () =>
    Effect.gen(function*() {
      const store = yield* ScheduleStore.makeMemory
      const refusals = yield* inProcess(store, () =>
        Effect.gen(function*() {
          const schedules = yield* PersistedSchedules.PersistedSchedules
          const refused = (declaration: PersistedSchedules.Declaration) =>
            Effect.map(Effect.flip(schedules.declare(declaration)), (error) => error.message)
          return [
            yield* refused({ name: "c", kind: "sleep", payload: { seconds: 1 }, trigger: { _tag: "Cron", cron: "every day" } }),
            yield* refused({ name: "k", kind: "nope", payload: {}, trigger: { _tag: "Interval", millis: 1000 } }),
            yield* refused({ name: "p", kind: "sleep", payload: { seconds: "one" }, trigger: { _tag: "Interval", millis: 1000 } }),
            yield* refused({ name: "  ", kind: "sleep", payload: { seconds: 1 }, trigger: { _tag: "Interval", millis: 1000 } }),
            // parses, but no month has a 30th of February: it would never run
            yield* refused({ name: "never", kind: "sleep", payload: { seconds: 1 }, trigger: { _tag: "Cron", cron: "0 0 30 2 *" } })
          ]
        }))
      // a cron that does not parse is refused with the parser's own words, not as one naming no date
      const unparsed = Cron.parse("every day")
      assert.isTrue(Result.isFailure(unparsed))
      assert.strictEqual(refusals[0], `schedule "c": invalid cron: ${Result.isFailure(unparsed) ? unparsed.failure.message : ""}`)
      assert.match(refusals[1], /no task kind "nope"/)
      assert.match(refusals[2], /invalid payload for task kind "sleep": seconds/)
      assert.match(refusals[3], /invalid name/)
      assert.strictEqual(refusals[4], `schedule "never": invalid cron: it names no date that exists (such as February 30th), so it would never run`)
      assert.deepStrictEqual(yield* store.list, [])
      // February 29th exists (in leap years): declared.
      yield* inProcess(store, () =>
        Effect.flatMap(PersistedSchedules.PersistedSchedules, (schedules) =>
          schedules.declare({ name: "leap", kind: "sleep", payload: { seconds: 1 }, trigger: { _tag: "Cron", cron: "0 12 29 2 *" } })))
      assert.deepStrictEqual((yield* store.list).map((stored) => stored.name), ["leap"])
    }))
})
