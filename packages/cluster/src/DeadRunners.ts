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
 * could not reach it) judges no one: it may be the one cut off. Nor does a
 * runner that reaches none of two or more others: it is likelier the one cut
 * off (its own network) than all of them dead, and marking them all would
 * move every shard to it. The price:
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
 * One look: pings (`isAlive`) every other runner listed healthy and marks each that does not answer unhealthy in the
 * runner storage — unless this runner (`self`) is not listed healthy itself, or none of two or more others answers.
 * Returns the addresses it marked.
 */
export const markDead = Effect.fnUntraced(function*(
  self: RunnerAddress.RunnerAddress,
  isAlive: (address: RunnerAddress.RunnerAddress) => Effect.Effect<boolean>
) {
  const storage = yield* RunnerStorage.RunnerStorage
  const me = addressOf(self)
  const runners = yield* storage.getRunners
  if (!runners.some(([runner, healthy]) => healthy && addressOf(runner.address) === me)) return []
  const others = runners.flatMap(([runner, healthy]) => healthy && addressOf(runner.address) !== me ? [runner.address] : [])
  const answers = yield* Effect.forEach(others, isAlive, { concurrency: "unbounded" })
  const dead = others.filter((_, i) => !answers[i])
  if (others.length >= 2 && dead.length === others.length) {
    yield* Effect.logWarning(`No other runner answers ${me}: it marks none of the ${others.length} unhealthy (it may be the one cut off)`)
    return []
  }
  for (const address of dead) {
    yield* storage.setRunnerHealth(address, false)
    yield* Effect.logInfo(`Runner ${addressOf(address)} does not answer: marked unhealthy by ${me}`)
  }
  return dead
})

/**
 * Pings every other runner listed healthy each `interval`, and marks each that does not answer unhealthy in the
 * runner storage (`markDead`), until the scope closes. `self` is this runner's address.
 */
export const watch = Effect.fnUntraced(function*(self: RunnerAddress.RunnerAddress, interval: Duration.Input) {
  const health = yield* RunnerHealth.makePing
  yield* markDead(self, health.isAlive).pipe(
    Effect.catchCause((cause) => Effect.logDebug("Could not check the other runners", cause)),
    Effect.andThen(Effect.sleep(interval)),
    Effect.forever,
    Effect.forkScoped
  )
})
