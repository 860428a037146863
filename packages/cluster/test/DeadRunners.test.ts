/**
 * A runner killed (`kill -9`) while it ran the cluster's runner health check
 * (a singleton on one shard): before `DeadRunners`, nothing marked it
 * unhealthy, since the check that would have was the one that died, and its
 * shards moved only once its row lapsed (its heartbeat older than the lock
 * expiry, 6.7–10 s after the kill): the slow band of the failover benchmark.
 * Now the other runner marks it unhealthy first. Two runner child processes
 * (`runner.ts`) on PostgreSQL; the kill is the only fault.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { SqlClient } from "effect/sql"
import { makeCluster, onDatabase, pgTestUrl, settled } from "./RunnerProcess.ts"

describe.skipIf(pgTestUrl === undefined)("a runner killed while it ran the runners' health check", () => {
  it.live("is marked unhealthy by the other runner before its row lapses", () =>
    Effect.gen(function*() {
      const cluster = yield* makeCluster
      const runners = [yield* cluster.start("a"), yield* cluster.start("b")]
      yield* settled(runners)
      const statuses = yield* Effect.forEach(runners, (runner) => runner.status)
      const victim = runners[statuses.findIndex((status) => status.healthCheck)]
      assert.isDefined(victim, `one runner runs the health check: ${JSON.stringify(statuses)}`)
      const address = `127.0.0.1:${victim.port}`
      // its row as every runner reads it: listed while its heartbeat is within the lock expiry (10 s)
      const row = onDatabase(Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const rows = yield* sql<{ healthy: boolean; listed: boolean }>`
          SELECT healthy, last_heartbeat > NOW() - INTERVAL '10 seconds' AS listed
          FROM ${sql(cluster.schema)}.cluster_runners WHERE address = ${address}`
        return rows[0]
      }))
      yield* victim.kill
      // which comes first: marked unhealthy, or lapsed (or gone); bounded, saying what it saw
      let seen = "not read yet"
      const first = yield* Effect.gen(function*() {
        while (true) {
          const now = yield* row
          seen = now === undefined ? "no row" : `healthy ${now.healthy}, listed ${now.listed}`
          if (now === undefined || !now.listed) return "lapsed"
          if (!now.healthy) return "marked unhealthy"
          yield* Effect.sleep("100 millis")
        }
      }).pipe(Effect.timeoutOrElse({
        duration: "30 seconds",
        orElse: () => Effect.die(new Error(`the killed runner's row neither lapsed nor was marked unhealthy: ${seen}`))
      }))
      assert.strictEqual(first, "marked unhealthy", `the killed runner that ran the health check (${address}): ${seen}`)
    }).pipe(Effect.scoped), { timeout: 120_000 })
})
