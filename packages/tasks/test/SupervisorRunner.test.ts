/**
 * A supervisor given its runner (`TasksConfig.runner`, what a cluster's runner sets) names it in every record it makes
 * for a task submitted to it, from the first: the records it stores, reads and tells its followers. A cluster's
 * runner then copies no record to name itself (its store view, its reads and its feed find it named). A supervisor
 * without one (a single process) names none.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Option, Scope, Stream } from "effect"
import { type TaskInfo, TaskStore } from "../src/index.ts"
import { Gate, gateLive, settle, startOn, testConfig } from "./fixtures.ts"

/** What a record says of its runner: the runner, or `none` when the field is absent. */
const runnerOf = (info: TaskInfo.TaskInfo) => ("runner" in info ? info.runner : "none")

describe("a supervisor's runner", () => {
  it.effect("is named in every record of a task submitted to it: stored, read and told", () =>
    Effect.gen(function*() {
      const store = yield* TaskStore.makeMemory
      const gates = yield* gateLive
      const { scope, tasks } = yield* startOn(store, gates.layer, { ...testConfig, runner: "127.0.0.1:40001" })
      const told = yield* Effect.forkChild(Stream.runCollect(Stream.take(tasks.changes, 3)))
      yield* settle
      const handle = yield* tasks.submit(Gate, { id: "g" })
      yield* settle
      assert.strictEqual(runnerOf(Option.getOrThrow(yield* store.get(handle.id))), "127.0.0.1:40001", "inserted")
      assert.strictEqual(runnerOf(yield* tasks.get(handle.id)), "127.0.0.1:40001", "read while it runs")
      yield* gates.open("g")
      const done = yield* tasks.awaitInfo(handle.id)
      assert.strictEqual(done.status, "completed")
      assert.strictEqual(runnerOf(done), "127.0.0.1:40001", "its final record")
      assert.strictEqual(runnerOf(Option.getOrThrow(yield* store.get(handle.id))), "127.0.0.1:40001", "stored final")
      const changes = Array.from(yield* Fiber.join(told))
      assert.deepStrictEqual(changes.map(runnerOf), ["127.0.0.1:40001", "127.0.0.1:40001", "127.0.0.1:40001"])
      yield* Scope.close(scope, Exit.void)
    }))

  it.effect("is absent without one: a single process names none", () =>
    Effect.gen(function*() {
      const store = yield* TaskStore.makeMemory
      const gates = yield* gateLive
      const { scope, tasks } = yield* startOn(store, gates.layer, testConfig)
      const handle = yield* tasks.submit(Gate, { id: "g" })
      yield* gates.open("g")
      const done = yield* tasks.awaitInfo(handle.id)
      assert.strictEqual(runnerOf(done), "none")
      assert.strictEqual(runnerOf(Option.getOrThrow(yield* store.get(handle.id))), "none")
      yield* Scope.close(scope, Exit.void)
    }))
})
