/**
 * A submission that must wait for a worker (so it is recorded pending, not running) and is still being recorded when
 * the supervisor begins shutting down: once its insert commits it stays pending for the next process, this process
 * lets go of it, and whoever waits on it here (a join's await) is woken with that pending record — not left waiting
 * for a task this process will never run.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Option, Schema, Scope } from "effect"
import { TestClock } from "effect/testing"
import * as Task from "../src/Task.ts"
import * as TaskStore from "../src/TaskStore.ts"
import { settle, startOn } from "./fixtures.ts"

/** A memory store whose inserts and updates take 10 ms (of the TestClock), as a database's would. */
const slowStore = Effect.map(TaskStore.makeMemory, (store) =>
  TaskStore.TaskStore.of({
    ...store,
    insert: (info) => Effect.andThen(Effect.sleep("10 millis"), store.insert(info)),
    update: (info) => Effect.andThen(Effect.sleep("10 millis"), store.update(info))
  }))

/** Waits until interrupted; keyed, so that a second submission of a key joins the first. */
const Hold = Task.define("hold-queued", {
  payload: Schema.Struct({ key: Schema.String }),
  success: Schema.Void,
  policy: { key: (p: { key: string }) => p.key, onConflict: "join", onRestart: "resume" }
})
const HoldLive = Task.implement(Hold, () => Effect.never)

describe("a queued submission still being recorded when shutdown begins", () => {
  it.effect("stays pending, and a join's await wakes with that record", () =>
    Effect.gen(function*() {
      const store = yield* slowStore
      const { scope, tasks } = yield* startOn(store, HoldLive, { shutdownGracePeriod: 0, maxWorkers: 1 })
      // the one worker is taken
      const first = yield* Effect.forkChild(tasks.submit(Hold, { key: "first" }))
      yield* settle
      yield* TestClock.adjust("10 millis")
      yield* settle
      const running = yield* Fiber.join(first)
      assert.strictEqual((yield* tasks.get(running.id)).status, "running")
      // the second waits for a worker: recorded pending, its insert under way
      const submitting = yield* Effect.forkChild(tasks.submit(Hold, { key: "queued" }))
      yield* settle
      const joined = yield* tasks.submit(Hold, { key: "queued" })
      const awaiting = yield* Effect.forkChild(joined.await)
      const closing = yield* Effect.forkChild(Scope.close(scope, Exit.void))
      yield* settle
      // the insert commits after shutdown began; then the running task is stored back as pending
      for (let i = 0; i < 4; i++) {
        yield* TestClock.adjust("10 millis")
        yield* settle
      }
      const handle = yield* Fiber.join(submitting)
      assert.strictEqual(handle.id, joined.id)
      yield* Fiber.join(closing)
      const woken = awaiting.pollUnsafe()
      assert.isDefined(woken, "the join's await still waits on a task this process let go")
      // the await itself succeeded, with the outcome of a task that never ran here: an interruption
      assert.isTrue(woken !== undefined && Exit.isSuccess(woken) && Exit.hasInterrupts(woken.value), `woken with ${String(woken)}`)
      assert.strictEqual(Option.getOrThrow(yield* store.get(handle.id)).status, "pending")
    }))
})
