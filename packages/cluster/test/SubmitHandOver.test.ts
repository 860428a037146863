/**
 * A task whose submission the task entity is still recording when its shard
 * moves (a runner joins and takes it): the caller is told the task's id, or a
 * typed error it can act on, never the interruption of the owner's handler.
 * The entity's end waits for its handlers, whose `Run` to the entity, ending,
 * is refused by interrupting them: the task was recorded, and handed over, yet
 * its caller was told "All fibers interrupted" (6 of 16 here before
 * `ClusterTasks` read the record of a submission whose handler was
 * interrupted). The task is counted as admitted by its entity from before its
 * insert (b264639), so the entity's end hands it over and it runs on the
 * runner taking the shard, never beside an attempt on the old one. Runners of
 * `Runner.layer` in the test process (`InProcessCluster.ts`) on PostgreSQL,
 * submitting through the entity; the old owner's inserts of the scans wait for
 * the test, as a slow database would make them.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Deferred, Effect, Exit, Fiber } from "effect"
import { TaskEntity } from "@chainjobs/cluster"
import type { TaskStore } from "@chainjobs/tasks"
import { eventually, makeCluster, Scan, settled, shards, story } from "./InProcessCluster.ts"
import { pgTestUrl } from "./RunnerProcess.ts"

describe.skipIf(pgTestUrl === undefined)("a submission being recorded when its shard moves", () => {
  it.live("is answered with its task's id, and its task runs on the runner taking the shard, never beside an attempt on the old one", () =>
    Effect.gen(function*() {
      const cluster = yield* makeCluster
      // the old owner's inserts of the tasks in `held` wait for `recorded`; `begun` counts those that began
      const held = new Set<string>()
      const recorded = Deferred.makeUnsafe<void>()
      let begun = 0
      const slowInsert = (store: TaskStore.TaskStore["Service"]): TaskStore.TaskStore["Service"] => ({
        ...store,
        insert: (info) =>
          held.has(info.id)
            ? Effect.andThen(Effect.sync(() => begun++), Effect.andThen(Deferred.await(recorded), store.insert(info)))
            : store.insert(info)
      })
      // b makes the schema and leaves: a holds every shard
      const first = yield* cluster.start("b")
      yield* settled([first])
      const a = yield* cluster.start("a", { storeFault: slowInsert, directAdmission: false })
      yield* Effect.addFinalizer(() => Deferred.succeed(recorded, undefined))
      yield* settled([a, first])
      yield* first.stop
      yield* settled([a])
      // sixteen scans, submitted through a's entities, their inserts on a held: spread over the shards
      const ids = Array.from({ length: 16 }, (_, i) => `moving-${i}`)
      ids.forEach((id) => held.add(id))
      const submissions = yield* Effect.forEach(ids, (id) =>
        Effect.forkScoped(a.tasks.submit(Scan, { gate: id, from: 1, to: 1 }, { id })))
      yield* eventually(Effect.sync(() => begun === ids.length), () => `a begins recording every scan: ${begun} of ${ids.length}`)
      // b joins: a begins to let the shards going to b go, their entities still recording (they end once recorded)
      const b = yield* cluster.start("b")
      let seen = 0
      yield* eventually(Effect.map(a.status.shardsHeld, (n) => (seen = n) < shards), () => `a lets some shards go to b: holds ${seen}`)
      const placementOf = (id: string) => TaskEntity.placement({ id, kind: "scan", key: null })
      yield* Deferred.succeed(recorded, undefined)
      // every caller is told its task's id: each was recorded (as the awaits below show), some by an entity ending
      const answers = yield* Effect.forEach(submissions, Fiber.await)
      const told = answers.map((exit, i) => Exit.isSuccess(exit) ? exit.value.id : `${ids[i]}: ${Cause.pretty(exit.cause)}`)
      assert.deepStrictEqual(told, ids, "every caller is told its task's id")
      yield* settled([a, b])
      const moved = ids.filter((id) => b.holds(placementOf(id)))
      assert.isAbove(moved.length, 0, "b holds the shard of some scan")
      yield* Effect.forEach(moved, (id) =>
        eventually(
          Effect.sync(() => story(cluster, id).some((line) => line.startsWith("start b"))),
          () => `${id} starts on b: ${JSON.stringify(story(cluster, id))}`
        ), { discard: true })
      assert.deepStrictEqual(cluster.overlaps, [], "no scan runs on two runners at once")
      yield* Effect.forEach(ids, (id) => cluster.open(`${id}/1`), { discard: true })
      for (const id of ids) {
        const info = yield* b.tasks.awaitInfo(id)
        assert.strictEqual(info.status, "completed", `${id}: ${JSON.stringify(story(cluster, id))}`)
      }
      assert.deepStrictEqual(cluster.overlaps, [], `no scan ran on two runners at once (moved: ${moved.join(", ")})`)
    }).pipe(Effect.scoped), { timeout: 120_000 })
})
