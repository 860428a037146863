/**
 * What one look of `DeadRunners` marks, over effect's in-memory runner
 * storage with the pings answered by the test (the one fault injected: which
 * runners answer): a runner that does not answer is marked unhealthy; a
 * runner that reaches none of two or more others marks no one (it is likelier
 * the one cut off, and marking them all would move every shard to it); a
 * runner not listed healthy itself judges no one; the one other runner of a
 * pair is marked when it does not answer (nothing else could tell).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { Runner, RunnerAddress, RunnerStorage } from "effect/cluster"
import * as DeadRunners from "../src/DeadRunners.ts"

const address = (port: number) => RunnerAddress.make("127.0.0.1", port)

/** A memory runner storage listing runners on `ports` (healthy unless in `unhealthy`); their health after one look of runner `self`, answering those in `alive`. */
const look = (ports: ReadonlyArray<number>, self: number, alive: ReadonlyArray<number>, unhealthy: ReadonlyArray<number> = []) =>
  Effect.gen(function*() {
    const storage = yield* RunnerStorage.makeMemory
    for (const port of ports) {
      yield* storage.register(Runner.make({ address: address(port), groups: ["default"], weight: 1 }), !unhealthy.includes(port))
    }
    const pinged: Array<number> = []
    const marked = yield* DeadRunners.markDead(address(self), (runner) =>
      Effect.sync(() => {
        pinged.push(runner.port)
        return alive.includes(runner.port)
      })).pipe(Effect.provideService(RunnerStorage.RunnerStorage, storage))
    const healthy = new Map((yield* storage.getRunners).map(([runner, isHealthy]) => [runner.address.port, isHealthy]))
    return { marked: marked.map((runner) => runner.port), healthy, pinged: pinged.sort() }
  })

describe("DeadRunners.markDead", () => {
  it.effect("marks the runners that do not answer, and only them; pings only the others listed healthy", () =>
    Effect.gen(function*() {
      const { healthy, marked, pinged } = yield* look([1, 2, 3, 4, 5], 1, [2, 4], [5])
      assert.deepStrictEqual(pinged, [2, 3, 4])
      assert.deepStrictEqual(marked, [3])
      assert.deepStrictEqual([...healthy].sort(), [[1, true], [2, true], [3, false], [4, true], [5, false]])
    }))

  it.effect("a runner that reaches none of two or more others marks no one", () =>
    Effect.gen(function*() {
      const { healthy, marked } = yield* look([1, 2, 3], 1, [])
      assert.deepStrictEqual(marked, [])
      assert.isTrue([...healthy.values()].every((isHealthy) => isHealthy))
    }))

  it.effect("the one other runner of a pair is marked when it does not answer", () =>
    Effect.gen(function*() {
      const { healthy, marked } = yield* look([1, 2], 1, [])
      assert.deepStrictEqual(marked, [2])
      assert.isFalse(healthy.get(2))
    }))

  it.effect("a runner not listed healthy itself judges no one", () =>
    Effect.gen(function*() {
      const { marked, pinged } = yield* look([1, 2, 3], 1, [2], [1])
      assert.deepStrictEqual([marked, pinged], [[], []])
    }))

  it.effect("pings the others at once: a dead runner's 2.5 s of retries delay no other's verdict", () =>
    Effect.gen(function*() {
      const storage = yield* RunnerStorage.makeMemory
      for (const port of [1, 2, 3, 4]) {
        yield* storage.register(Runner.make({ address: address(port), groups: ["default"], weight: 1 }), true)
      }
      // every ping is under way before any answers: one after the other, at most one would be
      let inFlight = 0
      let most = 0
      const marked = yield* DeadRunners.markDead(address(1), (runner) =>
        Effect.gen(function*() {
          most = Math.max(most, ++inFlight)
          yield* Effect.yieldNow
          inFlight--
          return runner.port !== 3
        })).pipe(Effect.provideService(RunnerStorage.RunnerStorage, storage))
      assert.strictEqual(most, 3, "the three pings were under way together")
      assert.deepStrictEqual(marked.map((runner) => runner.port), [3])
    }))
})
