/**
 * A runner killed (`kill -9`) while it ran the cluster's runner health check
 * (a singleton on one shard): before `DeadRunners`, nothing marked it
 * unhealthy, since the check that would have was the one that died, and its
 * shards moved only once its row lapsed (its heartbeat older than the lock
 * expiry, 6.7–10 s after the kill): the slow band of the failover benchmark.
 * Now the other runner marks it unhealthy. Two runner child processes
 * (`runner.ts`) on PostgreSQL. Besides the kill, one fault: the test keeps
 * the dead runner's heartbeat fresh, as a longer lock expiry would, so that
 * its row never lapses meanwhile and only a runner marking it can end the
 * wait (no race between the two).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { SqlClient } from "effect/sql"
import { makeCluster, onDatabase, pgTestUrl, settled } from "./RunnerProcess.ts"

describe.skipIf(pgTestUrl === undefined)("a runner killed while it ran the runners' health check", () => {
  it.live("is marked unhealthy by the other runner", () =>
    Effect.gen(function*() {
      const cluster = yield* makeCluster
      const runners = [yield* cluster.start("a"), yield* cluster.start("b")]
      yield* settled(runners)
      const statuses = yield* Effect.forEach(runners, (runner) => runner.status)
      const victim = runners[statuses.findIndex((status) => status.healthCheck)]
      assert.isDefined(victim, `one runner runs the health check: ${JSON.stringify(statuses)}`)
      const address = `127.0.0.1:${victim.port}`
      // its row, its heartbeat made fresh: what every runner reads stays listed
      const healthy = onDatabase(Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const rows = yield* sql<{ healthy: boolean }>`
          UPDATE ${sql(cluster.schema)}.cluster_runners SET last_heartbeat = NOW() WHERE address = ${address}
          RETURNING healthy`
        return rows[0]?.healthy
      }))
      yield* victim.kill
      // bounded, saying what it saw
      let seen: boolean | undefined = true
      yield* Effect.gen(function*() {
        while ((seen = yield* healthy) !== false) yield* Effect.sleep("250 millis")
      }).pipe(Effect.timeoutOrElse({
        duration: "20 seconds",
        orElse: () =>
          Effect.die(new Error(`the killed runner that ran the health check (${address}) is never marked unhealthy: healthy ${seen}`))
      }))
      assert.isFalse(seen)
    }).pipe(Effect.scoped), { timeout: 120_000 })
})
