/**
 * Stored schedules as they change: a declaration made again unchanged keeps
 * its rhythm, one changed in kind, payload or trigger replaces the running
 * one; several run side by side; a removed name can be declared again; a
 * stored daemon of a failing kind is restarted after 1 s, then 2 s; a
 * declaration that cannot run here, or a store that cannot be read for a
 * while, stops nothing else. Names of 1 to 200 characters and intervals of
 * at least 1 ms are accepted; the errors say what was refused.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Ref, Schema } from "effect"
import { TestClock } from "effect/testing"
import * as PersistedSchedules from "../src/PersistedSchedules.ts"
import * as ScheduleStore from "../src/ScheduleStore.ts"
import * as Task from "../src/Task.ts"
import { TaskStoreError } from "../src/TaskError.ts"
import * as Tasks from "../src/Tasks.ts"
import { AddLive, FailLive, settle, Sleep, sleepLive, supervisor } from "./fixtures.ts"

/** A kind with the payload of `sleep`: a declaration moved to it differs in its kind alone. */
const Nap = Task.define("nap", { payload: Sleep.payload, success: Schema.Void })

/** A process with the `sleep`, `add` and `fail` kinds and the stored schedules over `store`; `body` gets its log of sleep starts. */
const inProcess = <A, E>(
  store: ScheduleStore.ScheduleStore["Service"],
  body: (log: Ref.Ref<ReadonlyArray<string>>) => Effect.Effect<A, E, PersistedSchedules.PersistedSchedules | Tasks.Tasks>
) =>
  Effect.gen(function*() {
    const log = yield* Ref.make<ReadonlyArray<string>>([])
    return yield* body(log).pipe(
      Effect.provide(
        PersistedSchedules.layer.pipe(
          Layer.provideMerge(supervisor(Layer.mergeAll(
            sleepLive(log),
            AddLive,
            FailLive,
            Task.implement(Nap, ({ tag }) => Ref.update(log, (lines) => [...lines, `nap:${tag}`]))
          ))),
          Layer.provideMerge(Layer.succeed(ScheduleStore.ScheduleStore, store))
        )
      )
    )
  })

/** The tags of the sleep tasks started so far, in order. */
const started = (log: Ref.Ref<ReadonlyArray<string>>) =>
  Effect.map(Ref.get(log), (lines) => lines.filter((line) => line.startsWith("start:")).map((line) => line.slice(6)))

/** How many tasks of `kind` were submitted. */
const submitted = (kind: string) =>
  Effect.flatMap(Tasks.Tasks, (tasks) => Effect.map(tasks.list({ kind: [kind] }), (page) => page.items.length))

const every = (millis: number) => ({ _tag: "Interval", millis }) as const

describe("persisted schedules, changed", () => {
  it.effect("declared again unchanged it keeps its rhythm; changed in payload, trigger or kind it is replaced", () =>
    Effect.gen(function*() {
      const store = yield* ScheduleStore.makeMemory
      yield* inProcess(store, (log) =>
        Effect.gen(function*() {
          const schedules = yield* PersistedSchedules.PersistedSchedules
          const declare = (payload: unknown, trigger: ScheduleStore.Trigger, kind = "sleep") =>
            schedules.declare({ name: "s", kind, payload, trigger })
          yield* declare({ seconds: 0, tag: "a" }, every(60_000))
          yield* TestClock.adjust("30 seconds")
          // unchanged: still due at one minute, not at 90 s
          yield* declare({ seconds: 0, tag: "a" }, every(60_000))
          yield* TestClock.adjust("30 seconds")
          yield* settle
          assert.deepStrictEqual(yield* started(log), ["a"])
          // another payload: the old one stops, the new one runs from now
          yield* declare({ seconds: 0, tag: "b" }, every(60_000))
          yield* TestClock.adjust("60 seconds")
          yield* settle
          assert.deepStrictEqual(yield* started(log), ["a", "b"])
          // another trigger
          yield* declare({ seconds: 0, tag: "b" }, every(10_000))
          yield* TestClock.adjust("20 seconds")
          yield* settle
          assert.deepStrictEqual(yield* started(log), ["a", "b", "b", "b"])
          // another kind, same payload and trigger: sleeps stop, naps start
          yield* declare({ seconds: 0, tag: "b" }, every(10_000), "nap")
          yield* TestClock.adjust("30 seconds")
          yield* settle
          assert.deepStrictEqual(yield* started(log), ["a", "b", "b", "b"])
          assert.deepStrictEqual((yield* Ref.get(log)).filter((line) => line.startsWith("nap:")), ["nap:b", "nap:b", "nap:b"])
        }))
    }))

  it.effect("several declarations run side by side, each on its own rhythm, through the syncs", () =>
    Effect.gen(function*() {
      const store = yield* ScheduleStore.makeMemory
      yield* inProcess(store, (log) =>
        Effect.gen(function*() {
          const schedules = yield* PersistedSchedules.PersistedSchedules
          yield* schedules.declare({ name: "a", kind: "sleep", payload: { seconds: 0, tag: "a" }, trigger: every(4_000) })
          yield* TestClock.adjust("2 seconds")
          yield* schedules.declare({ name: "b", kind: "sleep", payload: { seconds: 0, tag: "b" }, trigger: every(4_000) })
          for (let i = 0; i < 10; i++) {
            yield* TestClock.adjust("1 second")
            yield* settle
          }
          // 12 s: a at 4, 8, 12; b at 6, 10
          assert.deepStrictEqual(yield* started(log), ["a", "b", "a", "b", "a"])
        }))
    }))

  it.effect("a removed name can be declared again, and runs", () =>
    Effect.gen(function*() {
      const store = yield* ScheduleStore.makeMemory
      yield* inProcess(store, (log) =>
        Effect.gen(function*() {
          const schedules = yield* PersistedSchedules.PersistedSchedules
          const declaration = { name: "s", kind: "sleep", payload: { seconds: 0, tag: "s" }, trigger: every(1_000) }
          yield* schedules.declare(declaration)
          yield* schedules.remove("s")
          yield* schedules.declare(declaration)
          yield* TestClock.adjust("1 second")
          yield* settle
          assert.deepStrictEqual(yield* started(log), ["s"])
        }))
    }))

  it.effect("a stored daemon of a failing kind is submitted again after 1 s, then after 2 s", () =>
    Effect.gen(function*() {
      const store = yield* ScheduleStore.makeMemory
      yield* inProcess(store, () =>
        Effect.gen(function*() {
          const schedules = yield* PersistedSchedules.PersistedSchedules
          yield* schedules.declare({ name: "d", kind: "fail", payload: { message: "no" }, trigger: { _tag: "Daemon" } })
          yield* settle
          assert.strictEqual(yield* submitted("fail"), 1)
          yield* TestClock.adjust("999 millis")
          yield* settle
          assert.strictEqual(yield* submitted("fail"), 1)
          yield* TestClock.adjust("1 millis")
          yield* settle
          assert.strictEqual(yield* submitted("fail"), 2)
          yield* TestClock.adjust("1999 millis")
          yield* settle
          assert.strictEqual(yield* submitted("fail"), 2)
          yield* TestClock.adjust("1 millis")
          yield* settle
          assert.strictEqual(yield* submitted("fail"), 3)
        }))
    }))

  it.effect("a declaration that cannot run here, or a store unreadable for a while, stops nothing else", () =>
    Effect.gen(function*() {
      const memory = yield* ScheduleStore.makeMemory
      let unreadable = 0
      // Fault injection: the list fails while `unreadable` > 0.
      const store = ScheduleStore.ScheduleStore.of({
        ...memory,
        list: Effect.suspend(() =>
          unreadable-- > 0 ? Effect.fail(new TaskStoreError({ operation: "list", detail: "down" })) : memory.list
        )
      })
      yield* memory.put({ name: "a-foreign", kind: "elsewhere", payload: {}, trigger: every(1_000), createdAt: 0 })
      yield* memory.put({ name: "b-local", kind: "sleep", payload: { seconds: 0, tag: "b" }, trigger: every(1_000), createdAt: 0 })
      unreadable = 1
      yield* inProcess(store, (log) =>
        Effect.gen(function*() {
          // the first read failed: nothing runs until the next sync reads the store
          yield* settle
          assert.deepStrictEqual(yield* started(log), [])
          unreadable = 1
          yield* TestClock.adjust(PersistedSchedules.syncInterval)
          yield* settle
          assert.deepStrictEqual(yield* started(log), [])
          yield* TestClock.adjust(PersistedSchedules.syncInterval)
          yield* settle
          yield* TestClock.adjust("1 second")
          yield* settle
          assert.deepStrictEqual(yield* started(log), ["b"])
        }))
    }))

  it.effect("names of 1 to 200 characters and intervals from 1 ms are accepted; the errors say what was refused", () =>
    Effect.gen(function*() {
      const store = yield* ScheduleStore.makeMemory
      yield* inProcess(store, () =>
        Effect.gen(function*() {
          const schedules = yield* PersistedSchedules.PersistedSchedules
          const declaration = (name: string, millis = 60_000) => ({ name, kind: "sleep", payload: { seconds: 0 }, trigger: every(millis) })
          yield* schedules.declare(declaration("x".repeat(200)))
          yield* schedules.declare(declaration("one-ms", 1))
          yield* schedules.remove("one-ms")
          const long = yield* Effect.flip(schedules.declare(declaration("y".repeat(201))))
          assert.strictEqual(long.message, `schedule "${"y".repeat(201)}": invalid name: a name is 1 to 200 characters, not blank`)
          const zero = yield* Effect.flip(schedules.declare(declaration("zero", 0)))
          assert.strictEqual(zero.message, `schedule "zero": invalid interval: 0 is not a positive whole number of milliseconds`)
          assert.strictEqual(
            (yield* Effect.flip(schedules.remove("missing"))).message,
            `no schedule named "missing"`
          )
          assert.deepStrictEqual((yield* schedules.list).map((s) => s.name), ["x".repeat(200)])
        }))
    }))

  it.effect("a name holding a control character (C0, DEL, C1) is refused for its name, nothing stored; one beside them is accepted", () =>
    Effect.gen(function*() {
      const store = yield* ScheduleStore.makeMemory
      yield* inProcess(store, () =>
        Effect.gen(function*() {
          const schedules = yield* PersistedSchedules.PersistedSchedules
          const declaration = (name: string) => ({ name, kind: "sleep", payload: { seconds: 0 }, trigger: every(60_000) })
          for (const name of ["a\u0000", "\u0000", "a\nb", "\u001fz", "z\u007f", "\u0080", "x\u009f"]) {
            const refused = yield* Effect.flip(schedules.declare(declaration(name)))
            assert.strictEqual(
              refused.message,
              `schedule "${name}": invalid name: a name holds no control character (U+0000 to U+001F, U+007F to U+009F)`
            )
          }
          assert.deepStrictEqual(yield* store.list, [])
          yield* schedules.declare(declaration(" ~\u00a0é"))
          assert.deepStrictEqual((yield* store.list).map((s) => s.name), [" ~\u00a0é"])
        }))
    }))

  it.effect("the memory schedule store lists by name", () =>
    Effect.gen(function*() {
      const store = yield* ScheduleStore.makeMemory
      for (const name of ["m", "b", "z", "a", "q"]) yield* store.put({ name, kind: "k", payload: null, trigger: { _tag: "Daemon" }, createdAt: 0 })
      assert.deepStrictEqual((yield* store.list).map((s) => s.name), ["a", "b", "m", "q", "z"])
      assert.isTrue(yield* store.remove("m"))
      assert.isFalse(yield* store.remove("m"))
    }))
})

describe("persisted schedules, as the store holds them", () => {
  it.effect("a cron declaration runs on its boundaries", () =>
    Effect.gen(function*() {
      const store = yield* ScheduleStore.makeMemory
      yield* inProcess(store, (log) =>
        Effect.gen(function*() {
          const schedules = yield* PersistedSchedules.PersistedSchedules
          yield* schedules.declare({ name: "c", kind: "sleep", payload: { seconds: 0, tag: "c" }, trigger: { _tag: "Cron", cron: "*/10 * * * *" } })
          yield* TestClock.adjust("9 minutes")
          yield* settle
          assert.deepStrictEqual(yield* started(log), [])
          yield* TestClock.adjust("1 minute")
          yield* settle
          assert.deepStrictEqual(yield* started(log), ["c"])
          yield* TestClock.adjust("10 minutes")
          yield* settle
          assert.deepStrictEqual(yield* started(log), ["c", "c"])
        }))
    }))

  it.effect("a stored declaration whose trigger is not valid (written by another version) is not started; the others are", () =>
    Effect.gen(function*() {
      const store = yield* ScheduleStore.makeMemory
      yield* store.put({ name: "bad", kind: "sleep", payload: { seconds: 0, tag: "bad" }, trigger: every(2.5), createdAt: 0 })
      yield* store.put({ name: "good", kind: "sleep", payload: { seconds: 0, tag: "good" }, trigger: every(1_000), createdAt: 0 })
      yield* inProcess(store, (log) =>
        Effect.gen(function*() {
          yield* TestClock.adjust("1 second")
          yield* settle
          assert.deepStrictEqual(yield* started(log), ["good"])
        }))
    }))

  it.effect("a blank name is refused for its name first, whatever its kind and payload", () =>
    Effect.gen(function*() {
      const store = yield* ScheduleStore.makeMemory
      yield* inProcess(store, () =>
        Effect.gen(function*() {
          const schedules = yield* PersistedSchedules.PersistedSchedules
          const unknownKind = yield* Effect.flip(schedules.declare({ name: " ", kind: "nope", payload: {}, trigger: every(1_000) }))
          assert.strictEqual(unknownKind._tag, "InvalidSchedule")
          const badPayload = yield* Effect.flip(schedules.declare({ name: "", kind: "sleep", payload: { seconds: "x" }, trigger: every(1_000) }))
          assert.strictEqual(badPayload._tag, "InvalidSchedule")
          assert.deepStrictEqual(yield* store.list, [])
        }))
    }))
})
