import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Option, Ref, Schema, Scope, Stream } from "effect"
import { TestClock } from "effect/testing"
import * as Task from "../src/Task.ts"
import * as TaskStore from "../src/TaskStore.ts"
import { settle, startOn } from "./fixtures.ts"

/** A memory store whose writes take 10 ms (of the TestClock), as a database's would. */
const slowStore = Effect.map(TaskStore.makeMemory, (store) =>
  TaskStore.TaskStore.of({
    ...store,
    insert: (info) => Effect.andThen(Effect.sleep("10 millis"), store.insert(info)),
    update: (info) => Effect.andThen(Effect.sleep("10 millis"), store.update(info))
  }))

/** Waits forever; its finalizer takes `finalizerMillis`. */
const Wait = Task.define("wait", {
  payload: Schema.Struct({ key: Schema.String, finalizerMillis: Schema.Int }),
  success: Schema.Void,
  policy: { key: (p: { key: string }) => p.key, onRestart: "resume" }
})
const WaitLive = Task.implement(Wait, ({ finalizerMillis }) =>
  Effect.never.pipe(Effect.onInterrupt(() => Effect.sleep(`${finalizerMillis} millis`))))

const start = (store: TaskStore.TaskStore["Service"]) => startOn(store, WaitLive, { shutdownGracePeriod: 0 })

/** A supervisor over the slow store with one `Wait` submission (of id `id`, if given) forked, its insert under way. */
const submittingSlowly = (id?: string) =>
  Effect.gen(function*() {
    const store = yield* slowStore
    const { scope, tasks } = yield* start(store)
    const submitting = yield* Effect.forkChild(
      tasks.submit(Wait, { key: "a", finalizerMillis: 0 }, id === undefined ? undefined : { id })
    )
    yield* settle
    return { store, scope, tasks, submitting }
  })

describe("races with shutdown and interruption", () => {
  it.effect("a submission still being recorded when shutdown begins stays pending and its waiters wake", () =>
    Effect.gen(function*() {
      const { scope, store, submitting } = yield* submittingSlowly()
      const closing = yield* Effect.forkChild(Scope.close(scope, Exit.void))
      yield* settle
      // The insert, then the write that stores the task back as pending (it was inserted running, to start at once).
      yield* TestClock.adjust("10 millis")
      yield* settle
      yield* TestClock.adjust("10 millis")
      const handle = yield* Fiber.join(submitting)
      yield* Fiber.join(closing)
      assert.isTrue(Exit.hasInterrupts(yield* handle.await))
      assert.strictEqual(Option.getOrThrow(yield* store.get(handle.id)).status, "pending")
    }))

  it.effect("an interrupt while the submission is being recorded means the task never starts", () =>
    Effect.gen(function*() {
      const { scope, store, submitting, tasks } = yield* submittingSlowly()
      // a second submission joins the first while the store is still recording it
      const joined = yield* tasks.submit(Wait, { key: "a", finalizerMillis: 0 }, { onConflict: "join" })
      const interrupting = yield* Effect.forkChild(joined.interrupt)
      yield* settle
      yield* TestClock.adjust("20 millis")
      const handle = yield* Fiber.join(submitting)
      yield* Fiber.join(interrupting)
      assert.strictEqual(handle.id, joined.id)
      const info = Option.getOrThrow(yield* store.get(handle.id))
      assert.strictEqual(info.status, "interrupted")
      assert.isNull(info.startedAt)
      yield* Scope.close(scope, Exit.void)
    }))

  it.effect("a user's interrupt is not turned into a resumable shutdown stop", () =>
    Effect.gen(function*() {
      const store = yield* TaskStore.makeMemory
      const { scope, tasks } = yield* start(store)
      const handle = yield* tasks.submit(Wait, { key: "a", finalizerMillis: 100 })
      yield* settle
      const interrupting = yield* Effect.forkChild(handle.interrupt)
      yield* settle
      const closing = yield* Effect.forkChild(Scope.close(scope, Exit.void))
      yield* settle
      yield* TestClock.adjust("100 millis")
      yield* Fiber.join(interrupting)
      yield* Fiber.join(closing)
      assert.strictEqual(Option.getOrThrow(yield* store.get(handle.id)).status, "interrupted")
    }))

  it.effect("followers of a task and of all tasks see their streams end at shutdown", () =>
    Effect.gen(function*() {
      const store = yield* TaskStore.makeMemory
      const { scope, tasks } = yield* start(store)
      const handle = yield* tasks.submit(Wait, { key: "a", finalizerMillis: 0 })
      const one = yield* Effect.forkChild(Stream.runCollect(handle.events))
      const all = yield* Effect.forkChild(Stream.runCollect(tasks.changes))
      yield* settle
      yield* Scope.close(scope, Exit.void)
      const seen = yield* Fiber.join(one)
      assert.strictEqual(seen[seen.length - 1].status, "pending") // left for the next process to resume
      const everything = yield* Fiber.join(all)
      assert.strictEqual(everything[everything.length - 1].id, handle.id)
    }))

  it.effect("concurrent rejecting submissions on one key admit exactly one, with a store that takes its time", () =>
    Effect.gen(function*() {
      const store = yield* slowStore
      const { scope, tasks } = yield* start(store)
      const submitting = yield* Effect.forkChild(
        Effect.forEach(
          Array.from({ length: 10 }, () => 0),
          () => Effect.result(tasks.submit(Wait, { key: "k", finalizerMillis: 0 }, { onConflict: "reject" })),
          { concurrency: "unbounded" }
        )
      )
      yield* settle
      yield* TestClock.adjust("10 millis")
      const results = yield* Fiber.join(submitting)
      assert.strictEqual(results.filter((r) => r._tag === "Success").length, 1)
      const closing = yield* Effect.forkChild(Scope.close(scope, Exit.void))
      yield* settle
      yield* TestClock.adjust("100 millis")
      yield* Fiber.join(closing)
    }))
})

describe("a slow insert", () => {
  /** Completes at once, under a heartbeat timeout of 3 seconds. */
  const Quick = Task.define("quick", {
    payload: Schema.Struct({ n: Schema.Int }),
    success: Schema.Int,
    policy: { heartbeatTimeout: "3 seconds" }
  })
  const QuickLive = Task.implement(Quick, ({ n }) => Effect.succeed(n))

  it.effect("is no silence: a task recorded running at once is watched only once it starts", () =>
    Effect.gen(function*() {
      const memory = yield* TaskStore.makeMemory
      // Its insert takes 5 s (of the TestClock): longer than the heartbeat timeout, the watchdog checking every second.
      const store = TaskStore.TaskStore.of({ ...memory, insert: (info) => Effect.andThen(Effect.sleep("5 seconds"), memory.insert(info)) })
      const { scope, tasks } = yield* startOn(store, QuickLive, { shutdownGracePeriod: 0, heartbeatCheckInterval: "1 second" })
      const submitting = yield* Effect.forkChild(tasks.submit(Quick, { n: 7 }))
      yield* settle
      for (let i = 0; i < 5; i++) {
        yield* TestClock.adjust("1 second")
        yield* settle
      }
      const handle = yield* Fiber.join(submitting)
      assert.deepStrictEqual(yield* handle.await, Exit.succeed(7))
      const info = Option.getOrThrow(yield* store.get(handle.id))
      assert.deepStrictEqual([info.status, info.result], ["completed", 7])
      yield* Scope.close(scope, Exit.void)
    }))
})

describe("a slow insert, then a quiet handler", () => {
  /** Sleeps `millis` (of the TestClock) without a heartbeat, under a heartbeat timeout of 3 seconds. */
  const Quiet = Task.define("quiet", {
    payload: Schema.Struct({ millis: Schema.Int }),
    success: Schema.Int,
    policy: { heartbeatTimeout: "3 seconds" }
  })
  const QuietLive = Task.implement(Quiet, ({ millis }) => Effect.as(Effect.sleep(`${millis} millis`), millis))

  it.effect("counts the heartbeat timeout from the attempt's start, not from the submission's (the insert took 5 s)", () =>
    Effect.gen(function*() {
      const memory = yield* TaskStore.makeMemory
      const store = TaskStore.TaskStore.of({ ...memory, insert: (info) => Effect.andThen(Effect.sleep("5 seconds"), memory.insert(info)) })
      const { scope, tasks } = yield* startOn(store, QuietLive, { shutdownGracePeriod: 0, heartbeatCheckInterval: "1 second" })
      const submitting = yield* Effect.forkChild(tasks.submit(Quiet, { millis: 2_000 }))
      yield* settle
      // 5 s of insert, then 2 s of a handler that never beats: 2 s of silence, under the 3-s limit.
      for (let i = 0; i < 8; i++) {
        yield* TestClock.adjust("1 second")
        yield* settle
      }
      const handle = yield* Fiber.join(submitting)
      assert.deepStrictEqual(yield* handle.await, Exit.succeed(2_000))
      const info = Option.getOrThrow(yield* store.get(handle.id))
      assert.deepStrictEqual([info.status, info.result], ["completed", 2_000])
      yield* Scope.close(scope, Exit.void)
    }))
})

describe("handler scope", () => {
  it.effect("a handler's finalizers run when its attempt ends, not when the supervisor closes", () =>
    Effect.gen(function*() {
      const finalized = yield* Ref.make(0)
      const Open = Task.define("open", { payload: Schema.Struct({}), success: Schema.Void })
      const live = Task.implement(Open, () => Effect.addFinalizer(() => Ref.update(finalized, (n) => n + 1)))
      const { scope, tasks } = yield* startOn(yield* TaskStore.makeMemory, live)
      for (let i = 0; i < 3; i++) yield* tasks.run(Open, {})
      assert.strictEqual(yield* Ref.get(finalized), 3)
      yield* Scope.close(scope, Exit.void)
    }))
})

describe("what readers see of a task still being recorded", () => {
  it.effect("get and watch show it pending until it starts, and pending still once shutdown kept it from starting", () =>
    Effect.gen(function*() {
      const id = "recorded-slowly"
      const { scope, store, submitting, tasks } = yield* submittingSlowly(id)
      // The insert (10 ms) is under way: the task may start once it is committed, or never.
      const during = yield* tasks.get(id)
      assert.deepStrictEqual([during.status, during.startedAt, during.heartbeatAt], ["pending", null, null])
      const seen = yield* Effect.forkChild(Stream.runCollect(Stream.map(tasks.watch(id), (info) => info.status)))
      yield* settle
      // Shutdown begins before the insert commits: the task never starts and is stored back pending.
      const closing = yield* Effect.forkChild(Scope.close(scope, Exit.void))
      yield* settle
      yield* TestClock.adjust("10 millis")
      yield* settle
      yield* TestClock.adjust("10 millis")
      yield* Fiber.join(submitting)
      yield* Fiber.join(closing)
      const statuses = yield* Fiber.join(seen)
      // Never running: it never started (before, the watch saw running, then pending).
      assert.isFalse(statuses.includes("running"), `watch saw ${statuses.join(" → ")}`)
      assert.strictEqual(statuses[0], "pending")
      assert.strictEqual(Option.getOrThrow(yield* store.get(id)).status, "pending")
    }))

  it.effect("a watch opened during the insert of a task that then starts sees pending, then running, never back", () =>
    Effect.gen(function*() {
      const id = "recorded-then-started"
      const { scope, submitting, tasks } = yield* submittingSlowly(id)
      const seen = yield* Effect.forkChild(Stream.runCollect(Stream.map(tasks.watch(id), (info) => info.status)))
      yield* settle
      yield* TestClock.adjust("10 millis")
      const handle = yield* Fiber.join(submitting)
      assert.strictEqual((yield* tasks.get(id)).status, "running")
      const interrupting = yield* Effect.forkChild(handle.interrupt)
      yield* settle
      yield* TestClock.adjust("10 millis")
      yield* Fiber.join(interrupting)
      const statuses = Array.from(yield* Fiber.join(seen))
      const firstRunning = statuses.indexOf("running")
      assert.isTrue(firstRunning > 0 && statuses.slice(0, firstRunning).every((s) => s === "pending"), `watch saw ${statuses.join(" → ")}`)
      assert.isFalse(statuses.slice(firstRunning).includes("pending"), `watch saw ${statuses.join(" → ")}`)
      assert.strictEqual(statuses.at(-1), "interrupted")
      yield* Scope.close(scope, Exit.void)
    }))
})
