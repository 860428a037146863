/**
 * The watch package's Watchers service and balance cache on a Sui network:
 * the stand-in node serves checkpoints (transactions paged with cursors), the
 * watch runtime runs on real SQLite files, as the EVM tests run it on Hardhat.
 */
import { SqlTaskStore, NodeSqliteClient } from "@chainjobs/store-sql"
import { Tasks } from "@chainjobs/tasks"
import { BalanceCache, BalanceUpkeep, Watchers, WatchItem } from "@chainjobs/watch"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { SqlClient } from "effect/sql"
import { join } from "node:path"
import { eventually, processedCounts, processedLog, Record, recordLayer, tempDirectory } from "../../watch/test/fixtures.ts"
import * as SuiAdapter from "../src/SuiAdapter.ts"
import * as SuiStandIn from "./SuiStandIn.ts"

const sui = "0x2::sui::SUI"
const usdc = "0x168da5bf1f48dafc111b0a488fa454aca95e0b5e::usdc::USDC"
const address = (n: number) => `0x${n.toString(16).padStart(64, "0")}`

const createLog = Layer.effectDiscard(Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql.unsafe(`CREATE TABLE IF NOT EXISTS ${processedLog} (watcher text NOT NULL, item_id text NOT NULL)`)
}).pipe(Effect.orDie))

/** A watching process on the stand-in's network `sui`: supervisor and watch tables on SQLite files in `directory`. */
const runtime = (directory: string, url: string) => {
  const supervisor = Tasks.layer({ shutdownGracePeriod: "1 second" }).pipe(
    Layer.provide(SqlTaskStore.layerSqlite({ filename: join(directory, "tasks.db") }))
  )
  return Layer.mergeAll(recordLayer(), BalanceUpkeep.layer).pipe(
    Layer.provideMerge(Watchers.layer({ pollInterval: "50 millis" })),
    Layer.provideMerge(BalanceCache.layer()),
    Layer.provideMerge(Layer.mergeAll(SuiAdapter.layerMemory([SuiStandIn.network([url])]), supervisor)),
    Layer.provideMerge(createLog),
    Layer.provideMerge(NodeSqliteClient.layer({ filename: join(directory, "watch.db"), synchronous: "FULL" })),
    Layer.orDie
  )
}

/** Checkpoints of activity: transfers of SUI and a coin among eight addresses, two of them watched, several transactions a checkpoint. */
const activity = (node: SuiStandIn.StandIn, checkpoints: number, seed: number) => {
  for (let index = 0; index < checkpoints; index++) {
    node.addCheckpoint(Array.from({ length: 1 + ((seed + index) % 4) }, (_, n) => {
      const from = address(1 + ((seed + index + n) % 8))
      const to = address(1 + ((seed + index + 3 * n + 1) % 8))
      const coinType = (index + n) % 3 === 0 ? usdc : sui
      const amount = BigInt(1 + index + n)
      return { sender: from, changes: [{ owner: from, coinType, amount: -amount }, { owner: to, coinType, amount }] }
    }))
  }
}

const caughtUp = (name: string, checkpoint: number) =>
  eventually(Effect.gen(function*() {
    const lag = yield* (yield* Watchers.Watchers).lag(name)
    return lag.confirmed >= checkpoint && lag.processed >= checkpoint
  }))

describe("Watchers and the balance cache on a Sui network", () => {
  it.live("every item is processed exactly once across a restart in the middle, as the node served them", () =>
    Effect.gen(function*() {
      const node = yield* SuiStandIn.make({ maxPage: 2 })
      const directory = yield* tempDirectory
      const watched = [address(1), address(2)]
      const start = SuiStandIn.firstCheckpoint + 1
      activity(node, 8, 0)

      // the first process: add the watcher, stop once some of the range is processed
      yield* Effect.gen(function*() {
        const watchers = yield* Watchers.Watchers
        yield* watchers.add({ name: "wallets", chain: "sui", processor: Record.name, accounts: watched, confirmations: 2, startBlock: start })
        yield* caughtUp("wallets", start + 3)
      }).pipe(Effect.provide(runtime(directory, node.url), { local: true }), Effect.scoped)

      // more checkpoints while no process runs, then a second process on the same files
      activity(node, 8, 5)
      const last = node.addCheckpoint([]) - 2
      yield* Effect.gen(function*() {
        yield* caughtUp("wallets", last)
        // every balance change of a watched address the node served, an item at the change's index after the events
        const expected = node.added.filter((entry) => entry.checkpoint <= last).flatMap((entry) =>
          entry.transaction.changes.flatMap((change, index) =>
            watched.includes(change.owner)
              ? [WatchItem.id({ chain: "sui", transaction: entry.digest, position: (entry.transaction.events?.length ?? 0) + index })]
              : []
          )
        ).sort()
        const counts = yield* processedCounts("wallets")
        assert.isTrue(expected.length > 10)
        assert.deepStrictEqual(Array.from(counts.keys()).sort(), expected)
        assert.isTrue(Array.from(counts.values()).every((count) => count === 1))
      }).pipe(Effect.provide(runtime(directory, node.url), { local: true }), Effect.scoped)
    }).pipe(Effect.scoped), 60_000)

  it.live("a drift behind the cache is found by the reconcile task and recorded", () =>
    Effect.gen(function*() {
      const node = yield* SuiStandIn.make()
      const directory = yield* tempDirectory
      const account = address(40)
      node.setBalance(account, sui, 5_000n)
      yield* Effect.gen(function*() {
        const cache = yield* BalanceCache.BalanceCache
        const tasks = yield* Tasks.Tasks
        assert.strictEqual((yield* cache.read("sui", account, "native")).amount, 5_000n)
        node.setBalance(account, sui, 7_000n)
        assert.strictEqual((yield* cache.read("sui", account, "native")).amount, 5_000n)
        const result = yield* tasks.run(BalanceUpkeep.ReconcileAll, {})
        assert.isTrue(result.drifted >= 1)
        assert.strictEqual((yield* cache.read("sui", account, "native")).amount, 7_000n)
        const [entry] = (yield* cache.audit(10)).filter((audit) => audit.account === account)
        assert.deepInclude(entry, { cause: "reconcile", before: 5_000n, after: 7_000n, drift: true })
      }).pipe(Effect.provide(runtime(directory, node.url), { local: true }), Effect.scoped)
    }).pipe(Effect.scoped), 60_000)
})
