import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Layer, Option, Ref, Schema, Stream } from "effect"
import * as Task from "../src/Task.ts"
import { TestClock } from "effect/testing"
import { Tasks } from "../src/Tasks.ts"
import { TaskStore } from "../src/TaskStore.ts"
import { Add, AddLive, Boom, Fail, FailLive, Gate, gateLive, settle, Sleep, sleepLive, supervisor } from "./fixtures.ts"
import { TaskContext } from "../src/TaskContext.ts"
import type { TasksConfig } from "../src/TasksConfig.ts"

const withBasics = <A, E, R>(body: Effect.Effect<A, E, R>, options: Partial<TasksConfig["Service"]> = {}) =>
  Effect.gen(function*() {
    const log = yield* Ref.make<ReadonlyArray<string>>([])
    return yield* body.pipe(Effect.provide(supervisor(Layer.mergeAll(AddLive, FailLive, sleepLive(log)), options)))
  })

/**
 * For tests that move the clock by hours or days to reach a retention: the heartbeat watchdog, which none of their
 * tasks has a timeout for, checks once a day instead of every 10 s. Each check is a timer the clock must fire on the
 * way (8,280 in 23 hours, six in seven of all the wake-ups), and their cost made these tests the slowest of the file.
 */
const daysLater: Partial<TasksConfig["Service"]> = { heartbeatCheckInterval: "1 day" }

describe("Tasks", () => {
  it.effect("submit returns a handle at once and await gives the typed result", () =>
    withBasics(Effect.gen(function*() {
      const tasks = yield* Tasks
      const handle = yield* tasks.submit(Sleep, { seconds: 2 })
      assert.strictEqual((yield* handle.info).kind, "sleep")
      const waiting = yield* Effect.forkChild(handle.await)
      yield* TestClock.adjust("2 seconds")
      const exit = yield* Fiber.join(waiting)
      assert.deepStrictEqual(exit, Exit.succeed(2))
      const info = yield* handle.info
      assert.strictEqual(info.status, "completed")
      assert.strictEqual(info.result, 2)
      assert.strictEqual(info.progress, 100)
      assert.strictEqual(info.attempt, 1)
      assert.strictEqual(info.startedAt, 0)
      assert.strictEqual(info.finishedAt, 2000)
      assert.strictEqual(info.expiresAt, 2000 + 24 * 3600 * 1000)
    })))

  it.effect("run submits and waits; a typed failure is the kind's error", () =>
    withBasics(Effect.gen(function*() {
      const tasks = yield* Tasks
      assert.strictEqual(yield* tasks.run(Add, { a: 2, b: 40 }), 42)
      const error = yield* Effect.flip(tasks.run(Fail, { message: "no luck" }))
      assert.instanceOf(error, Boom)
      assert.strictEqual((error as Boom).message, "no luck")
    })))

  it.effect("a failed task's record carries the encoded error and reason", () =>
    withBasics(Effect.gen(function*() {
      const tasks = yield* Tasks
      const handle = yield* tasks.submit(Fail, { message: "bad" })
      const exit = yield* handle.await
      assert.deepStrictEqual(exit, Exit.fail(new Boom({ message: "bad" })))
      const info = yield* handle.info
      assert.strictEqual(info.status, "failed")
      assert.strictEqual(info.reason, "error")
      assert.deepStrictEqual(info.error, { _tag: "Boom", message: "bad" })
    })))

  it.effect("a payload that fails its Schema is rejected naming the field, and nothing is recorded", () =>
    withBasics(Effect.gen(function*() {
      const tasks = yield* Tasks
      const error = yield* Effect.flip(tasks.submitEncoded("add", { a: 1, b: "two" }))
      assert.strictEqual(error._tag, "InvalidPayload")
      if (error._tag !== "InvalidPayload") return
      assert.deepStrictEqual(error.issues.map((i) => i.path), [["b"]])
      assert.include(error.message, "b:")
      const typed = yield* Effect.flip(tasks.submit(Add, { a: 1 } as any))
      assert.strictEqual(typed._tag, "InvalidPayload")
      const page = yield* tasks.list({})
      assert.strictEqual(page.items.length, 0)
    })))

  it.effect("an unknown kind and an unknown id give typed errors", () =>
    withBasics(Effect.gen(function*() {
      const tasks = yield* Tasks
      assert.strictEqual((yield* Effect.flip(tasks.submitEncoded("nope", {})))._tag, "UnknownTaskKind")
      for (const op of [tasks.get("x"), tasks.interrupt("x"), tasks.delete("x"), tasks.awaitInfo("x")]) {
        assert.strictEqual((yield* Effect.flip(op))._tag, "TaskNotFound")
      }
      assert.strictEqual((yield* Effect.flip(tasks.handle("x")))._tag, "TaskNotFound")
    })))

  it.effect("events stream status and progress changes and ends at the terminal state", () =>
    withBasics(Effect.gen(function*() {
      const tasks = yield* Tasks
      const handle = yield* tasks.submit(Sleep, { seconds: 3 })
      const collected = yield* Effect.forkChild(Stream.runCollect(handle.events))
      yield* settle
      yield* TestClock.adjust("3 seconds")
      const events = yield* Fiber.join(collected)
      const seen = events.map((info) => `${info.status}:${Math.round(info.progress)}`)
      assert.deepStrictEqual(seen.slice(-4), ["running:33", "running:67", "running:100", "completed:100"])
      assert.strictEqual(seen[0].split(":")[0], "running")
    })))

  it.effect("records hold plain JSON: dates and bigints are encoded, and decoded again on await", () =>
    Effect.gen(function*() {
      const Stamp = Task.define("stamp", {
        payload: Schema.Struct({ at: Schema.Date }),
        success: Schema.Struct({ at: Schema.Date, wei: Schema.BigInt })
      })
      const live = Task.implement(Stamp, ({ at }) => Effect.succeed({ at, wei: 10n ** 18n }))
      yield* Effect.gen(function*() {
        const tasks = yield* Tasks
        const handle = yield* tasks.submit(Stamp, { at: new Date(0) })
        const result = yield* handle.join
        assert.instanceOf(result.at, Date)
        assert.strictEqual(result.wei, 10n ** 18n)
        const info = yield* handle.info
        assert.deepStrictEqual(info.payload, { at: "1970-01-01T00:00:00.000Z" })
        assert.deepStrictEqual(info.result, { at: "1970-01-01T00:00:00.000Z", wei: "1000000000000000000" })
        assert.deepStrictEqual(JSON.parse(JSON.stringify(info)), info)
        const remote = yield* tasks.submitEncoded("stamp", { at: "2020-01-01T00:00:00.000Z" })
        assert.deepStrictEqual(yield* remote.join, { at: new Date("2020-01-01T00:00:00.000Z"), wei: 10n ** 18n })
      }).pipe(Effect.provide(supervisor(live)))
    }))

  it.effect("progress may carry a typed detail, kept encoded in the record until the next one", () =>
    Effect.gen(function*() {
      const Sync = Task.define("sync", {
        payload: Schema.Struct({}),
        success: Schema.Void,
        detail: Schema.Struct({ block: Schema.BigInt, events: Schema.Int })
      })
      const live = Task.implement(Sync, () =>
        Effect.gen(function*() {
          yield* Task.reportProgress(Sync, 50, "half", { block: 7n, events: 3 })
          yield* Effect.sleep("1 second")
          const context = yield* TaskContext
          yield* context.progress(60)
        }))
      yield* Effect.gen(function*() {
        const tasks = yield* Tasks
        const handle = yield* tasks.submit(Sync, {})
        const collecting = yield* Effect.forkChild(Stream.runCollect(handle.events))
        yield* settle
        yield* TestClock.adjust("1 second")
        const events = yield* Fiber.join(collecting)
        assert.deepStrictEqual(events.map((info) => [info.progress, info.message, info.detail]), [
          [50, "half", { block: "7", events: 3 }],
          [60, "half", { block: "7", events: 3 }],
          [60, "half", { block: "7", events: 3 }]
        ])
      }).pipe(Effect.provide(supervisor(live)))
    }))

  it.effect("events of a finished task give its final record once", () =>
    withBasics(Effect.gen(function*() {
      const tasks = yield* Tasks
      const handle = yield* tasks.submit(Add, { a: 1, b: 1 })
      yield* handle.await
      const events = yield* Stream.runCollect(handle.events)
      assert.deepStrictEqual(events.map((info) => info.status), ["completed"])
    })))

  it.effect("interrupting a running task runs its finalizers and records it interrupted", () =>
    Effect.gen(function*() {
      const log = yield* Ref.make<ReadonlyArray<string>>([])
      yield* Effect.gen(function*() {
        const tasks = yield* Tasks
        const handle = yield* tasks.submit(Sleep, { seconds: 100, tag: "long" })
        yield* settle
        yield* TestClock.adjust("5 seconds")
        yield* handle.interrupt
        assert.deepStrictEqual(yield* Ref.get(log), ["start:long", "finalized:long"])
        const info = yield* handle.info
        assert.strictEqual(info.status, "interrupted")
        assert.strictEqual(info.progress, 5)
        assert.isTrue(Exit.hasInterrupts(yield* handle.await))
      }).pipe(Effect.provide(supervisor(sleepLive(log))))
    }))

  it.effect("interrupting a pending task means it never starts", () =>
    Effect.gen(function*() {
      const gates = yield* gateLive
      yield* Effect.gen(function*() {
        const tasks = yield* Tasks
        const first = yield* tasks.submit(Gate, { id: "a" })
        const second = yield* tasks.submit(Gate, { id: "b" })
        yield* settle
        assert.strictEqual(yield* second.status, "pending")
        yield* second.interrupt
        assert.strictEqual(yield* second.status, "interrupted")
        assert.isNull((yield* second.info).startedAt)
        yield* gates.open("a")
        assert.strictEqual(yield* first.join, "a")
      }).pipe(Effect.provide(supervisor(gates.layer, { maxWorkers: 1 })))
    }))

  it.effect("a handle from an id awaits the result, typed when given the kind", () =>
    withBasics(Effect.gen(function*() {
      const tasks = yield* Tasks
      const submitted = yield* tasks.submit(Add, { a: 5, b: 5 })
      const handle = yield* tasks.handle(submitted.id)
      assert.strictEqual(handle.kind, "add")
      assert.deepStrictEqual(yield* handle.await, Exit.succeed(10))
      const typed = yield* tasks.handle(submitted.id, Add)
      const sum: number = yield* typed.join
      assert.strictEqual(sum, 10)
      assert.strictEqual((yield* Effect.flip(tasks.handle(submitted.id, Fail)))._tag, "TaskNotFound")
    })))

  it.effect("list filters and paginates through the store", () =>
    withBasics(Effect.gen(function*() {
      const tasks = yield* Tasks
      for (let i = 0; i < 5; i++) yield* tasks.run(Add, { a: i, b: 0 })
      yield* Effect.ignore(tasks.run(Fail, { message: "x" }))
      const failed = yield* tasks.list({ status: ["failed"] })
      assert.strictEqual(failed.items.length, 1)
      const first = yield* tasks.list({ kind: ["add"], limit: 3 })
      assert.deepStrictEqual(first.items.map((i) => i.payload), [{ a: 4, b: 0 }, { a: 3, b: 0 }, { a: 2, b: 0 }])
      const second = yield* tasks.list({ kind: ["add"], limit: 3, cursor: first.nextCursor! })
      assert.deepStrictEqual(second.items.map((i) => i.payload), [{ a: 1, b: 0 }, { a: 0, b: 0 }])
      assert.isNull(second.nextCursor)
    })))

  it.effect("delete interrupts an unfinished task and removes its record", () =>
    Effect.gen(function*() {
      const log = yield* Ref.make<ReadonlyArray<string>>([])
      yield* Effect.gen(function*() {
        const tasks = yield* Tasks
        const handle = yield* tasks.submit(Sleep, { seconds: 100, tag: "gone" })
        yield* settle
        yield* tasks.delete(handle.id)
        assert.deepStrictEqual(yield* Ref.get(log), ["start:gone", "finalized:gone"])
        assert.strictEqual((yield* Effect.flip(tasks.get(handle.id)))._tag, "TaskNotFound")
      }).pipe(Effect.provide(supervisor(sleepLive(log))))
    }))

  it.effect("purge removes finished records by age and status", () =>
    withBasics(Effect.gen(function*() {
      const tasks = yield* Tasks
      const old = yield* tasks.submit(Add, { a: 1, b: 1 })
      yield* old.await
      yield* TestClock.adjust("1 hour")
      const recent = yield* tasks.submit(Add, { a: 2, b: 2 })
      yield* recent.await
      assert.strictEqual(yield* tasks.purge({ finishedBefore: 30 * 60 * 1000 }), 1)
      assert.strictEqual((yield* Effect.flip(tasks.get(old.id)))._tag, "TaskNotFound")
      assert.strictEqual((yield* tasks.get(recent.id)).status, "completed")
      assert.strictEqual(yield* tasks.purge({ status: ["failed"] }), 0)
    }), daysLater))

  it.effect("the retention sweeper purges finished records after their retention", () =>
    withBasics(Effect.gen(function*() {
      const tasks = yield* Tasks
      const store = yield* TaskStore
      const handle = yield* tasks.submit(Add, { a: 1, b: 1 })
      yield* handle.await
      yield* TestClock.adjust("23 hours")
      assert.isTrue(Option.isSome(yield* store.get(handle.id)))
      yield* TestClock.adjust("1 hour")
      yield* TestClock.adjust("1 minute")
      assert.isTrue(Option.isNone(yield* store.get(handle.id)))
    }), daysLater))

  it.effect("changes of all tasks are published to watchers as records", () =>
    withBasics(Effect.gen(function*() {
      const tasks = yield* Tasks
      const watcher = yield* Effect.forkChild(
        tasks.changes.pipe(Stream.filter((info) => info.status === "completed"), Stream.take(2), Stream.runCollect)
      )
      yield* settle
      yield* tasks.run(Add, { a: 1, b: 2 })
      yield* tasks.run(Add, { a: 3, b: 4 })
      const completed = yield* Fiber.join(watcher)
      assert.deepStrictEqual(completed.map((info) => info.result), [3, 7])
    })))

  it.effect("task events tell submission, each start, progress and the outcome by tag", () =>
    withBasics(Effect.gen(function*() {
      const tasks = yield* Tasks
      const watcher = yield* Effect.forkChild(
        tasks.events.pipe(Stream.takeUntil((event) => event._tag === "Finished"), Stream.runCollect)
      )
      yield* settle
      const handle = yield* tasks.submit(Sleep, { seconds: 2 })
      yield* TestClock.adjust("2 seconds")
      yield* handle.await
      const events = yield* Fiber.join(watcher)
      assert.deepStrictEqual(events.map((event) => [event._tag, event.info.status, event.info.progress]), [
        ["Submitted", "pending", 0],
        ["Started", "running", 0],
        ["Progressed", "running", 50],
        ["Progressed", "running", 100],
        ["Finished", "completed", 100]
      ])
      assert.isTrue(events.every((event) => event.info.id === handle.id))
    })))

  it.effect("deleting a task tells the event streams once (Deleted, with its record), even when two deletions race", () =>
    withBasics(Effect.gen(function*() {
      const tasks = yield* Tasks
      const events = yield* Effect.forkChild(
        tasks.events.pipe(Stream.filter((event) => event._tag === "Deleted"), Stream.take(2), Stream.runCollect)
      )
      const changes = yield* Effect.forkChild(
        tasks.changesAndDeletions.pipe(Stream.takeUntil((item) => "_tag" in item), Stream.runCollect)
      )
      yield* settle
      const finished = yield* tasks.submit(Sleep, { seconds: 1 })
      yield* TestClock.adjust("1 second")
      yield* finished.await
      const running = yield* tasks.submit(Sleep, { seconds: 60 })
      yield* settle
      yield* Effect.all([tasks.delete(finished.id), tasks.delete(finished.id)], { concurrency: 2, mode: "result" })
      yield* tasks.delete(running.id)
      const deleted = yield* Fiber.join(events)
      assert.deepStrictEqual(deleted.map((event) => [event._tag, event.info.id, event.info.status]), [
        ["Deleted", finished.id, "completed"],
        ["Deleted", running.id, "interrupted"]
      ])
      const followed = yield* Fiber.join(changes)
      const ofFinished = followed.flatMap((item) =>
        "_tag" in item ? [`${item._tag} ${item.info.id}`] : item.id === finished.id ? [item.status] : []
      )
      assert.deepStrictEqual(ofFinished.slice(-2), ["completed", `Deleted ${finished.id}`], "the deletion follows the last change")
    })))

  it.effect("a purge tells the event streams of each record it deletes, and so does the retention sweep", () =>
    withBasics(Effect.gen(function*() {
      const tasks = yield* Tasks
      const events = yield* Effect.forkChild(
        tasks.events.pipe(Stream.filter((event) => event._tag === "Deleted"), Stream.take(3), Stream.runCollect)
      )
      yield* settle
      const first = yield* tasks.submit(Sleep, { seconds: 1 })
      const second = yield* tasks.submit(Sleep, { seconds: 1 })
      const kept = yield* tasks.submit(Sleep, { seconds: 60 })
      yield* TestClock.adjust("1 second")
      yield* first.await
      yield* second.await
      assert.strictEqual(yield* tasks.purge({ status: ["completed"] }), 2)
      // nothing left to purge: no event
      assert.strictEqual(yield* tasks.purge({ status: ["completed"] }), 0)
      yield* tasks.interrupt(kept.id)
      // past the interrupted record's retention, the sweeper purges it and tells
      yield* TestClock.adjust("2 days")
      yield* settle
      // a third deletion never told fails here rather than leaving the join waiting to the test's time bound
      assert.isDefined(events.pollUnsafe(), "the streams were told fewer than 3 deletions")
      const deleted = yield* Fiber.join(events)
      assert.sameDeepMembers(deleted.map((event) => [event.info.id, event.info.status]), [
        [first.id, "completed"],
        [second.id, "completed"],
        [kept.id, "interrupted"]
      ])
      // when the sweep runs is the test above's: here, what it tells (an hourly sweep: 48 wake-ups in two days, not 2,880)
    }), { ...daysLater, retentionSweepInterval: "1 hour" }))

  it.effect("stats count pending and running tasks", () =>
    Effect.gen(function*() {
      const gates = yield* gateLive
      yield* Effect.gen(function*() {
        const tasks = yield* Tasks
        yield* tasks.submit(Gate, { id: "a" })
        yield* tasks.submit(Gate, { id: "b" })
        yield* tasks.submit(Gate, { id: "c" })
        yield* settle
        const stats = yield* tasks.stats
        assert.strictEqual(stats.running, 2)
        assert.strictEqual(stats.pending, 1)
        assert.deepStrictEqual(stats.runningByKind, { gate: 2 })
      }).pipe(Effect.provide(supervisor(gates.layer, { maxWorkers: 2 })))
    }))
})
