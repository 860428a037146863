/**
 * A runner that loses its shard locks while it still runs their tasks: the
 * runner that takes those shards adopts the tasks only once the first runner
 * has let them go (`LiveRunners`), so no task runs on two runners at once.
 *
 * The fault is the one effect's SQL runner storage makes when one lock
 * operation fails or comes late: it replaces the runner's lock connection,
 * and every advisory lock of the runner goes with the old session at once,
 * while the runner runs on until its next lock refresh. Here the runner's
 * lock session is ended from the database (`pg_terminate_backend`), which
 * drops the same locks the same way. Runners of `Runner.layer` in the test
 * process (`InProcessCluster.ts`) on PostgreSQL, on both admission paths.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { SqlClient } from "effect/sql"
import { TaskEntity } from "@chainjobs/cluster"
import { eventually, guarding, makeCluster, settled, Sticky, story } from "./InProcessCluster.ts"
import { onDatabase, pgTestUrl } from "./RunnerProcess.ts"

/** The sessions holding shard locks (advisory locks of two keys) in database `name`. */
const lockSessions = (name: string) =>
  onDatabase(Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const rows = yield* sql<{ pid: number }>`
      SELECT DISTINCT l.pid FROM pg_locks l JOIN pg_database d ON d.oid = l.database
      WHERE d.datname = ${name} AND l.locktype = 'advisory' AND l.objsubid = 2 AND l.granted`
    return rows.map((row) => Number(row.pid))
  }))

/** Ends session `pid`, as a lock connection replaced by its runner's storage ends: its advisory locks go at once. */
const endSession = (pid: number) =>
  onDatabase(Effect.flatMap(SqlClient.SqlClient, (sql) => sql<{ ended: boolean }>`SELECT pg_terminate_backend(${pid}) AS ended`))

/** Every task runs at once on one runner. */
const maxWorkers = 30

describe.skipIf(pgTestUrl === undefined)("a runner that lost its shard locks while running their tasks", () => {
  for (const direct of [false, true]) {
    const path = direct ? "direct admission" : "through the entity"
    it.live(`(${path}) its tasks on shards taken meanwhile by another runner are adopted there only once it has handed them over: none fails as lost, none runs twice at once`, () =>
      Effect.gen(function*() {
        const cluster = yield* makeCluster
        const a = yield* cluster.start("a", { directAdmission: direct, maxWorkers })
        // however the test ends, the hand-overs end before the runners stop
        yield* Effect.addFinalizer(() => cluster.open("handed-over"))
        yield* settled([a])
        if (direct) yield* guarding(a)
        const database = new URL(cluster.databaseUrl).pathname.slice(1)
        const sessions = yield* lockSessions(database)
        assert.strictEqual(sessions.length, 1, `a alone holds the shard locks, on one session: ${sessions}`)
        const ids = Array.from({ length: 24 }, (_, i) => `sticky-${i}`)
        // each holds its hand-over in its finalizer until the gate opens
        yield* Effect.forEach(ids, (id) => a.tasks.submit(Sticky, { gate: "handed-over" }, { id }), { discard: true })
        yield* eventually(
          Effect.sync(() => ids.every((id) => story(cluster, id).includes("start a 1"))),
          () => `every task starts on a: ${JSON.stringify(ids.map((id) => story(cluster, id)))}`
        )
        // b joins: a hands over the tasks of the shards moving to b, and keeps those shards until they are handed over
        const b = yield* cluster.start("b", { directAdmission: direct, maxWorkers })
        let stuck: Array<string> = []
        yield* eventually(
          Effect.sync(() => {
            stuck = ids.filter((id) => story(cluster, id).includes("finalizer a 1"))
            return stuck.length > 0
          }),
          () => "a hands some task over as b joins"
        )
        // a's shard locks go at once, as after one late lock operation: b takes the shards it waited for
        const [ended] = yield* endSession(sessions[0])
        assert.isTrue(ended?.ended, `a's lock session ${sessions[0]} ended`)
        const placementOf = (id: string) => TaskEntity.placement({ id, kind: "sticky", key: null })
        yield* eventually(
          Effect.sync(() => stuck.some((id) => b.holds(placementOf(id)))),
          () => `b takes the shard of a task a is handing over: ${stuck}`
        )
        const taken = stuck.filter((id) => b.holds(placementOf(id)))
        // b's adoption meets them while a still runs them (their finalizers wait): it must leave them to a
        yield* Effect.sleep("1500 millis")
        const early = yield* Effect.forEach(taken, (id) =>
          Effect.map(Effect.orDie(b.tasks.get(id)), (info) => ({ id, status: info.status, story: story(cluster, id) })))
        assert.deepStrictEqual(
          early.filter(({ status, story }) => status !== "running" || story.some((line) => line.startsWith("start b"))),
          [],
          "no task a still hands over is failed or started on b"
        )
        // a's hand-overs end: b adopts them from their records and runs them
        yield* cluster.open("handed-over")
        yield* Effect.forEach(taken, (id) =>
          eventually(
            Effect.sync(() => story(cluster, id).some((line) => line.startsWith("start b"))),
            () => `${id} starts again on b: ${JSON.stringify(story(cluster, id))}`
          ), { discard: true })
        for (const id of taken) {
          const lines = story(cluster, id)
          assert.isBelow(
            lines.indexOf("finalizer a 1"),
            lines.findIndex((line) => line.startsWith("start b")),
            `${id}: a's attempt ends before b's starts: ${JSON.stringify(lines)}`
          )
          assert.strictEqual((yield* Effect.orDie(b.tasks.get(id))).status, "running", `${id} runs on b`)
        }
      }), 120_000)
  }
})
