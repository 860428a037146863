/**
 * A supervisor given its runner (`TasksConfig.runner`, what a cluster's runner sets) names it in the records of a task
 * it takes back from another runner (`adopt`), as it does a task submitted to it: its memory (`get`, `Tasks.peek`),
 * what it tells its followers, and what it stores, with no view of the store or wrapper of its reads to rename them.
 * A record that ends as `lost` on adoption names it too. (A single process names none: `TaskAdoptRunner.test`.)
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Option, Scope, Stream } from "effect"
import { type TaskInfo, Tasks, TaskStore } from "../src/index.ts"
import { Gate, gateLive, settle, startOn, testConfig } from "./fixtures.ts"
import { record } from "./TaskStoreConformance.ts"

/** What a record says of its runner: the runner, or `none` when the field is absent. */
const runnerOf = (info: TaskInfo.TaskInfo | undefined) => (info === undefined ? "unknown" : "runner" in info ? info.runner : "none")

const here = "127.0.0.1:40002"
const before = "127.0.0.1:40001"

describe("adopt on a supervisor given its runner", () => {
  it.effect("names this runner in the adopted task's records: read, peeked, told and stored", () =>
    Effect.gen(function*() {
      const store = yield* TaskStore.makeMemory
      const gates = yield* gateLive
      const { scope, tasks } = yield* startOn(store, gates.layer, { ...testConfig, runner: here })
      const left = record({ kind: Gate.name, payload: { id: "left" }, runner: before })
      yield* store.insert(left)
      const told = yield* Effect.forkChild(Stream.runCollect(Stream.take(tasks.changes, 2)))
      yield* settle
      yield* tasks.adopt(left.id)
      yield* settle
      const running = yield* tasks.get(left.id)
      assert.strictEqual(running.status, "running")
      assert.strictEqual(runnerOf(running), here, "read while it runs here")
      assert.strictEqual(runnerOf(Tasks.peek(tasks, left.id)), here, "peeked while it runs here")
      assert.strictEqual(runnerOf(Option.getOrThrow(yield* store.get(left.id))), here, "stored running")
      yield* gates.open("left")
      const done = yield* tasks.awaitInfo(left.id)
      assert.strictEqual(done.status, "completed")
      assert.strictEqual(runnerOf(done), here, "its final record")
      assert.strictEqual(runnerOf(Option.getOrThrow(yield* store.get(left.id))), here, "stored final")
      assert.deepStrictEqual(Array.from(yield* Fiber.join(told)).map(runnerOf), [here, here], "told")
      yield* Scope.close(scope, Exit.void)
    }))

  it.effect("names this runner in a record that ends as lost on adoption", () =>
    Effect.gen(function*() {
      const store = yield* TaskStore.makeMemory
      const gates = yield* gateLive
      const { scope, tasks } = yield* startOn(store, gates.layer, { ...testConfig, runner: here })
      // running elsewhere, of a kind that does not resume (the default): it fails as lost when taken back
      const left = record({ kind: Gate.name, payload: { id: "lost" }, status: "running", runner: before })
      yield* store.insert(left)
      yield* tasks.adopt(left.id)
      const stored = Option.getOrThrow(yield* store.get(left.id))
      assert.strictEqual(stored.status, "failed")
      assert.strictEqual(runnerOf(stored), here)
      yield* Scope.close(scope, Exit.void)
    }))
})

describe("Tasks.freeWorker", () => {
  it.effect("reads what stats tells: a worker free, the kind under its concurrency; undefined for a wrapper", () =>
    Effect.gen(function*() {
      const store = yield* TaskStore.makeMemory
      const gates = yield* gateLive
      const { scope, tasks } = yield* startOn(store, gates.layer, { ...testConfig, maxWorkers: 2 })
      const free = Tasks.freeWorker(tasks)!
      const narrow = { ...Gate, policy: { ...Gate.policy, concurrency: 1 } }
      assert.isTrue(free(Gate) && free(narrow), "nothing runs")
      yield* tasks.submit(Gate, { id: "a" })
      yield* settle
      assert.isTrue(free(Gate), "1 of 2 workers")
      assert.isFalse(free(narrow), "its kind at a concurrency of 1")
      yield* tasks.submit(Gate, { id: "b" })
      yield* settle
      assert.isFalse(free(Gate), "2 of 2 workers")
      const stats = yield* tasks.stats
      assert.deepStrictEqual([stats.running, stats.maxWorkers], [2, 2])
      assert.isUndefined(Tasks.freeWorker({ ...tasks }), "a spread copy is not the supervisor")
      yield* gates.open("a")
      yield* gates.open("b")
      yield* Scope.close(scope, Exit.void)
    }))
})
