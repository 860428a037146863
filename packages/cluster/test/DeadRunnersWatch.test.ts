/**
 * `DeadRunners.watch`, the loop a runner runs (`Runner.layer`), in the test
 * process under the test clock: effect's in-memory runner storage, and the
 * cluster's own ping (`RunnerHealth.makePing`: five retries half a second
 * apart) over a `Runners` service whose pings the test answers (the one fault
 * injected: which runners answer). `DeadRunnersMarking.test.ts` checks one
 * look; `DeadRunners.test.ts` the loop in runner child processes, where a
 * mutation run cannot see it. Here: the loop looks again every interval (a
 * runner that stops answering is marked at the next look, and again after
 * the health check marked it healthy), waits the interval between looks, and
 * a look that fails is logged and the loop goes on.
 */
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Layer } from "effect"
import { ClusterError, MessageStorage, Runner, RunnerAddress, Runners, RunnerStorage, ShardingConfig, Snowflake } from "effect/cluster"
import { TestClock } from "effect/testing"
import * as DeadRunners from "../src/DeadRunners.ts"

const address = (port: number) => RunnerAddress.make("127.0.0.1", port)

/** The health of each listed runner, by port. */
const healthOf = (storage: RunnerStorage.RunnerStorage["Service"]) =>
  Effect.map(storage.getRunners, (runners) => new Map(runners.map(([runner, healthy]) => [runner.address.port, healthy])))

/**
 * Runner 1's watch (`interval` apart) over a memory storage listing runners 1, 2 and 3 healthy, in the current scope;
 * `answering` is the set of ports whose pings answer (changed by the test), `pings` counts the pings sent.
 * `storageOf` may wrap the storage the watch reads (a fault of its own).
 */
const watching = (
  interval: Duration.Input,
  storageOf: (storage: RunnerStorage.RunnerStorage["Service"]) => RunnerStorage.RunnerStorage["Service"] = (storage) => storage
) =>
  Effect.gen(function*() {
    const storage = yield* RunnerStorage.makeMemory
    for (const port of [1, 2, 3]) {
      yield* storage.register(Runner.make({ address: address(port), groups: ["default"], weight: 1 }), true)
    }
    const answering = new Set([1, 2, 3])
    const pings = { count: 0 }
    const noop = yield* Runners.makeNoop.pipe(
      Effect.provide(Layer.mergeAll(ShardingConfig.layer(), MessageStorage.layerNoop, Snowflake.layerGenerator))
    )
    const runners = Runners.Runners.of({
      ...noop,
      ping: (to) =>
        Effect.suspend(() => {
          pings.count++
          return answering.has(to.port) ? Effect.void : Effect.fail(new ClusterError.RunnerUnavailable({ address: to }))
        })
    })
    yield* DeadRunners.watch(address(1), interval).pipe(
      Effect.provideService(Runners.Runners, runners),
      Effect.provideService(RunnerStorage.RunnerStorage, storageOf(storage))
    )
    return { storage, answering, pings }
  })

describe("DeadRunners.watch", () => {
  it.effect("looks again every interval: a runner that stops answering is marked at the next look, and again once marked healthy", () =>
    Effect.gen(function*() {
      const { answering, storage } = yield* watching("1 second")
      yield* TestClock.adjust(Duration.seconds(5))
      assert.deepStrictEqual([...(yield* healthOf(storage))], [[1, true], [2, true], [3, true]], "every runner answers")
      answering.delete(3)
      // the next look pings 3 for 2.5 s (five retries), then marks it
      yield* TestClock.adjust(Duration.seconds(5))
      assert.isFalse((yield* healthOf(storage)).get(3), "3 marked once it stopped answering")
      // the health check marks it healthy again; it still does not answer
      yield* storage.setRunnerHealth(address(3), true)
      yield* TestClock.adjust(Duration.seconds(5))
      assert.isFalse((yield* healthOf(storage)).get(3), "3 marked again at a later look")
      assert.isTrue((yield* healthOf(storage)).get(2), "2 answers: never marked")
    }).pipe(Effect.scoped))

  it.effect("waits the interval between looks: ten seconds of 1-second looks ping each other runner about ten times", () =>
    Effect.gen(function*() {
      const { pings } = yield* watching("1 second")
      yield* TestClock.adjust(Duration.seconds(10))
      // two others, one look at the start and one per second: 22 pings; a loop not waiting would ping without end
      assert.isAtLeast(pings.count, 20, "it keeps looking")
      assert.isAtMost(pings.count, 22, "one look per interval")
    }).pipe(Effect.scoped))

  it.effect("a look whose storage read fails is passed over: the next look marks a runner that stopped answering", () =>
    Effect.gen(function*() {
      let reads = 0
      const { answering, storage } = yield* watching("1 second", (storage) => ({
        ...storage,
        getRunners: Effect.suspend(() =>
          ++reads <= 2 ? Effect.fail(new ClusterError.PersistenceError({ cause: "injected" })) : storage.getRunners
        )
      }))
      answering.delete(2)
      yield* TestClock.adjust(Duration.seconds(1))
      assert.isTrue((yield* healthOf(storage)).get(2), "nothing marked while the storage cannot be read")
      yield* TestClock.adjust(Duration.seconds(10))
      assert.isAtLeast(reads, 3, "the watch read the storage again after its failures")
      assert.isFalse((yield* healthOf(storage)).get(2), "2 marked at the first look that could read")
    }).pipe(Effect.scoped))
})
