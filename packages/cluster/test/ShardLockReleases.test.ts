/**
 * The runner storage's shard-lock releases taking turns (`ShardLockReleases`),
 * on the real PostgreSQL storage of the cluster (`SqlRunnerStorage`: advisory
 * locks on one connection of its own): many releases asked for at once reach
 * the storage one at a time, so a lock refresh asked for meanwhile waits
 * behind one release, not all of them — the refresh whose deadline runs out
 * behind a burst of releases is what makes a runner's shard locks count as
 * unhealthy and every shard it holds be force-released.
 */
import { PgClient } from "@effect/sql-pg"
import { assert, describe, it } from "@effect/vitest"
import { Context, Duration, Effect, Fiber, Layer, Redacted } from "effect"
import { SqlClient } from "effect/sql"
import { RunnerAddress, RunnerStorage, ShardId, ShardingConfig, SqlRunnerStorage } from "effect/cluster"
import { ShardLockReleases } from "@chainjobs/cluster"
import { onDatabase, pgTestUrl } from "./RunnerProcess.ts"
import { eventually } from "./InProcessCluster.ts"

/** The cluster's SQL runner storage on the test database, its tables and lock namespace under a prefix of this test's own. */
const storage = (prefix: string) =>
  Layer.build(
    SqlRunnerStorage.layerWith({ prefix }).pipe(
      Layer.provide(PgClient.layer({ url: Redacted.make(pgTestUrl ?? ""), maxConnections: 2 })),
      // deadlines far beyond what the statements take: this test is about their order
      Layer.provide(ShardingConfig.layer({ shardLockExpiration: Duration.minutes(3), shardLockRefreshInterval: Duration.minutes(1) }))
    )
  ).pipe(
    Effect.map((context) => Context.get(context, RunnerStorage.RunnerStorage)),
    Effect.tap(() =>
      Effect.addFinalizer(() =>
        onDatabase(Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(`DROP TABLE IF EXISTS ${prefix}_locks, ${prefix}_runners`)))
      )
    )
  )

describe.skipIf(pgTestUrl === undefined)("shard-lock releases", () => {
  it.live("releases asked for together reach the storage one at a time, and a refresh asked for meanwhile answers before them", () =>
    Effect.gen(function*() {
      const real = yield* storage(`lockrel_${process.pid}`)
      // what the storage is asked: how many releases are under way there at once, how many have ended
      let releasing = 0
      let mostAtOnce = 0
      let released = 0
      const observed = RunnerStorage.RunnerStorage.of({
        ...real,
        release: (address, shardId) =>
          Effect.suspend(() => {
            mostAtOnce = Math.max(mostAtOnce, ++releasing)
            return Effect.ensuring(real.release(address, shardId), Effect.sync(() => {
              releasing--
              released++
            }))
          })
      })
      const releases = ShardLockReleases.oneAtATime(observed)
      const address = RunnerAddress.make("127.0.0.1", 1)
      const shards = Array.from({ length: 60 }, (_, i) => ShardId.make("default", i + 1))
      assert.strictEqual((yield* real.acquire(address, shards)).length, shards.length, "every shard's lock taken")
      // the cluster releases each shard on its own, all at once when a runner joins
      const all = yield* Effect.forkChild(Effect.forEach(shards, (shard) => releases.release(address, shard), { concurrency: "unbounded" }), {
        startImmediately: true
      })
      yield* eventually(Effect.sync(() => releasing > 0), () => "a release reaches the storage")
      const held = yield* real.refresh(address, shards)
      const releasedBeforeRefresh = released
      yield* Fiber.join(all)
      assert.strictEqual(mostAtOnce, 1, "releases under way at once")
      assert.isAtMost(releasedBeforeRefresh, 2, `the refresh waited for ${releasedBeforeRefresh} of ${shards.length} releases`)
      assert.isAtLeast(held.length, shards.length - 2, "the locks the refresh found still held")
      assert.deepStrictEqual(yield* real.refresh(address, shards), [], "every lock released")
    }).pipe(Effect.scoped), { timeout: 60_000 })
})
