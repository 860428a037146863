/**
 * An encoded submission admitted straight into the runner's supervisor
 * (`ClusterTasks`' direct path, on one in-memory runner: `InMemoryRunner.ts`)
 * keeps the caller's id and options, as a typed one does: what the service's
 * REST and RPC submissions, which arrive encoded, rely on.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { Sharding } from "effect/cluster"
import { TaskEntity } from "@chainjobs/cluster"
import { TaskInfo, TaskStore } from "@chainjobs/tasks"
import { inMemorySharding } from "./InMemorySharding.ts"
import * as InMemoryRunner from "./InMemoryRunner.ts"
import { eventually } from "./InProcessCluster.ts"
import { pgTestUrl } from "./RunnerProcess.ts"

describe.skipIf(pgTestUrl === undefined)("an encoded submission admitted directly", () => {
  it.live("keeps the caller's id and options", () =>
    Effect.gen(function*() {
      const runner = yield* InMemoryRunner.start({ directAdmission: true }).pipe(
        Effect.provideService(TaskStore.TaskStore, yield* TaskStore.makeMemory)
      )
      const id = TaskInfo.makeId(Date.now())
      const shard = TaskEntity.shardOf(yield* Sharding.Sharding, TaskEntity.placement({ id, kind: "gated", key: null }))
      // its shard guarded and open (the guards open within the first looks, the shards once adopted)
      yield* eventually(Effect.sync(() => runner.admission.admits(shard)), () => "the task's shard admits directly")
      const handle = yield* runner.tasks.submitEncoded("gated", { gate: "g" }, { id, priority: 5, owner: "alice" })
      assert.strictEqual(handle.id, id)
      assert.deepInclude(yield* runner.tasks.get(id), { id, priority: 5, owner: "alice", payload: { gate: "g" } })
      assert.isFalse(runner.entity.serving.has(id), "admitted directly: no Run")
      yield* runner.open("g")
      assert.strictEqual(yield* handle.join, "g")
    }).pipe(Effect.scoped, Effect.provide(inMemorySharding)), { timeout: 60_000 })
})
