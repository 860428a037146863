/**
 * Example 90's payments backend on Sui: a poller (a watcher following the
 * checkpoints) feeds workers (processor tasks) that record each SUI payment
 * to a wallet exactly once; balances are read from a cache for display, from
 * the network for a critical operation, and an hourly reconcile finds a
 * change the cache could not have known of. No Sui node installs here, so the
 * network is the Sui package's stand-in node (`@chainjobs/sui/testing`:
 * the specification's recorded responses on 127.0.0.1); the same program
 * runs on a real endpoint given its URL.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Layer } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { NodeSqliteClient, SqlTaskStore } from "@chainjobs/store-sql"
import { SuiAdapter, SuiClient } from "@chainjobs/sui"
import * as SuiStandIn from "@chainjobs/sui/testing"
import { Tasks } from "@chainjobs/tasks"
import { BalanceCache, BalanceUpkeep, Watchers } from "@chainjobs/watch"
import { balanceSteps, countDeposits, createDeposits, Deposit, DepositLive, processedUpTo, resubmitFirst } from "../90_poller-and-workers/deposits.ts"

const sui = "0x2::sui::SUI"
const address = (hex: string) => `0x${hex.padStart(64, "0")}`
const [wallet, payer, other] = [address("a11ce"), address("b0b"), address("ca401")]
const MIST = 1_000_000_000n

/** A SUI transfer: the sender's balance change and the recipient's. */
const transfer = (from: string, to: string, amount: bigint): SuiStandIn.Transaction => ({
  sender: from,
  changes: [{ owner: from, coinType: sui, amount: -amount }, { owner: to, coinType: sui, amount }]
})

/** The wallet's SUI balance as the node answers it (`suix_getBalance`). */
const nodeBalance = (url: string) =>
  Effect.promise(async () => {
    const response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "suix_getBalance", params: [wallet, sui] })
    })
    return BigInt(((await response.json()) as { result: { totalBalance: string } }).result.totalBalance)
  })

const program = (node: SuiStandIn.StandIn) =>
  Effect.gen(function*() {
    const first = SuiStandIn.firstCheckpoint + 1
    // six checkpoints: four pay the wallet, two move SUI between others
    for (let index = 0; index < 6; index++) {
      node.addCheckpoint([index % 3 === 2 ? transfer(payer, other, 3n * MIST) : transfer(payer, wallet, BigInt(index + 1) * MIST)])
    }
    yield* Console.log(`sui stand-in: checkpoints ${first}..${first + 5} seeded (4 payments to the wallet)`)
    yield* createDeposits

    const watchers = yield* Watchers.Watchers
    yield* watchers.add({ name: "deposits", chain: "sui-local", processor: Deposit.name, accounts: [wallet], confirmations: 1, startBlock: first })
    yield* Console.log(`poller: watching one wallet from checkpoint ${first}, 1 confirmation, polling every 100 ms`)
    // One checkpoint more puts the last seeded one at confirmation depth.
    node.addCheckpoint([])
    yield* processedUpTo("deposits", first + 5)
    const seen = yield* countDeposits
    yield* Console.log(`workers: ${seen.rows} transfers of the wallet processed, ${seen.distinct} distinct`)

    // A transfer submitted again (a poller that crashed before marking it submitted) is not processed twice.
    yield* resubmitFirst("deposits")

    // New activity: a payment to the wallet, found at the next poll.
    node.addCheckpoint([transfer(payer, wallet, 7n * MIST)])
    node.addCheckpoint([])
    yield* processedUpTo("deposits", first + 7)
    yield* Console.log(`workers: a new payment to the wallet processed; ${(yield* countDeposits).rows} rows`)

    yield* balanceSteps({
      chain: "sui-local",
      wallet,
      source: "network",
      nodeBalance: nodeBalance(node.url),
      // a change the cache cannot know of: the stand-in's balance set directly
      changeBehind: Effect.sync(() => node.setBalance(wallet, sui, 42n * MIST)),
      changedTo: { amount: 42n * MIST, label: "42 SUI" }
    })
  })

const directory = mkdtempSync(join(tmpdir(), "chainjobs-example-95-"))

const main = Effect.gen(function*() {
  const node = yield* SuiStandIn.make()
  const Live = Layer.mergeAll(
    DepositLive,
    BalanceUpkeep.layer,
    BalanceUpkeep.layerSchedules({ refreshEvery: "5 minutes", reconcileEvery: "1 hour" })
  ).pipe(
    Layer.provideMerge(Watchers.layer({ pollInterval: "100 millis" })),
    Layer.provideMerge(BalanceCache.layer()),
    Layer.provideMerge(SuiAdapter.layerMemory([SuiClient.network({ name: "sui-local", endpoints: [{ url: node.url }] })])),
    Layer.provideMerge(Tasks.layer({ shutdownGracePeriod: "1 second" })),
    Layer.provideMerge(SqlTaskStore.layerSqlite({ filename: join(directory, "tasks.db") })),
    Layer.provideMerge(NodeSqliteClient.layer({ filename: join(directory, "watch.db") }))
  )
  yield* program(node).pipe(Effect.provide(Live))
}).pipe(Effect.scoped)

NodeRuntime.runMain(main.pipe(Effect.ensuring(Effect.sync(() => rmSync(directory, { recursive: true, force: true })))))
