/**
 * `BalanceUpkeep.layerSchedules` under the TestClock: `RefreshStale` every 5
 * minutes and `ReconcileAll` every hour by default (or as configured), each
 * run an ordinary task that completes with the pass's counts, and no
 * submission once the layer's scope has closed. The cache is real (SQLite
 * watch tables); it holds no balance, so the passes read no chain.
 */
import { Chains } from "@chainjobs/chain"
import { NodeSqliteClient } from "@chainjobs/store-sql"
import { Tasks } from "@chainjobs/tasks"
import { supervisor } from "@chainjobs/tasks/test/fixtures"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer, Scope } from "effect"
import { TestClock } from "effect/testing"
import { join } from "node:path"
import * as BalanceCache from "../src/BalanceCache.ts"
import * as BalanceUpkeep from "../src/BalanceUpkeep.ts"
import * as EvmAdapter from "../src/EvmAdapter.ts"
import { devChainConfig, tempDirectory } from "./fixtures.ts"

/** The upkeep kinds on a supervisor (memory task store), over a cache on SQLite whose chain is never read. */
const upkeep = Effect.map(tempDirectory, (directory) =>
  supervisor(BalanceUpkeep.layer).pipe(
    Layer.provideMerge(BalanceCache.layer()),
    Layer.provideMerge(EvmAdapter.layer),
    Layer.provideMerge(Chains.layerMemory([devChainConfig("http://127.0.0.1:9")])),
    Layer.provideMerge(NodeSqliteClient.layer({ filename: join(directory, "watch.db") })),
    Layer.orDie
  ))

/**
 * The runs of each upkeep kind so far, each awaited to its end: every one must have completed with an empty pass
 * and carry its kind's key (the concurrency slot a later submission joins, shown with the task).
 */
const runs = Effect.gen(function*() {
  const tasks = yield* Tasks.Tasks
  const count = (kind: string, key: string) =>
    Effect.gen(function*() {
      const page = yield* tasks.list({ kind: [kind], limit: 1000 })
      for (const task of page.items) {
        const done = yield* tasks.awaitInfo(task.id)
        assert.strictEqual(done.status, "completed", `${kind} run ${task.id} ended ${done.status}: ${done.errorMessage}`)
        assert.deepStrictEqual(done.result, { checked: 0, changed: 0, drifted: 0 })
        assert.strictEqual(done.key, key, `${kind} run ${task.id}'s key`)
      }
      return page.items.length
    })
  return {
    refresh: yield* count(BalanceUpkeep.RefreshStale.name, "refresh-stale"),
    reconcile: yield* count(BalanceUpkeep.ReconcileAll.name, "reconcile")
  }
})

/** Moves the test clock a minute at a time (each tick due on the way fires in order), yielding for the submissions it starts. */
const minutes = (n: number) =>
  Effect.gen(function*() {
    for (let i = 0; i < n; i++) {
      yield* TestClock.adjust("1 minute")
      for (let j = 0; j < 20; j++) yield* Effect.yieldNow
    }
  })

describe("BalanceUpkeep schedules", () => {
  it.effect("by default the refresh runs every 5 minutes and the reconcile every hour, until the layer's scope closes", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      yield* Layer.buildWithScope(BalanceUpkeep.layerSchedules(), scope)
      yield* minutes(4)
      assert.deepStrictEqual(yield* runs, { refresh: 0, reconcile: 0 })
      yield* minutes(1)
      assert.deepStrictEqual(yield* runs, { refresh: 1, reconcile: 0 })
      yield* minutes(55)
      assert.deepStrictEqual(yield* runs, { refresh: 12, reconcile: 1 })
      yield* Scope.close(scope, Exit.void)
      yield* minutes(120)
      assert.deepStrictEqual(yield* runs, { refresh: 12, reconcile: 1 }, "submissions went on after the layer's scope closed")
    }).pipe(Effect.provide(Layer.unwrap(upkeep)), Effect.scoped), 60_000)

  it.effect("the intervals given replace the defaults, each on its own", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      yield* Layer.buildWithScope(BalanceUpkeep.layerSchedules({ refreshEvery: "2 minutes", reconcileEvery: "3 minutes" }), scope)
      yield* minutes(6)
      assert.deepStrictEqual(yield* runs, { refresh: 3, reconcile: 2 })
      yield* Scope.close(scope, Exit.void)
      const other = yield* Scope.make()
      yield* Layer.buildWithScope(BalanceUpkeep.layerSchedules({ reconcileEvery: "10 minutes" }), other)
      yield* minutes(10)
      // the refresh keeps its default of 5 minutes: two more runs in 10 minutes; the reconcile one more
      assert.deepStrictEqual(yield* runs, { refresh: 5, reconcile: 3 })
      yield* Scope.close(other, Exit.void)
    }).pipe(Effect.provide(Layer.unwrap(upkeep)), Effect.scoped), 60_000)
})
