/**
 * The handle of a task its runner admitted directly (`LocalAdmission`) is joined through that runner's supervisor
 * (`ClusterTasks`' `operations.awaitExit` given the submission's final record): its committed final record, no read
 * of the store and no wait through the feed, whether the task ended before the join or after; and, should the task
 * leave the runner unfinished (handed over as its shard moves), through the cluster, with the final record of the
 * runner it moved to. Runners of `Runner.layer` in the test process (`InProcessCluster.ts`) on PostgreSQL; the
 * runner's store counts its reads of each task (the only fake: a counter around the real store).
 */
import { assert, describe, it } from "@effect/vitest"
import { PgClient } from "@effect/sql-pg"
import { Effect, Exit, Fiber, Redacted } from "effect"
import { SqlClient } from "effect/sql"
import type { TaskHandle, TaskStore } from "@chainjobs/tasks"
import { Gated, guarding, makeCluster, Scan, settled, takenOver, type TestCluster, Tick } from "./InProcessCluster.ts"
import { pgTestUrl } from "./RunnerProcess.ts"

/** The store of a runner with its reads of each task counted into `reads`. */
const counting = (reads: Map<string, number>) => (store: TaskStore.TaskStore["Service"]): TaskStore.TaskStore["Service"] => ({
  ...store,
  get: (id) => Effect.andThen(Effect.sync(() => reads.set(id, (reads.get(id) ?? 0) + 1)), store.get(id))
})

/** Waits until every task of `ids` is completed in the cluster's database, read there directly (not through a runner). */
const completedInDatabase = (cluster: TestCluster, ids: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    for (;;) {
      const rows = yield* sql<{ n: string }>`SELECT count(*) AS n FROM chainjobs.chainjobs_tasks WHERE id IN ${sql.in(ids)} AND status = 'completed'`
      if (Number(rows[0]!.n) === ids.length) return
      yield* Effect.sleep("50 millis")
    }
  }).pipe(
    Effect.provide(PgClient.layer({ url: Redacted.make(cluster.databaseUrl), maxConnections: 1 }), { local: true }),
    Effect.orDie,
    Effect.timeoutOrElse({ duration: "20 seconds", orElse: () => Effect.die(new Error(`${ids.length} tasks never completed`)) })
  )

describe.skipIf(pgTestUrl === undefined)("a join of a task its runner admitted directly", () => {
  it.live("reads no record, whether the task ended before the join or after", () =>
    Effect.gen(function*() {
      const cluster = yield* makeCluster
      const reads = new Map<string, number>()
      const a = yield* cluster.start("a", { storeFault: counting(reads), directAdmission: true, placement: "local" })
      yield* settled([a])
      yield* guarding(a)

      // Ended before the join: found completed in the database, and let go by a's supervisor, before each join.
      const handles: Array<TaskHandle.TaskHandle<void, never>> = []
      for (let n = 0; n < 8; n++) handles.push(yield* a.tasks.submit(Tick, { n }))
      yield* completedInDatabase(cluster, handles.map((handle) => handle.id))
      // let go by a's supervisor: none of them runs or waits there any more
      for (let tasks = yield* a.status.tasks; tasks.running + tasks.pending > 0; tasks = yield* a.status.tasks) {
        yield* Effect.sleep("20 millis")
      }
      for (const handle of handles) {
        const before = reads.get(handle.id) ?? 0
        assert.isTrue(Exit.isSuccess(yield* Effect.exit(handle.join)), handle.id)
        assert.strictEqual((reads.get(handle.id) ?? 0) - before, 0, `the join of ${handle.id}, ended before it, read its record`)
      }
      for (const handle of handles) assert.strictEqual((yield* a.tasks.get(handle.id)).runner, a.address, "admitted on a")

      // Ended after the join began.
      const gated = yield* a.tasks.submit(Gated, { gate: "g" })
      const before = reads.get(gated.id) ?? 0
      const join = yield* Effect.forkChild(gated.join)
      yield* Effect.sleep("200 millis")
      yield* cluster.open("g")
      assert.strictEqual(yield* Fiber.join(join), "a")
      assert.strictEqual((reads.get(gated.id) ?? 0) - before, 0, "the join of the gated task read its record")
    }).pipe(Effect.scoped), { timeout: 90_000 })

  it.live("of a task handed over unfinished, answers the final record of the runner it moved to", () =>
    Effect.gen(function*() {
      const cluster = yield* makeCluster
      const a = yield* cluster.start("a", { maxWorkers: 30, directAdmission: true, placement: "local" })
      yield* settled([a])
      yield* guarding(a)
      // unkeyed scans placed on a's shards, waiting at their first step
      const handles: Array<TaskHandle.TaskHandle<number, never>> = []
      for (let i = 0; i < 24; i++) handles.push(yield* a.tasks.submit(Scan, { gate: `s${i}`, from: 1, to: 2 }))
      const joins = yield* Effect.forEach(handles, (handle) => Effect.forkChild(handle.join))
      // b joins and takes some of a's shards: a hands their scans over, b runs them on
      const b = yield* cluster.start("b", { maxWorkers: 30, directAdmission: true, placement: "local" })
      yield* settled([a, b])
      const moved = yield* takenOver(cluster, b, handles.map((handle) => handle.id))
      yield* Effect.forEach(handles, (_, i) => Effect.andThen(cluster.open(`s${i}/1`), cluster.open(`s${i}/2`)), { discard: true })
      for (const [i, join] of joins.entries()) assert.strictEqual(yield* Fiber.join(join), 3, handles[i].id)
      for (const id of moved) assert.strictEqual((yield* a.tasks.get(id)).runner, b.address, `${id} ended on b`)
    }).pipe(Effect.scoped), { timeout: 90_000 })
})
