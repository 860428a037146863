/**
 * The watch package's Watchers service and balance cache on a Sui network:
 * the stand-in node serves checkpoints (transactions paged with cursors), the
 * watch runtime runs on real SQLite files, as the EVM tests run it on Hardhat.
 */
import { SqlTaskStore, NodeSqliteClient } from "@chainjobs/store-sql"
import { Tasks } from "@chainjobs/tasks"
import { BalanceCache, BalanceUpkeep, Watchers, WatchItem } from "@chainjobs/watch"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer } from "effect"
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

  it.live("a watcher of objects processes every change of them exactly once across a restart; a bad object id is refused with nothing stored", () =>
    Effect.gen(function*() {
      const node = yield* SuiStandIn.make({ maxPage: 2 })
      const directory = yield* tempDirectory
      const pool = address(0x9001)
      const start = SuiStandIn.firstCheckpoint + 1
      const writes = (checkpoints: number, seed: number) => {
        for (let index = 0; index < checkpoints; index++) {
          node.addCheckpoint([{
            sender: address(1 + ((seed + index) % 3)),
            changes: [{ owner: address(1 + ((seed + index) % 3)), coinType: sui, amount: -1n }],
            objects: [
              { objectId: address(0x9002), change: "mutated" },
              ...((seed + index) % 2 === 0 ? [{ objectId: pool, change: "mutated" as const }] : [])
            ]
          }])
        }
      }
      writes(6, 0)
      yield* Effect.gen(function*() {
        const watchers = yield* Watchers.Watchers
        const refused = yield* Effect.exit(watchers.add({ name: "pool", chain: "sui", processor: Record.name, objects: ["0xnot-an-id"], confirmations: 1, startBlock: start }))
        assert.isTrue(Exit.isFailure(refused))
        assert.include(String(refused), "is not a Sui object id")
        assert.deepStrictEqual(yield* watchers.list, [])
        const added = yield* watchers.add({ name: "pool", chain: "sui", processor: Record.name, objects: ["0x9001"], confirmations: 1, startBlock: start })
        assert.deepStrictEqual(added.objects, [pool])
        yield* caughtUp("pool", start + 3)
      }).pipe(Effect.provide(runtime(directory, node.url), { local: true }), Effect.scoped)

      writes(6, 1)
      const last = node.addCheckpoint([]) - 1
      yield* Effect.gen(function*() {
        assert.deepStrictEqual((yield* (yield* Watchers.Watchers).get("pool")).objects, [pool])
        yield* caughtUp("pool", last)
        // the pool's change: after the transaction's one balance change and the other object's change
        const expected = node.added.filter((entry) => entry.checkpoint <= last && (entry.transaction.objects ?? []).some((write) => write.objectId === pool))
          .map((entry) => WatchItem.id({ chain: "sui", transaction: entry.digest, position: 2 }))
          .sort()
        const counts = yield* processedCounts("pool")
        assert.strictEqual(expected.length, 6)
        assert.deepStrictEqual(Array.from(counts.keys()).sort(), expected)
        assert.isTrue(Array.from(counts.values()).every((count) => count === 1))
      }).pipe(Effect.provide(runtime(directory, node.url), { local: true }), Effect.scoped)
    }).pipe(Effect.scoped), 60_000)

  it.live("a checkpoint-by-checkpoint scan interrupted midway resumes after its last saved run after a restart: the checkpoints read are not read again, each item once", () =>
    Effect.gen(function*() {
      const node = yield* SuiStandIn.make({ maxPage: 2 })
      const alice = address(1)
      const start = SuiStandIn.firstCheckpoint + 1
      // 60 checkpoints: under the query path's threshold, so read checkpoint by checkpoint, in runs of 16
      activity(node, 60, 3)
      const spec = { name: "runs", chain: "sui", processor: Record.name, accounts: [alice, address(2)], confirmations: 0, startBlock: start, paused: true }
      const checkpointReads = (requests: ReadonlyArray<{ readonly method: string }>) => requests.filter((request) => request.method === "sui_getCheckpoint").length

      // the whole scan once, uninterrupted, for its count of checkpoint reads
      const baselineStart = node.requests.length
      yield* Effect.gen(function*() {
        const watchers = yield* Watchers.Watchers
        yield* watchers.add(spec)
        yield* watchers.poll("runs")
      }).pipe(Effect.provide(runtime(yield* tempDirectory, node.url), { local: true }), Effect.scoped)
      const baseline = node.requests.slice(baselineStart)
      assert.isAtLeast(checkpointReads(baseline), 60)

      // the same scan, the endpoint failing after three quarters of its requests
      const directory = yield* tempDirectory
      yield* Effect.gen(function*() {
        const watchers = yield* Watchers.Watchers
        yield* watchers.add(spec)
        node.outageAfter(Math.floor(baseline.length * 3 / 4))
        const failed = yield* Effect.exit(watchers.poll("runs"))
        assert.isTrue(Exit.isFailure(failed))
        assert.strictEqual((yield* watchers.get("runs")).confirmedBlock, start - 1)
      }).pipe(Effect.provide(runtime(directory, node.url), { local: true }), Effect.scoped)
      node.heal()

      const resumedStart = node.requests.length
      const last = node.addCheckpoint([])
      yield* Effect.gen(function*() {
        yield* (yield* Watchers.Watchers).poll("runs")
        // the runs saved before the outage (two of 16 at least) are not read again; the new checkpoint, the range's ends and the tip are (a few reads)
        assert.isAtMost(checkpointReads(node.requests.slice(resumedStart)), checkpointReads(baseline) - 32 + 8)
        yield* caughtUp("runs", last)
        const watched = new Set([alice, address(2)])
        const expected = node.added.filter((entry) => entry.checkpoint <= last).flatMap((entry) =>
          entry.transaction.changes.flatMap((change, index) => watched.has(change.owner) ? [WatchItem.id({ chain: "sui", transaction: entry.digest, position: index })] : [])
        ).sort()
        const counts = yield* processedCounts("runs")
        assert.isAbove(expected.length, 30)
        assert.deepStrictEqual(Array.from(counts.keys()).sort(), expected)
        assert.isTrue(Array.from(counts.values()).every((count) => count === 1))
      }).pipe(Effect.provide(runtime(directory, node.url), { local: true }), Effect.scoped)
    }).pipe(Effect.scoped), 120_000)

  it.live("a query catch-up interrupted midway resumes from its saved page cursors after a restart: the pages read are not read again, each item once", () =>
    Effect.gen(function*() {
      const node = yield* SuiStandIn.make({ maxPage: 2 })
      const [alice, pool] = [address(1), address(0x9001)]
      const eventType = SuiStandIn.spec.sui_getEvents[0].type as string
      const start = SuiStandIn.firstCheckpoint + 1
      const activityOver = (checkpoints: number) => {
        for (let index = 0; index < checkpoints; index++) {
          node.addCheckpoint([
            ...(index % 5 === 1 ? [{ sender: alice, changes: [{ owner: alice, coinType: sui, amount: -2n }, { owner: address(2), coinType: sui, amount: 2n }] }] : []),
            ...(index % 7 === 2 ? [{ sender: address(3), changes: [{ owner: address(3), coinType: sui, amount: -3n }, { owner: alice, coinType: usdc, amount: 3n }] }] : []),
            ...(index % 6 === 3 ? [{ sender: address(4), changes: [], events: [{ type: eventType, fields: { index } }] }] : []),
            ...(index % 9 === 4 ? [{ sender: address(5), changes: [], objects: [{ objectId: pool, change: "mutated" as const }] }] : [])
          ])
        }
      }
      activityOver(150)
      const spec = {
        name: "catchup",
        chain: "sui",
        processor: Record.name,
        accounts: [alice],
        contracts: [{ address: eventType.split("::")[0]!, events: ["test::TestEvent"] }],
        objects: [pool],
        confirmations: 0,
        startBlock: start,
        paused: true
      }
      const queries = (requests: ReadonlyArray<{ readonly method: string }>) =>
        requests.filter((request) => request.method === "suix_queryTransactionBlocks" || request.method === "suix_queryEvents").length

      // the whole catch-up once, uninterrupted, for its count of query requests
      const baselineStart = node.requests.length
      yield* Effect.gen(function*() {
        const watchers = yield* Watchers.Watchers
        yield* watchers.add(spec)
        yield* watchers.poll("catchup")
      }).pipe(Effect.provide(runtime(yield* tempDirectory, node.url), { local: true }), Effect.scoped)
      const baseline = node.requests.slice(baselineStart)
      const baselineQueries = queries(baseline)
      assert.isAbove(baselineQueries, 20)

      // the same catch-up, the endpoint failing halfway through its queries
      const directory = yield* tempDirectory
      const interruptedStart = node.requests.length
      const answered = Math.floor(baselineQueries / 2)
      yield* Effect.gen(function*() {
        const watchers = yield* Watchers.Watchers
        yield* watchers.add(spec)
        node.outageAfter(answered)
        const failed = yield* Effect.exit(watchers.poll("catchup"))
        assert.isTrue(Exit.isFailure(failed))
        assert.strictEqual((yield* watchers.get("catchup")).confirmedBlock, start - 1)
      }).pipe(Effect.provide(runtime(directory, node.url), { local: true }), Effect.scoped)
      node.heal()
      const answeredQueries = queries(node.requests.slice(interruptedStart, interruptedStart + answered))
      assert.isAbove(answeredQueries, 8)

      // more checkpoints meanwhile: the resumed scan keeps its range, the rest is read after it
      activityOver(6)
      const resumedStart = node.requests.length
      const last = node.addCheckpoint([])
      yield* Effect.gen(function*() {
        yield* (yield* Watchers.Watchers).poll("catchup")
        const resumed = node.requests.slice(resumedStart)
        // at most the two pages in flight when the endpoint failed are read again
        assert.isAtMost(queries(resumed), baselineQueries - answeredQueries + 2)
        yield* caughtUp("catchup", last)
        const expected = node.added.filter((entry) => entry.checkpoint <= last).flatMap((entry) => {
          const events = entry.transaction.events ?? []
          const changes = entry.transaction.changes
          return [
            ...events.map((_, index) => index),
            ...changes.flatMap((change, index) => change.owner === alice ? [events.length + index] : []),
            ...(entry.transaction.objects ?? []).flatMap((write, index) => write.objectId === pool ? [events.length + changes.length + index] : [])
          ].map((position) => WatchItem.id({ chain: "sui", transaction: entry.digest, position }))
        }).sort()
        const counts = yield* processedCounts("catchup")
        assert.isAbove(expected.length, 60)
        assert.deepStrictEqual(Array.from(counts.keys()).sort(), expected)
        assert.isTrue(Array.from(counts.values()).every((count) => count === 1))
      }).pipe(Effect.provide(runtime(directory, node.url), { local: true }), Effect.scoped)
    }).pipe(Effect.scoped), 120_000)

  it.live("every asset of an account: listed from the node in one read, then from the cache until the account's activity makes the listing stale; a coin no longer held reads 0", () =>
    Effect.gen(function*() {
      const node = yield* SuiStandIn.make()
      const directory = yield* tempDirectory
      const account = address(41)
      const usdcCanonical = `0x${"168da5bf1f48dafc111b0a488fa454aca95e0b5e".padStart(64, "0")}::usdc::USDC`
      const other = `0x${"77".padStart(64, "0")}::coin::OTHER`
      node.setBalance(account, sui, 9_000n)
      node.setBalance(account, usdc, 40n)
      const asked = (method: string) => node.requests.filter((request) => request.method === method).length
      yield* Effect.gen(function*() {
        const cache = yield* BalanceCache.BalanceCache
        const summary = (balances: ReadonlyArray<BalanceCache.Balance>) => balances.map((b) => [b.asset, b.amount, b.fromChain])
        assert.deepStrictEqual(summary(yield* cache.readAll("sui", account)), [["native", 9_000n, true], [usdcCanonical, 40n, true]])
        assert.strictEqual(asked("suix_getAllBalances"), 1)
        assert.strictEqual(asked("suix_getBalance"), 0)
        // cached: no request, the single reads too
        assert.deepStrictEqual(summary(yield* cache.readAll("sui", account.replace(/0x0+/, "0x"))), [["native", 9_000n, false], [usdcCanonical, 40n, false]])
        assert.deepInclude(yield* cache.read("sui", account, usdc), { asset: usdcCanonical, amount: 40n, fromChain: false })
        assert.strictEqual(asked("suix_getAllBalances"), 1)
        // activity: a new coin arrives, the usdc leaves; an item of the account makes the listing stale
        node.setBalance(account, usdc, 0n)
        node.setBalance(account, other, 5n)
        yield* cache.observe("sui", [new WatchItem.WatchItem({
          watcher: "w", chain: "sui", kind: "token", block: 1, blockHash: "h", transaction: "t", position: 0,
          from: null, to: account, amount: "5", asset: other, contract: null, event: null, args: null
        })])
        assert.deepStrictEqual(summary(yield* cache.readAll("sui", account)), [["native", 9_000n, true], [other, 5n, true], [usdcCanonical, 0n, true]])
        assert.strictEqual(asked("suix_getAllBalances"), 2)
        // verify reads again; a bad coin type is refused
        assert.strictEqual((yield* cache.readAll("sui", account, { verify: true })).length, 3)
        assert.strictEqual(asked("suix_getAllBalances"), 3)
        const refused = yield* Effect.exit(cache.read("sui", account, "0x2::sui"))
        assert.include(String(refused), "is not a Sui coin type")
        assert.deepInclude(yield* cache.read("sui", account, sui), { asset: "native", amount: 9_000n })
      }).pipe(Effect.provide(runtime(directory, node.url), { local: true }), Effect.scoped)
    }).pipe(Effect.scoped), 60_000)
})
