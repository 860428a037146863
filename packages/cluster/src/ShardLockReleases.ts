/**
 * The cluster's runner storage (`SqlRunnerStorage`: runners, and shard locks
 * as PostgreSQL advisory locks) with its shard-lock releases taking turns.
 *
 * Why: the advisory locks live on one connection of the runner's own, and
 * every lock operation goes through it: acquisitions, releases, and the
 * refresh that proves the runner still holds its shards, each with a deadline
 * of a third of the lock expiry. The cluster releases each shard on its own,
 * two statements a shard, and when a runner joins, the others release about
 * half their shards at once: 150 of 300, 300 statements queued on that one
 * connection together. On a loaded machine the queue outlasts the deadline:
 * the releases time out (each failure also replaces the lock connection, which
 * drops every lock it held), and the refresh, queued behind them, times out
 * too, so the runner's shard locks count as unhealthy and every shard it holds
 * is force-released. One release at a time, the connection's queue is never
 * longer than one release: the refresh waits behind two statements at most,
 * each release's deadline covers its own statements only, and the releases
 * still go as fast as the one connection allows.
 *
 * @since 0.1.0
 */
import { Effect, Layer, Semaphore } from "effect"
import { RunnerStorage, SqlRunnerStorage } from "effect/cluster"

/** `storage` whose `release`s run one at a time, in the order they were asked for; everything else as it was. */
export const oneAtATime = (storage: RunnerStorage.RunnerStorage["Service"]): RunnerStorage.RunnerStorage["Service"] => {
  const turn = Semaphore.makeUnsafe(1)
  return RunnerStorage.RunnerStorage.of({
    ...storage,
    release: (address, shardId) => turn.withPermits(1)(storage.release(address, shardId))
  })
}

/** The SQL runner storage (`SqlRunnerStorage.layer`) with its releases one at a time (`oneAtATime`). */
export const layer = Layer.effect(
  RunnerStorage.RunnerStorage,
  Effect.map(Effect.service(RunnerStorage.RunnerStorage), oneAtATime)
).pipe(Layer.provide(SqlRunnerStorage.layer))
