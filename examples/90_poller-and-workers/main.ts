/**
 * A payments backend's chain integration, on a local EVM chain: a poller
 * (a watcher following the head) feeds workers (processor tasks) that record
 * each transfer of a wallet exactly once; balances are read from a cache for
 * display, from the chain for a critical operation, and an hourly reconcile
 * finds a change the cache could not have known of.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Layer } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { createWalletClient, defineChain, http, parseEther } from "viem"
import { DevChain, DevSeed } from "@chainjobs/devchain"
import { NodeSqliteClient, SqlTaskStore } from "@chainjobs/store-sql"
import { Tasks } from "@chainjobs/tasks"
import { BalanceCache, BalanceUpkeep, EvmAdapter, Watchers } from "@chainjobs/watch"
import { balanceSteps, countDeposits, createDeposits, Deposit, DepositLive, processedUpTo, resubmitFirst } from "./deposits.ts"

/** One JSON-RPC call to the node. */
const rpc = (url: string, method: string, params: ReadonlyArray<unknown>) =>
  Effect.promise(async () => {
    const response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params })
    })
    return ((await response.json()) as { result: unknown }).result
  })

const program = Effect.gen(function*() {
    const chain = yield* DevChain.DevChain
    const seeded = yield* DevSeed.seed({ rounds: 12 })
    const wallet = seeded.participants[1]
    yield* Console.log(`dev chain: seeded blocks ${seeded.fromBlock}..${seeded.toBlock}`)
    yield* createDeposits

    const watchers = yield* Watchers.Watchers
    yield* watchers.add({ name: "deposits", chain: "dev", processor: Deposit.name, accounts: [wallet], confirmations: 1, startBlock: seeded.fromBlock })
    yield* Console.log("poller: watching one wallet from the first seeded block, 1 confirmation, polling every 100 ms")
    // One block more puts the last seeded block at confirmation depth.
    yield* rpc(chain.url, "hardhat_mine", ["0x1"])
    yield* processedUpTo("deposits", seeded.toBlock)
    const seen = yield* countDeposits
    yield* Console.log(`workers: ${seen.rows} transfers of the wallet processed, ${seen.distinct} distinct`)

    // A transfer submitted again: the worker finds it processed and returns the recorded outcome.
    yield* resubmitFirst("deposits")

    // New activity: a payment to the wallet, found at the next poll.
    const definition = defineChain({
      id: chain.chainId,
      name: "dev",
      nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
      rpcUrls: { default: { http: [chain.url] } }
    })
    const payer = createWalletClient({ chain: definition, transport: http(chain.url) })
    yield* Effect.promise(() => payer.sendTransaction({ account: DevChain.accounts[12].address, to: wallet, value: parseEther("1") }))
    yield* rpc(chain.url, "hardhat_mine", ["0x1"])
    yield* processedUpTo("deposits", seeded.toBlock + 2)
    yield* Console.log(`workers: a new payment to the wallet processed; ${(yield* countDeposits).rows} rows`)

    yield* balanceSteps({
      chain: "dev",
      wallet,
      source: "chain",
      nodeBalance: Effect.map(rpc(chain.url, "eth_getBalance", [wallet, "latest"]), (balance) => BigInt(balance as string)),
      // a change the cache cannot know of: no transaction
      changeBehind: Effect.asVoid(rpc(chain.url, "hardhat_setBalance", [wallet, "0xde0b6b3a7640000"])),
      changedTo: { amount: parseEther("1"), label: "1 ETH" }
    })
  })

const directory = mkdtempSync(join(tmpdir(), "chainjobs-example-90-"))

const Live = Layer.mergeAll(
  DepositLive,
  BalanceUpkeep.layer,
  BalanceUpkeep.layerSchedules({ refreshEvery: "5 minutes", reconcileEvery: "1 hour" })
).pipe(
  Layer.provideMerge(Watchers.layer({ pollInterval: "100 millis" })),
  Layer.provideMerge(BalanceCache.layer()),
  Layer.provideMerge(EvmAdapter.layer),
  Layer.provideMerge(Tasks.layer({ shutdownGracePeriod: "1 second" })),
  Layer.provideMerge(SqlTaskStore.layerSqlite({ filename: join(directory, "tasks.db") })),
  Layer.provideMerge(NodeSqliteClient.layer({ filename: join(directory, "watch.db") })),
  Layer.provideMerge(DevChain.layerChains())
)

NodeRuntime.runMain(
  program.pipe(
    Effect.provide(Live),
    Effect.ensuring(Effect.sync(() => rmSync(directory, { recursive: true, force: true })))
  )
)
