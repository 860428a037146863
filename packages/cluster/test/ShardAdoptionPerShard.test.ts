/**
 * The adoption loop opens shards one by one (`TaskEntity.adoption`): a shard
 * opens as soon as its own unfinished records are adopted, whatever another
 * shard's adoption still waits for, and a shard whose adoption is under way
 * is not read again, nor its records adopted twice, while it waits. Runners
 * of `Runner.layer` in the test process (`InProcessCluster.ts`) on
 * PostgreSQL; the fault (one record whose adoption hangs) is injected into
 * the adopting runner's task store.
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Option } from "effect"
import type { TaskStore } from "@chainjobs/tasks"
import { TaskEntity } from "@chainjobs/cluster"
import { eventually, Gated, makeCluster, sameBucket, settled, shards } from "./InProcessCluster.ts"
import { pgTestUrl } from "./RunnerProcess.ts"

/**
 * A store whose reads of task `stuck` (what adopting it begins with) wait until `gate` opens; `seen` counts them
 * and the adoption's reads of the unfinished records (`TaskEntity.adoptionReadSpan`), and notes when the first read
 * of `stuck` began.
 */
const stuckAdoption = (stuck: string) => {
  const gate = Deferred.makeUnsafe<void>()
  const seen = { stuckReads: 0, adoptionReads: 0, stuckSince: 0 }
  const wrap = (store: TaskStore.TaskStore["Service"]): TaskStore.TaskStore["Service"] => ({
    ...store,
    get: (id) =>
      id !== stuck
        ? store.get(id)
        : Effect.suspend(() => {
          if (seen.stuckReads++ === 0) seen.stuckSince = Date.now()
          return Effect.andThen(Deferred.await(gate), store.get(id))
        }),
    unfinished: Effect.flatMap(Effect.option(Effect.currentSpan), (span) => {
      if (Option.isSome(span) && span.value.name === TaskEntity.adoptionReadSpan) seen.adoptionReads++
      return store.unfinished
    })
  })
  return { gate, seen, wrap }
}

describe.skipIf(pgTestUrl === undefined)("the adoption opens each shard by itself", () => {
  it.live("while one record's adoption hangs, every other shard opens, and the hanging shard is neither read nor adopted again; it opens once that record is adopted", () =>
    Effect.gen(function*() {
      const cluster = yield* makeCluster
      const a = yield* cluster.start("a")
      yield* settled([a])
      // six unkeyed tasks left to the next runner: their records spread over several shards
      const ids = Array.from({ length: 6 }, (_, i) => `left-${i}`)
      yield* Effect.forEach(ids, (id) => a.tasks.submit(Gated, { gate: id }, { id }), { discard: true })
      yield* eventually(Effect.map(a.status.tasks, (tasks) => tasks.running === ids.length), () => "the tasks run on a")
      yield* a.stop
      const stuck = ids[0]!
      const fault = stuckAdoption(stuck)
      const b = yield* cluster.start("b", { storeFault: fault.wrap })
      let open = 0
      yield* eventually(
        Effect.map(b.status.shardsOpen, (n) => (open = n) === shards - 1),
        () => `every shard but the stuck task's opens on b: ${open} of ${shards} open, ${fault.seen.stuckReads} reads of ${stuck}`
      )
      const before = { ...fault.seen }
      assert.strictEqual(before.stuckReads, 1, "the stuck task is read once, by its one adoption")
      // A submission on the stuck shard waits, and asks the adoption to look every 250 ms meanwhile (besides its
      // own interval): each look finds the one closed shard under way, reads nothing and adopts nothing.
      const probe = yield* b.tasks.submit(Gated, { gate: "probe" }, { id: sameBucket(stuck) }).pipe(Effect.forkChild)
      yield* Effect.sleep("1500 millis")
      const waited = Date.now() - fault.seen.stuckSince
      assert.isUndefined(probe.pollUnsafe(), "the stuck task's shard admits nothing before its records are adopted")
      assert.strictEqual(yield* b.status.shardsOpen, shards - 1)
      assert.deepStrictEqual(
        { stuckReads: fault.seen.stuckReads, adoptionReads: fault.seen.adoptionReads },
        { stuckReads: 1, adoptionReads: before.adoptionReads },
        `the shard under adoption was read or adopted again while it waited (${waited} ms since its adoption began; ` +
          `one adoption may take 10 s)`
      )
      // its record adopted, the shard opens and the waiting submission is admitted
      yield* Deferred.succeed(fault.gate, undefined)
      yield* eventually(Effect.map(b.status.shardsOpen, (n) => (open = n) === shards), () => `every shard opens on b: ${open}`)
      yield* Effect.forEach([...ids, "probe"], cluster.open, { discard: true })
      for (const id of ids) assert.deepInclude(yield* b.tasks.awaitInfo(id), { status: "completed", result: "b" })
      assert.deepInclude(yield* b.tasks.awaitInfo((yield* Fiber.join(probe)).id), { status: "completed", result: "b" })
    }).pipe(Effect.scoped), { timeout: 90_000 })
})
