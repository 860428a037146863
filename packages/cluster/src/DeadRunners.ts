/**
 * Every runner marks a dead runner unhealthy, not only the one running the
 * cluster's health check.
 *
 * Why: effect's cluster moves a runner's shards once that runner is marked
 * unhealthy in the runner storage, or once its row lapses (its heartbeat,
 * written at each lock refresh, older than the lock expiry). The marking is
 * done by a singleton, `effect/cluster/Sharding/RunnerHealth`, on the one
 * runner holding its shard, which pings every runner each
 * `healthCheckInterval`. When that runner is the one that dies, nothing marks
 * it: its shards, the health check's own among them, wait for its row to
 * lapse, 6.7–10 s after a `kill -9` with 10-s locks (its last heartbeat was
 * up to a third of the expiry before the kill), and a task of it ran again
 * only after 9–11 s, against 3–4 s when the dead runner was checked by
 * another (the two bands of the failover benchmark, one round in three with
 * three runners). So each runner pings every other runner the storage lists
 * as healthy, as the health check does (`RunnerHealth.makePing`: five retries
 * half a second apart), and marks one that does not answer unhealthy.
 *
 * It only ever marks runners unhealthy; marking one healthy again stays the
 * health check's. A runner that is itself not listed healthy (another one
 * could not reach it) judges no one: it may be the one cut off. The price:
 * each runner pings every other once per interval (n·(n−1) pings instead of
 * n), and a runner that one other runner cannot reach, while the health check
 * can, is marked unhealthy by the first and healthy again by the health
 * check: its shards move away and back, where the health check alone would
 * have left them.
 *
 * @since 0.1.0
 */
import { type Duration, Effect } from "effect"
import { type RunnerAddress, RunnerHealth, RunnerStorage } from "effect/cluster"
import { addressOf } from "./LiveRunners.ts"

/**
 * Pings every other runner listed healthy each `interval`, and marks each that does not answer unhealthy in the
 * runner storage, until the scope closes. `self` is this runner's address.
 */
export const watch = Effect.fnUntraced(function*(self: RunnerAddress.RunnerAddress, interval: Duration.Input) {
  const storage = yield* RunnerStorage.RunnerStorage
  const health = yield* RunnerHealth.makePing
  const me = addressOf(self)
  const markIfDead = (address: RunnerAddress.RunnerAddress) =>
    Effect.flatMap(health.isAlive(address), (alive) =>
      alive ? Effect.void : storage.setRunnerHealth(address, false).pipe(
        Effect.andThen(Effect.logInfo(`Runner ${addressOf(address)} does not answer: marked unhealthy by ${me}`))
      ))
  const check = Effect.gen(function*() {
    const runners = yield* storage.getRunners
    if (!runners.some(([runner, healthy]) => healthy && addressOf(runner.address) === me)) return
    const others = runners.flatMap(([runner, healthy]) => healthy && addressOf(runner.address) !== me ? [runner.address] : [])
    yield* Effect.forEach(others, markIfDead, { concurrency: "unbounded", discard: true })
  })
  yield* check.pipe(
    Effect.catchCause((cause) => Effect.logDebug("Could not check the other runners", cause)),
    Effect.andThen(Effect.sleep(interval)),
    Effect.forever,
    Effect.forkScoped
  )
})
