/**
 * A submission its shard's owner refuses before admitting anything — the shard
 * did not open there within `OpenShards.openTimeout` (its unfinished tasks not
 * adopted yet), or moved — is sent again by the runner it was made on
 * (`ClusterTasks.notAdmittedRetry`), and admitted once the shard opens, instead
 * of reaching the caller as the store's unavailability. Runners of
 * `Runner.layer` in the test process (`InProcessCluster.ts`) on PostgreSQL;
 * the owner's adoption reads are refused by the test.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Logger, Option, References } from "effect"
import { TaskError, type TaskStore } from "@chainjobs/tasks"
import { ClusterTasks, TaskEntity } from "@chainjobs/cluster"
import { eventually, Hold, keyOn, makeCluster, settled, story } from "./InProcessCluster.ts"
import { pgTestUrl } from "./RunnerProcess.ts"

/** A store whose adoption reads (`TaskEntity.adoptionReadSpan`) are refused while `refusing` says so. */
const refusedAdoption = () => {
  const state = { refusing: true, refused: 0 }
  const wrap = (store: TaskStore.TaskStore["Service"]): TaskStore.TaskStore["Service"] => ({
    ...store,
    unfinished: Effect.flatMap(Effect.option(Effect.currentSpan), (span) =>
      state.refusing && Option.isSome(span) && span.value.name === TaskEntity.adoptionReadSpan
        ? Effect.suspend(() => {
          state.refused++
          return Effect.fail(new TaskError.TaskStoreError({ operation: "unfinished", detail: "refused by the test" }))
        })
        : store.unfinished)
  })
  return { state, wrap }
}

describe.skipIf(pgTestUrl === undefined)("a submission refused before its admission", () => {
  it.live("is sent again when its shard did not open on its owner in time, and admitted there once it opens", () =>
    Effect.gen(function*() {
      const cluster = yield* makeCluster
      const a = yield* cluster.start("a")
      yield* settled([a])
      // b adopts nothing until the test says: the shards it takes from a stay closed
      const fault = refusedAdoption()
      const b = yield* cluster.start("b", { storeFault: fault.wrap })
      yield* settled([a, b])
      const key = yield* keyOn(b, "hold")
      assert.strictEqual(yield* b.status.shardsOpen, 0, "b opens no shard while its adoption reads are refused")
      // Made on a, owned by b: b waits for the shard to open, then refuses it. When a is about to send it again,
      // b's reads pass: the next try finds the shard opening.
      const tries: Array<unknown> = []
      const watcher = Logger.make((options) => {
        const [message, detail] = options.message as ReadonlyArray<unknown>
        if (message !== ClusterTasks.notAdmittedLog) return
        tries.push(detail)
        fault.state.refusing = false
      })
      const handle = yield* a.tasks.submit(Hold, { key, gate: key }).pipe(
        Effect.provide(Logger.layer([watcher], { mergeWithExisting: true })),
        Effect.provideService(References.MinimumLogLevel, "Debug")
      )
      assert.deepStrictEqual(tries, [{ id: handle.id, refused: "NotAdmitted" }], "refused once, as the shard did not open")
      assert.isAbove(fault.state.refused, 0)
      yield* eventually(
        Effect.sync(() => story(cluster, handle.id).includes("start b 1")),
        () => `the task starts on b: ${JSON.stringify(story(cluster, handle.id))}`
      )
      yield* cluster.open(key)
      assert.deepInclude(yield* a.tasks.awaitInfo(handle.id), { status: "completed", result: "b", runner: b.address })
      const page = yield* a.tasks.list({ kind: ["hold"] })
      assert.deepStrictEqual(page.items.map((info) => info.id), [handle.id], "one task, admitted once")
    }).pipe(Effect.scoped), { timeout: 90_000 })
})
