/**
 * One runner of `Runner.layer` in the test process (`InProcessCluster.ts`: a
 * fresh database, socket transport), alone: a mutation run of `Runner.ts`
 * can afford it for every mutant (one runner's start, where the other files
 * start two). What it says of itself (`RunnerStatus`: its address, the shards
 * it holds, opens and guards, the runners' health check, its tasks, the
 * directly admitted ones its guards know; the gauges labelled with its
 * address), that its records name it, that the faults a test injects reach
 * every part of it (`RunnerFaults`), and that without direct admission it
 * guards no shard and places by shard.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Metric, Option } from "effect"
import { RunnerStorage } from "effect/cluster"
import { Runner } from "@chainjobs/cluster"
import { TaskStore } from "@chainjobs/tasks"
import { eventually, Gated, makeCluster, settled, shards } from "./InProcessCluster.ts"
import { pgTestUrl } from "./RunnerProcess.ts"

describe.skipIf(pgTestUrl === undefined)("Runner.layer, one runner", () => {
  it.live("tells its address, shards, tasks and directly admitted tasks, also as gauges; its records name it; the injected faults reach its parts", () =>
    Effect.gen(function*() {
      const cluster = yield* makeCluster
      const used = { store: 0, runnerStorage: 0 }
      const a = yield* cluster.start("a", {
        maxWorkers: 1,
        directAdmission: true,
        storeFault: (store) => TaskStore.TaskStore.of({ ...store, get: (id) => Effect.andThen(Effect.sync(() => void used.store++), store.get(id)) }),
        runnerStorageFault: (storage) =>
          RunnerStorage.RunnerStorage.of({
            ...storage,
            getRunners: Effect.andThen(Effect.sync(() => void used.runnerStorage++), storage.getRunners)
          })
      })
      yield* settled([a])
      assert.match(a.address, /^127\.0\.0\.1:\d+$/)
      assert.strictEqual(yield* a.status.shardsHeld, shards)
      yield* eventually(
        Effect.map(Effect.all([a.status.shardsOpen, a.status.shardsGuarded]), ([open, guarded]) => open === shards && guarded === shards),
        () => "every shard open and guarded"
      )
      assert.isTrue(yield* a.status.runsHealthCheck, "the only runner runs the runners' health check")
      const first = yield* a.tasks.submit(Gated, { gate: "one" })
      const second = yield* a.tasks.submit(Gated, { gate: "two" })
      yield* eventually(
        Effect.map(a.status.tasks, (tasks) => tasks.running === 1 && tasks.pending === 1),
        () => "one task runs, one waits"
      )
      assert.strictEqual(yield* a.status.directTasksKnown, 2, "both admitted directly, known to their guards")
      const gauge = (metric: Metric.Gauge<number>) =>
        Effect.map(Metric.value(Metric.withAttributes(metric, { runner: a.address })), (state) => state.value)
      yield* eventually(
        Effect.map(
          Effect.all([gauge(Runner.shardsHeld), gauge(Runner.tasksRunning), gauge(Runner.tasksPending)]),
          ([held, running, pending]) => held === shards && running === 1 && pending === 1
        ),
        () => "the gauges follow the status"
      )
      // the supervisor's reads of the task store and the cluster's of its runner storage go through the faults given
      assert.deepInclude(yield* Effect.flip(a.tasks.get("no-such-task")), { _tag: "TaskNotFound" })
      assert.isAbove(used.store, 0, "the store's fault reached the supervisor")
      assert.strictEqual((yield* a.store.get(first.id)).pipe(Option.map((info) => info.runner), Option.getOrUndefined), a.address)
      yield* eventually(Effect.sync(() => used.runnerStorage > 0), () => "the runner storage's fault reached (its runners read)")
      yield* cluster.open("one")
      yield* cluster.open("two")
      assert.deepStrictEqual([yield* first.join, yield* second.join], ["a", "a"])
      const listed = yield* a.tasks.list({})
      assert.deepStrictEqual(listed.items.map((info) => info.runner), [a.address, a.address], "every record names its runner")
    }).pipe(Effect.scoped), { timeout: 60_000 })

  it.live("without direct admission guards no shard, and its submissions go through the entity", () =>
    Effect.gen(function*() {
      const cluster = yield* makeCluster
      const a = yield* cluster.start("a", { directAdmission: false })
      yield* settled([a])
      yield* eventually(Effect.map(a.status.shardsOpen, (open) => open === shards), () => "every shard open")
      assert.strictEqual(yield* a.status.shardsGuarded, 0)
      const task = yield* a.tasks.submit(Gated, { gate: "g" })
      assert.strictEqual(yield* a.status.directTasksKnown, 0, "not admitted directly")
      yield* cluster.open("g")
      assert.strictEqual(yield* task.join, "a")
    }).pipe(Effect.scoped), { timeout: 60_000 })
})
