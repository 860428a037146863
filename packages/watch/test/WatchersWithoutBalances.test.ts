/**
 * The watchers in a process that keeps no balances: `BalanceCache` is an
 * optional service of the watchers (told of every recorded item when it is
 * there), so without it a watcher records, submits and processes its items
 * as usual. The watchers are made in the test runtime's context with the
 * balance cache taken out; real dev chain, real SQLite task store and watch
 * tables.
 */
import { Tasks } from "@chainjobs/tasks"
import { assert, layer } from "@effect/vitest"
import { Context, Effect, Option } from "effect"
import { BalanceCache } from "../src/BalanceCache.ts"
import * as Watchers from "../src/Watchers.ts"
import { address, DevChain, node, processedCounts, Record, sharedRuntime } from "./fixtures.ts"

/** Runs `effect` in the context it is given, with the balance cache taken out. */
const withoutBalanceCache = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  effect.pipe(Effect.updateContext((context: Context.Context<R>) => Context.omit(BalanceCache)(context) as Context.Context<R>))

layer(sharedRuntime(), { excludeTestServices: true, timeout: 120_000 })("Watchers without a balance cache", (it) => {
  it.effect("a watcher's items are recorded, submitted and processed once; no balance cache is there to tell", () =>
    Effect.gen(function*() {
      const watchers = yield* withoutBalanceCache(Watchers.make({ pollInterval: "50 millis" }))
      assert.isTrue(Option.isNone(yield* withoutBalanceCache(Effect.serviceOption(BalanceCache))), "the balance cache was not taken out")
      const act = node((yield* DevChain.DevChain).url)
      const tasks = yield* Tasks.Tasks
      const watched = address(2)
      yield* watchers.add({ name: "plain", chain: "dev", processor: Record.name, accounts: [watched], confirmations: 1, paused: true })
      const hash = yield* act.sendRaw(yield* act.sign(3, watched, 1n))
      yield* act.mine(1)
      yield* watchers.poll("plain")
      const [row] = yield* watchers.items("plain")
      assert.strictEqual(row?.id, `dev:${hash}`)
      assert.isNotNull(row!.taskId, "the item was not submitted")
      // the processor records the item's outcome in its own transaction
      assert.strictEqual((yield* tasks.awaitInfo(row!.taskId!)).status, "completed")
      const [settled] = yield* watchers.items("plain")
      assert.strictEqual(settled?.status, "processed")
      assert.deepStrictEqual(Array.from((yield* processedCounts("plain")).entries()), [[`dev:${hash}`, 1]])
    }).pipe(Effect.scoped))
})
