/**
 * effect's in-memory sharding for fast tests of one runner's parts in the test
 * process (as effect's `TestRunner.layer`: one runner holding every shard, no
 * other runner, messages to its entities delivered in memory), with few
 * shards: the guard entities of every shard open within the first looks.
 * Its runner storage is among what it provides (`LiveRunners` reads it).
 *
 * No database, no socket, no second runner: a test on it takes about a
 * second, so a mutation run can afford it for every mutant of the parts it
 * drives (`LocalAdmission`, `TaskEntity`, `ClusterTasks`).
 */
import { Layer } from "effect"
import { MessageStorage, RunnerHealth, Runners, RunnerStorage, Sharding, ShardingConfig } from "effect/cluster"

/** Shards per group. */
export const shards = 12

/** The sharding, with its runners (none but this one), message storage and runner storage, all in memory. */
export const inMemorySharding = Sharding.layer.pipe(
  Layer.provideMerge(Runners.layerNoop),
  Layer.provideMerge(MessageStorage.layerMemory),
  Layer.provideMerge(RunnerStorage.layerMemory),
  Layer.provide(RunnerHealth.layerNoop),
  Layer.provide(ShardingConfig.layer({ shardsPerGroup: shards }))
)
