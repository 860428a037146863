/**
 * A task submitted on one runner and run on another is joined without a read of its record on the submitting runner:
 * the feed follows it from before its `Submit` is sent (`ClusterFeed.expect`), so the join takes the final record the
 * owner tells (or waits for it) instead of reading the store first. Two runners of `Runner.layer` in the test process
 * (`InProcessCluster.ts`) on PostgreSQL; the submitting runner's store counts its reads of each task (the only fake:
 * a counter around the real store). A wait longer than the feed's read again (`ClusterFeed.finalRecheck`, 5 s: a
 * final record slower than that, on a loaded machine) may read once per recheck, never more (`rechecks`).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import type { TaskStore } from "@chainjobs/tasks"
import { Gated, makeCluster, settled, Tick } from "./InProcessCluster.ts"
import { pgTestUrl } from "./RunnerProcess.ts"

/** The reads a join that took `millis` may make: one per `ClusterFeed.finalRecheck` (5 s) it waited, no first read. */
const rechecks = (millis: number) => Math.floor(millis / 5000)

describe.skipIf(pgTestUrl === undefined)("a join of a task submitted to another runner", () => {
  it.live("reads no record on the submitting runner, whether the task ended before the join or after", () =>
    Effect.gen(function*() {
      const cluster = yield* makeCluster
      const reads = new Map<string, number>()
      const counted = (store: TaskStore.TaskStore["Service"]): TaskStore.TaskStore["Service"] => ({
        ...store,
        get: (id) => Effect.andThen(Effect.sync(() => reads.set(id, (reads.get(id) ?? 0) + 1)), store.get(id))
      })
      // placed by shard: a's unkeyed tasks spread over both runners' shards (placed locally, none would cross)
      const a = yield* cluster.start("a", { storeFault: counted, placement: "shard" })
      yield* settled([a])
      const b = yield* cluster.start("b")
      yield* settled([a, b])

      // Ended before the join: unkeyed tasks spread over both runners' shards; those b runs crossed.
      const handles = yield* Effect.forEach(Array.from({ length: 24 }, (_, n) => n), (n) => a.tasks.submit(Tick, { n }))
      const crossed: Array<string> = []
      for (const handle of handles) {
        const before = reads.get(handle.id) ?? 0
        const started = Date.now()
        const info = yield* a.tasks.awaitInfo(handle.id)
        assert.strictEqual(info.status, "completed")
        if (info.runner !== b.address) continue
        const read = (reads.get(handle.id) ?? 0) - before
        crossed.push(read > rechecks(Date.now() - started) ? `${handle.id}: ${read} reads in ${Date.now() - started} ms` : "")
      }
      assert.isAbove(crossed.length, 0, "some of the 24 tasks ran on b")
      assert.deepStrictEqual(crossed.filter((line) => line !== ""), [], "joins on a that read the record")

      // Ended after the join began: a gated task on b, joined while it waits, ends when the gate opens.
      let gated: { readonly id: string; readonly gate: string } | undefined
      for (let n = 0; gated === undefined && n < 64; n++) {
        const handle = yield* a.tasks.submit(Gated, { gate: `g${n}` })
        if ((yield* b.tasks.get(handle.id)).runner === b.address) gated = { id: handle.id, gate: `g${n}` }
        else yield* cluster.open(`g${n}`)
      }
      assert.isDefined(gated, "one of 64 gated tasks ran on b")
      const before = reads.get(gated!.id) ?? 0
      const started = Date.now()
      const join = yield* Effect.forkChild(a.tasks.awaitInfo(gated!.id))
      yield* Effect.sleep("200 millis")
      yield* cluster.open(gated!.gate)
      // told by b, not found by a read
      const info = yield* Fiber.join(join)
      const millis = Date.now() - started
      assert.strictEqual(info.status, "completed")
      assert.isAtMost((reads.get(gated!.id) ?? 0) - before, rechecks(millis), `a's join of the gated task (${millis} ms) read its record`)
    }).pipe(Effect.scoped), { timeout: 90_000 })
})
