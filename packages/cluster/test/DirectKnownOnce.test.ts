/**
 * A directly admitted task is known to its guard once, however often it is
 * submitted again: a submission of a held task's own id that joins it (its
 * key busy with that very task, `onConflict: "join"`) counts again only until
 * the guards' next prune, so a client that re-submits a long task (an
 * idempotent "make sure it runs") cannot grow a runner's memory while the
 * task lives. (The reviewer's test of session 19, waiting for the prune.)
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { eventually, guarding, Hold, makeCluster, settled } from "./InProcessCluster.ts"
import { pgTestUrl } from "./RunnerProcess.ts"

describe.skipIf(pgTestUrl === undefined)("a directly admitted task submitted again", () => {
  it.live("joined by its own id, it is still known once", () =>
    Effect.gen(function*() {
      const cluster = yield* makeCluster
      const a = yield* cluster.start("a", { directAdmission: true })
      yield* settled([a])
      yield* guarding(a)
      const payload = { key: "again", gate: "again" }
      const first = yield* a.tasks.submit(Hold, payload, { id: "held-again" })
      yield* eventually(Effect.map(a.status.tasks, (tasks) => tasks.running === 1), () => "the task runs")
      for (let i = 0; i < 20; i++) {
        const joined = yield* a.tasks.submit(Hold, payload, { id: "held-again", onConflict: "join" })
        assert.strictEqual(joined.id, first.id)
      }
      // the next prune keeps one copy: waited for by what it does, never for a time
      yield* eventually(Effect.map(a.status.directTasksKnown, (known) => known === 1), () => "one task, known once")
      yield* cluster.open("again")
      assert.strictEqual(yield* first.join, "a")
    }).pipe(Effect.scoped), { timeout: 60_000 })
})
