/**
 * The bound on tasks a runner knows unfinished on others and follows with
 * nothing (`ClusterFeed.openLimit`): past it, the longest known are
 * forgotten at the next turn of its memory (every `finishedMemoryMillis`; the
 * first as it starts), so they are not read again when their runner leaves.
 * Two runners' feeds in the test process on the real PostgreSQL
 * (`FeedRunners.ts`): five unfinished records of a's (a kind neither
 * registers, so no supervisor takes them up) are in the store when b starts
 * with a bound of two; a leaves (its farewell), and b reads again two of
 * them, not five. b's feed's store counts its reads (the only fake: a counter
 * around the real store).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Scope } from "effect"
import type { TaskStore } from "@chainjobs/tasks"
import { record } from "@chainjobs/tasks/test/TaskStoreConformance"
import { eventually, freshCluster, makeRunner } from "./FeedRunners.ts"
import { pgTestUrl } from "./RunnerProcess.ts"

/** The store with its reads of each task counted into `reads`. */
const counting = (reads: Map<string, number>) => (store: TaskStore.TaskStore["Service"]): TaskStore.TaskStore["Service"] => ({
  ...store,
  get: (id) => Effect.andThen(Effect.sync(() => reads.set(id, (reads.get(id) ?? 0) + 1)), store.get(id))
})

describe.skipIf(pgTestUrl === undefined)("tasks known unfinished elsewhere that nothing follows", () => {
  it.live("are kept up to the bound: only that many are read again when their runner leaves", () =>
    Effect.gen(function*() {
      const cluster = yield* freshCluster
      const aScope = yield* Scope.make()
      yield* Scope.provide(makeRunner("runner-a:1", cluster), aScope)
      const open = Array.from({ length: 5 }, () => record({ kind: "unregistered", status: "running", runner: "runner-a:1" }))
      for (const info of open) yield* Effect.orDie(cluster.store.insert(info))

      // b learns the five as it starts, and keeps two past the first turn of its memory (at once after)
      const reads = new Map<string, number>()
      yield* makeRunner("runner-b:2", cluster, { openLimit: 2, feedStore: counting(reads) })
      for (let i = 0; i < 20; i++) yield* Effect.yieldNow

      // a leaves with a farewell: b reads again the tasks it still knows unfinished on a
      yield* Scope.close(aScope, Exit.void)
      const ids = new Set(open.map((info) => info.id))
      const readAgain = () => [...reads.keys()].filter((id) => ids.has(id))
      yield* eventually(() => readAgain().length >= 2, () => `${readAgain().length} of a's tasks read again`)
      // the reads again start together (8 at a time): by the time two are done, no other is still to start
      yield* Effect.sleep("500 millis")
      assert.strictEqual(readAgain().length, 2, `read again: ${readAgain().length} of 5`)
    }).pipe(Effect.scoped), 60_000)
})
