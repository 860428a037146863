/**
 * What a failover round of `npm run bench -- cluster` waited for, read from
 * PostgreSQL while it happens: when the killed runner was marked unhealthy,
 * when its runner row lapsed (its heartbeat older than the lock expiry, which
 * drops it from every runner's view without a health check), and when another
 * runner held the shard of the killed runner's task. Before the kill: whether
 * the killed runner ran the cluster's runner health check (a singleton on one
 * shard, `effect/cluster/Sharding/RunnerHealth`). Shard locks are advisory
 * locks of the cluster's namespace, one per shard (`SqlRunnerStorage`), so a
 * lock's holder (a backend pid) tells the runner holding the shard.
 */
import { Effect } from "effect"
import { SqlClient } from "effect/sql"
import { TaskEntity } from "@chainjobs/cluster"
import { onDatabase } from "../packages/cluster/test/RunnerProcess.ts"

/** The shards per group of the bench's runners (`test/runner.ts`). */
const shards = 30

/** effect's cluster hash of an entity id (`effect/cluster`'s internal `hashString`): the shard a name falls on. */
const shardOf = (entityId: string) => {
  let h = 5381
  let i = entityId.length
  while (i) h = (h * 33) ^ entityId.charCodeAt(--i)
  h = (h & 0xbfffffff) | ((h >>> 1) & 0x40000000)
  return Math.abs(h % shards) + 1
}

/** The advisory lock namespace of the cluster's tables prefixed `cluster` (`SqlRunnerStorage`), as pg_locks shows it. */
const lockNamespace = (() => {
  const bytes = new TextEncoder().encode("effect-cluster:cluster")
  let hash = 0x811c9dc5
  for (const byte of bytes) hash = Math.imul(hash ^ byte, 0x01000193)
  return (hash | 0) >>> 0
})()

/** The shard of the runner health check's singleton. */
export const healthShard = shardOf("effect/cluster/Sharding/RunnerHealth")

/** The shard of a task (an unkeyed one: a bucket of its id). */
export const taskShard = (id: string) => shardOf(TaskEntity.placement({ id, kind: "scan", key: null }))

/** Each held shard's lock holder (a backend pid), this database's cluster locks only. */
export const lockHolders = onDatabase(Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const rows = yield* sql<{ objid: number; pid: number }>`
    SELECT objid::int AS objid, pid FROM pg_locks
    WHERE locktype = 'advisory' AND granted AND classid = ${lockNamespace}::oid AND objsubid = 2
      AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`
  return new Map(rows.map((row) => [row.objid - 1_000_000, row.pid]))
}))

/** The killed runner's row as every runner reads it: listed (heartbeat within the lock expiry) and healthy. */
const runnerRow = (schema: string, address: string) =>
  onDatabase(Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const rows = yield* sql<{ healthy: boolean; listed: boolean }>`
      SELECT healthy, last_heartbeat > NOW() - INTERVAL '10 seconds' AS listed
      FROM ${sql(schema)}.cluster_runners WHERE address = ${address}`
    return rows[0]
  }))

/** Milliseconds after the kill at which each phase was first seen (undefined: not seen before the task started). */
export interface Phases {
  /** Whether the killed runner held the health check's shard when it was killed. */
  readonly ranHealthCheck: boolean
  unhealthy?: number
  lapsed?: number
  shardTaken?: number
}

/**
 * Follows a round from the kill until `done` says the task started again: polls every 100 ms. `before` is the lock
 * holders read just before the kill, `victimShard` the shard of its task.
 */
export const follow = (
  schema: string,
  address: string,
  before: ReadonlyMap<number, number>,
  victimShard: number,
  killed: number,
  done: () => boolean
) =>
  Effect.gen(function*() {
    const victimPid = before.get(victimShard)
    const phases: Phases = { ranHealthCheck: victimPid !== undefined && before.get(healthShard) === victimPid }
    while (!done()) {
      const at = Date.now() - killed
      const row = yield* runnerRow(schema, address)
      if (phases.unhealthy === undefined && row !== undefined && !row.healthy) phases.unhealthy = at
      if (phases.lapsed === undefined && (row === undefined || !row.listed)) phases.lapsed = at
      const holder = (yield* lockHolders).get(victimShard)
      if (phases.shardTaken === undefined && holder !== undefined && holder !== victimPid) phases.shardTaken = at
      yield* Effect.sleep("100 millis")
    }
    return phases
  })

/** A round's phases as one line: seconds after the kill. */
export const describe = (phases: Phases) => {
  const s = (ms: number | undefined) => (ms === undefined ? "–" : `${(ms / 1000).toFixed(1)} s`)
  return `health check ${phases.ranHealthCheck ? "ON the killed runner" : "elsewhere"}; marked unhealthy ${
    s(phases.unhealthy)
  }, row lapsed ${s(phases.lapsed)}, task's shard held elsewhere ${s(phases.shardTaken)}`
}
