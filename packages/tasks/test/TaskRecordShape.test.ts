/**
 * What the lean shape of a live task keeps of its semantics: one record object per state change (a heartbeat makes
 * none, it is kept beside the record until the next record is made) and a scope per attempt in the task's context.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Option, Ref, Schedule, Schema, Scope } from "effect"
import { TestClock } from "effect/testing"
import * as Task from "../src/Task.ts"
import * as TaskStore from "../src/TaskStore.ts"
import { advance, settle, startOn } from "./fixtures.ts"

/** Beats at 2 s, then runs silent for `silentSeconds` more and returns. */
const Beats = Task.define("beats", {
  payload: Schema.Struct({ silentSeconds: Schema.Int }),
  success: Schema.Void,
  policy: { heartbeatTimeout: "3 seconds" }
})
const BeatsLive = Task.implement(Beats, ({ silentSeconds }, context) =>
  Effect.gen(function*() {
    yield* Effect.sleep("2 seconds")
    yield* context.heartbeat
    yield* Effect.sleep(`${silentSeconds} seconds`)
  }))

/** Beats every 2 s, `beats` times, then returns. */
const Steady = Task.define("steady", {
  payload: Schema.Struct({ beats: Schema.Int }),
  success: Schema.Void,
  policy: { heartbeatTimeout: "3 seconds" }
})
const SteadyLive = Task.implement(Steady, ({ beats }, context) =>
  Effect.gen(function*() {
    for (let i = 0; i < beats; i++) {
      yield* Effect.sleep("2 seconds")
      yield* context.heartbeat
    }
  }))

describe("a live task's heartbeat, kept beside its record", () => {
  it.effect("goes into the final record: stored and awaited, the last heartbeat is the record's", () =>
    Effect.gen(function*() {
      const store = yield* TaskStore.makeMemory
      const { scope, tasks } = yield* startOn(store, BeatsLive, { heartbeatCheckInterval: "1 second" })
      const handle = yield* tasks.submit(Beats, { silentSeconds: 1 })
      yield* settle
      yield* advance(3)
      assert.isTrue(Exit.isSuccess(yield* handle.await))
      const stored = Option.getOrThrow(yield* store.get(handle.id))
      const final = yield* tasks.get(handle.id)
      assert.deepStrictEqual([stored.status, stored.startedAt, stored.heartbeatAt, stored.finishedAt], ["completed", 0, 2_000, 3_000])
      assert.strictEqual(final.heartbeatAt, 2_000)
      yield* Scope.close(scope, Exit.void)
    }))

  it.effect("keeps the watchdog away though it makes no record: a task beating within its timeout runs to the end", () =>
    Effect.gen(function*() {
      const { scope, tasks } = yield* startOn(yield* TaskStore.makeMemory, SteadyLive, { heartbeatCheckInterval: "1 second" })
      // 10 s in all, never silent for more than 2 s of its 3-s timeout.
      const handle = yield* tasks.submit(Steady, { beats: 5 })
      yield* settle
      yield* advance(11)
      assert.deepStrictEqual(yield* handle.await, Exit.succeed(undefined))
      yield* Scope.close(scope, Exit.void)
    }))

  it.effect("silent past its timeout after a heartbeat, it fails with reason heartbeat, the heartbeat kept", () =>
    Effect.gen(function*() {
      const store = yield* TaskStore.makeMemory
      const { scope, tasks } = yield* startOn(store, BeatsLive, { heartbeatCheckInterval: "1 second" })
      const handle = yield* tasks.submit(Beats, { silentSeconds: 60 })
      yield* settle
      yield* advance(8)
      const stored = Option.getOrThrow(yield* store.get(handle.id))
      assert.deepStrictEqual([stored.status, stored.reason, stored.heartbeatAt], ["failed", "heartbeat", 2_000])
      yield* Scope.close(scope, Exit.void)
    }))
})

describe("the scope a handler gets", () => {
  it.effect("is its attempt's own: an interrupted task's finalizers have run when interrupt returns", () =>
    Effect.gen(function*() {
      const finalized = yield* Ref.make<ReadonlyArray<string>>([])
      const Held = Task.define("held", { payload: Schema.Struct({ name: Schema.String }), success: Schema.Void })
      const live = Task.implement(Held, ({ name }) =>
        Effect.andThen(
          Effect.addFinalizer((exit) => Ref.update(finalized, (names) => [...names, `${name}:${Exit.hasInterrupts(exit)}`])),
          Effect.never
        ))
      const { scope, tasks } = yield* startOn(yield* TaskStore.makeMemory, live)
      const first = yield* tasks.submit(Held, { name: "first" })
      const second = yield* tasks.submit(Held, { name: "second" })
      yield* settle
      yield* first.interrupt
      // the first task's scope closed with its interruption; the second's is still open
      assert.deepStrictEqual(yield* Ref.get(finalized), ["first:true"])
      assert.strictEqual((yield* first.info).status, "interrupted")
      yield* second.interrupt
      assert.deepStrictEqual(yield* Ref.get(finalized), ["first:true", "second:true"])
      yield* Scope.close(scope, Exit.void)
    }))

  it.effect("of a kind with retries, is each attempt's own: the failed attempt's finalizer runs before the next attempt", () =>
    Effect.gen(function*() {
      const log = yield* Ref.make<ReadonlyArray<string>>([])
      const Flaky = Task.define("flaky", {
        payload: Schema.Struct({}),
        success: Schema.Int,
        error: Schema.String,
        policy: { retry: { schedule: Schedule.spaced("1 second") } }
      })
      const live = Task.implement(Flaky, (_, context) =>
        Effect.gen(function*() {
          const attempt = context.attempt
          yield* Ref.update(log, (entries) => [...entries, `start:${attempt}`])
          yield* Effect.addFinalizer(() => Ref.update(log, (entries) => [...entries, `end:${attempt}`]))
          if (attempt < 2) return yield* Effect.fail("not yet")
          return attempt
        }))
      const { scope, tasks } = yield* startOn(yield* TaskStore.makeMemory, live)
      const handle = yield* tasks.submit(Flaky, {})
      yield* settle
      yield* TestClock.adjust("1 minute")
      assert.deepStrictEqual(yield* handle.await, Exit.succeed(2))
      assert.deepStrictEqual(yield* Ref.get(log), ["start:1", "end:1", "start:2", "end:2"])
      yield* Scope.close(scope, Exit.void)
    }))
})
