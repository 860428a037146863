/**
 * A runner's guards forget the tasks they admitted directly once the supervisor no longer holds them (`LocalAdmission`'s
 * prune, every `pruneInterval`, reading `Tasks.peek`): what they know stays bounded by the unfinished tasks and the
 * last second's endings, however many tasks the runner admits, and an unfinished one is kept (its guard hands it over
 * when its shard moves). Runners of `Runner.layer` in the test process (`InProcessCluster.ts`) on PostgreSQL.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import type { TaskHandle } from "@chainjobs/tasks"
import { Gated, guarding, makeCluster, settled, type TestRunner, Tick } from "./InProcessCluster.ts"
import { pgTestUrl } from "./RunnerProcess.ts"

/**
 * Waits until `runner`'s guards know `count` tasks (a prune every `pruneInterval`): no bound of a few prunes' time,
 * which a loaded machine running the prune late would miss; after `reads` reads (about a minute, far past any
 * prune) it fails saying what they knew.
 */
const knownBecomes = (runner: TestRunner, count: number, reads = 600) =>
  Effect.gen(function*() {
    let known = -1
    for (let read = 0; read < reads; read++) {
      known = yield* runner.status.directTasksKnown
      if (known === count) return
      yield* Effect.sleep("100 millis")
    }
    return yield* Effect.die(new Error(`the guards still knew ${known} tasks after ${reads} reads, not ${count}`))
  })

describe.skipIf(pgTestUrl === undefined)("the tasks a runner's guards know", () => {
  it.live("are forgotten once finished; an unfinished one is kept until it ends", () =>
    Effect.gen(function*() {
      const cluster = yield* makeCluster
      const a = yield* cluster.start("a", { directAdmission: true, placement: "local" })
      yield* settled([a])
      yield* guarding(a)
      const gated = yield* a.tasks.submit(Gated, { gate: "g" })
      const ticks: Array<TaskHandle.TaskHandle<void, never>> = []
      for (let n = 0; n < 40; n++) ticks.push(yield* a.tasks.submit(Tick, { n }))
      assert.isAtLeast(yield* a.status.directTasksKnown, 1, "known as admitted")
      yield* Effect.forEach(ticks, (tick) => tick.join, { discard: true })
      // the 40 finished ones go, the gated one stays: its guard would hand it over
      yield* knownBecomes(a, 1)
      yield* cluster.open("g")
      assert.strictEqual(yield* gated.join, "a")
      yield* knownBecomes(a, 0)
    }).pipe(Effect.scoped), { timeout: 90_000 })
})
