/**
 * Watchers and the balance cache on a local Hardhat node, side by side in one run:
 *
 * - catch-up: a watcher starting ~1,000 blocks behind the head with 10,000
 *   monitored addresses (6 with activity) reaches the head (confirmed cursor)
 *   and finishes processing every item, against two naive sequential viem
 *   loops over the same blocks, one request at a time: one that asks the node
 *   about each block and each address (per block a `getBlock` with
 *   transactions; per address a `getLogs` of its sent and one of its received
 *   Transfers over the range), and a kinder one whose cost does not grow with
 *   the address count (per block a `getBlock` and a `getLogs` of every
 *   Transfer, matched in process); all must find the same items;
 * - steady-state lag: one transfer to a watched address at a time, then the
 *   blocks that bring it to confirmation depth; the time from the last of
 *   those blocks being mined to the item's processing task finishing (from the
 *   supervisor's events), p50 and p99, against the poll interval, for a
 *   watcher that polls and one whose chain also pushes new heads over a
 *   WebSocket;
 * - balance reads: a cached read (`BalanceCache.read`, its memory front; and
 *   a cache without the front, each read a SQLite query) against a chain read
 *   (the adapter's `eth_getBalance`) on the loopback node, and against the
 *   same read through a proxy holding each request 100 ms (a remote
 *   provider, simulated — labelled so), per read, in process; and the cached
 *   read over REST (`WatchApi`'s `GET /api/watch/balances/…` on a 127.0.0.1
 *   socket, goal p50 ≤ 2 ms).
 */
import { Activity, ChainConfig, Chains } from "@chainjobs/chain"
import { DevChain, DevSeed } from "@chainjobs/devchain"
import { NodeSqliteClient } from "@chainjobs/store-sql"
import { TaskStore, Tasks } from "@chainjobs/tasks"
import { BalanceCache, ChainAdapter, EvmAdapter, WatchApi, Watchers, WatchProcessor } from "@chainjobs/watch"
import { NodeHttpServer } from "@effect/platform-node"
import { Context, Effect, Fiber, Layer, Stream } from "effect"
import { HttpRouter, HttpServer } from "effect/http"
import { createServer } from "node:http"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { type Address, createPublicClient, createTestClient, createWalletClient, http, pad, toHex, type Transaction } from "viem"
import { fmt, perSecond, table } from "./_measure.ts"
import { naiveScan, transfer } from "./_naiveScan.ts"

const ADDRESSES = 10_000
const POLL_MILLIS = 100
const CONFIRMATIONS = 2
const LAG_SAMPLES = 60
const READS = 2_000
const REMOTE_READS = 20
const SIMULATED_LATENCY_MILLIS = 100

/** An HTTP proxy to `target` holding each request `millis` before forwarding it: a remote provider's latency, simulated. */
const delayProxy = (target: string, millis: number) =>
  new Promise<{ readonly url: string; readonly close: () => Promise<void> }>((resolve) => {
    const server = createServer((request, response) => {
      const chunks: Array<Buffer> = []
      request.on("data", (chunk: Buffer) => chunks.push(chunk))
      request.on("end", () =>
        setTimeout(async () => {
          const forwarded = await fetch(target, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: Buffer.concat(chunks)
          })
          response.writeHead(forwarded.status, { "content-type": "application/json" })
          response.end(await forwarded.text())
        }, millis))
    })
    server.listen(0, "127.0.0.1", () => {
      const address = server.address() as { readonly port: number }
      resolve({
        url: `http://127.0.0.1:${address.port}`,
        close: () => new Promise((done) => server.close(() => done()))
      })
    })
  })


/** The naive loop asking about each block and each address: a block query per block, two log queries per address. */
const perAddressScan = async (url: string, addresses: ReadonlyArray<string>, fromBlock: number, toBlock: number) => {
  const client = createPublicClient({ transport: http(url) })
  const watched = new Set(addresses)
  const found = new Set<string>()
  for (let number = fromBlock; number <= toBlock; number++) {
    const block = await client.getBlock({ blockNumber: BigInt(number), includeTransactions: true })
    for (const tx of block.transactions as ReadonlyArray<Transaction>) {
      if (watched.has(tx.from.toLowerCase()) || (tx.to !== null && watched.has(tx.to.toLowerCase()))) found.add(tx.hash)
    }
  }
  for (const address of addresses) {
    for (const args of [{ from: address as Address }, { to: address as Address }]) {
      const logs = await client.getLogs({ event: transfer, args, fromBlock: BigInt(fromBlock), toBlock: BigInt(toBlock) })
      for (const log of logs) found.add(`${log.transactionHash}:${log.logIndex}`)
    }
  }
  return Array.from(found)
}


const Noop = WatchProcessor.define("bench.noop")
const NoopLive = WatchProcessor.implement(Noop, () => Effect.void)

const percentile = (values: ReadonlyArray<number>, p: number) => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!
}

const waitUntil = (check: Effect.Effect<boolean, unknown>) =>
  Effect.gen(function*() {
    while (!(yield* check)) yield* Effect.sleep("2 millis")
  })

const main = Effect.gen(function*() {
  const chain = yield* DevChain.DevChain
  const watchers = yield* Watchers.Watchers
  const tasks = yield* Tasks.Tasks
  // gaps of at most 4 empty blocks: a Hardhat node mines longer runs as reserved blocks whose parent hash reads as zero
  const seeded = yield* DevSeed.seed({ rounds: 200, maxGap: 4 })
  const addresses = [
    ...seeded.participants,
    ...Array.from({ length: ADDRESSES - seeded.participants.length }, (_, index) => pad(toHex(index + 1000), { size: 20 }))
  ]
  const blocks = seeded.toBlock - seeded.fromBlock + 1
  const expected = DevSeed.expectedFor(seeded, addresses).map(Activity.key).sort()
  const sameSet = (keys: ReadonlyArray<string>) => [...keys].sort().join() === expected.join()

  // catch-up: the watcher, then the naive loop
  let start = performance.now()
  yield* watchers.add({
    name: "catch-up",
    chain: "dev",
    processor: Noop.name,
    accounts: addresses,
    confirmations: 0,
    startBlock: seeded.fromBlock
  })
  yield* waitUntil(Effect.map(watchers.lag("catch-up"), (lag) => lag.confirmed >= seeded.toBlock))
  const confirmedMillis = performance.now() - start
  yield* waitUntil(Effect.map(watchers.lag("catch-up"), (lag) => lag.processed >= seeded.toBlock))
  const processedMillis = performance.now() - start
  yield* watchers.pause("catch-up")
  const recorded = (yield* watchers.items("catch-up")).filter((row) => row.item.block <= seeded.toBlock)
  const keys = recorded.map((row) => row.item.position === null ? row.item.transaction : `${row.item.transaction}:${row.item.position}`)
  if (!sameSet(keys)) throw new Error(`the watcher found ${keys.length} items, expected ${expected.length}`)
  if (recorded.some((row) => row.status !== "processed")) throw new Error("an item was not processed")
  start = performance.now()
  const found = yield* Effect.promise(() => naiveScan(chain.url, addresses, seeded.fromBlock, seeded.toBlock))
  const naiveMillis = performance.now() - start
  if (!sameSet(found)) throw new Error("the naive loop missed activity")
  start = performance.now()
  const foundPerAddress = yield* Effect.promise(() => perAddressScan(chain.url, addresses, seeded.fromBlock, seeded.toBlock))
  const perAddressMillis = performance.now() - start
  if (!sameSet(foundPerAddress)) throw new Error("the per-address loop missed activity")

  // steady-state lag
  const finished = new Map<string, number>()
  const listener = yield* tasks.changes.pipe(
    Stream.runForEach((info) =>
      Effect.sync(() => {
        if (info.kind === Noop.name && info.status === "completed") {
          const item = info.payload as { readonly watcher: string; readonly transaction: string }
          finished.set(`${item.watcher} ${item.transaction}`, performance.now())
        }
      })
    ),
    Effect.forkChild
  )
  const watched = seeded.participants[1]!
  yield* watchers.add({ name: "polling", chain: "dev", processor: Noop.name, accounts: [watched], confirmations: CONFIRMATIONS })
  yield* watchers.add({ name: "pushed", chain: "dev-ws", processor: Noop.name, accounts: [watched], confirmations: CONFIRMATIONS })
  const transport = http(chain.url)
  const wallet = createWalletClient({ transport })
  const reader = createPublicClient({ transport })
  const miner = createTestClient({ transport, mode: "hardhat" })
  const lags = { polling: [] as Array<number>, pushed: [] as Array<number> }
  for (let sample = 0; sample < LAG_SAMPLES; sample++) {
    const hash = yield* Effect.promise(() =>
      wallet.sendTransaction({ account: DevChain.accounts[12]!.address, to: watched, value: 1n, chain: null })
    )
    yield* Effect.promise(() => reader.waitForTransactionReceipt({ hash, pollingInterval: 5 }))
    // at a random point of the poll interval, the block reaches confirmation depth
    yield* Effect.sleep(Math.floor(Math.random() * POLL_MILLIS))
    yield* Effect.promise(() => miner.mine({ blocks: CONFIRMATIONS }))
    const confirmedAt = performance.now()
    yield* waitUntil(Effect.sync(() => finished.has(`polling ${hash}`) && finished.has(`pushed ${hash}`)))
    lags.polling.push(finished.get(`polling ${hash}`)! - confirmedAt)
    lags.pushed.push(finished.get(`pushed ${hash}`)! - confirmedAt)
  }
  yield* Fiber.interrupt(listener)

  // balance reads
  const cache = yield* BalanceCache.BalanceCache
  const adapter = yield* (yield* ChainAdapter.ChainAdapters).adapter("dev")
  const account = seeded.participants[2]!
  yield* cache.read("dev", account, "native")
  const time = (effect: Effect.Effect<unknown, unknown>) =>
    Effect.gen(function*() {
      const millis: Array<number> = []
      for (let read = 0; read < READS; read++) {
        const begin = performance.now()
        yield* effect
        millis.push(performance.now() - begin)
      }
      return millis
    })
  const cached = yield* time(cache.read("dev", account, "native"))
  const fromChain = yield* time(adapter.balance(account, "native"))
  // the cache without its memory front: every read a query of the SQLite table
  const tableOnly = yield* BalanceCache.make({ maxEntries: 0 })
  const fromTable = yield* time(tableOnly.read("dev", account, "native"))
  // a remote provider, simulated: the same node behind a proxy that holds each request 100 ms
  const proxy = yield* Effect.acquireRelease(
    Effect.promise(() => delayProxy(chain.url, SIMULATED_LATENCY_MILLIS)),
    (running) => Effect.promise(() => running.close())
  )
  const remote = createPublicClient({ transport: http(proxy.url) })
  const fromRemote: Array<number> = []
  for (let read = 0; read < REMOTE_READS; read++) {
    const begin = performance.now()
    yield* Effect.promise(() => remote.getBalance({ address: account as Address }))
    fromRemote.push(performance.now() - begin)
  }
  const served = yield* Layer.build(
    HttpRouter.serve(WatchApi.layer, { disableLogger: true }).pipe(
      Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" })),
      Layer.provide(Layer.succeedContext(yield* Effect.context<Watchers.Watchers | BalanceCache.BalanceCache>()))
    )
  )
  const restUrl = `${HttpServer.formatAddress(Context.get(served, HttpServer.HttpServer).address)}/api/watch/balances/dev/${account}/native`
  const overRest = yield* time(Effect.promise(() => fetch(restUrl).then((response) => response.text())))

  console.log(`watch: node ${process.version}, poll interval ${POLL_MILLIS} ms, SQLite watch tables (synchronous FULL, on a worker thread), memory task store`)
  console.log(`\ncatch-up: ${fmt(blocks)} blocks × ${fmt(ADDRESSES)} addresses, ${expected.length} items (same items found by both)`)
  table([
    ["", "ms", "blocks per second", "vs per-address loop", "vs per-block loop"],
    ["naive loop, each block and each address", fmt(perAddressMillis), fmt(perSecond(blocks, perAddressMillis)), "1.00", fmt(naiveMillis / perAddressMillis, 2)],
    ["naive loop, each block (matched in process)", fmt(naiveMillis), fmt(perSecond(blocks, naiveMillis)), fmt(perAddressMillis / naiveMillis, 2), "1.00"],
    ["watcher, to the head (confirmed cursor)", fmt(confirmedMillis), fmt(perSecond(blocks, confirmedMillis)), fmt(perAddressMillis / confirmedMillis, 2), fmt(naiveMillis / confirmedMillis, 2)],
    ["watcher, every item processed", fmt(processedMillis), fmt(perSecond(blocks, processedMillis)), fmt(perAddressMillis / processedMillis, 2), fmt(naiveMillis / processedMillis, 2)]
  ])
  console.log(`\nsteady-state lag, block at depth ${CONFIRMATIONS} → processing task finished, ${LAG_SAMPLES} samples (goal p50 ≤ ${POLL_MILLIS + 50} ms)`)
  table([
    ["", "p50 ms", "p99 ms", "max ms"],
    ...(["polling", "pushed"] as const).map((name) => [
      name === "polling" ? "polling the head" : "new heads pushed over a WebSocket (polling too)",
      fmt(percentile(lags[name], 50), 1),
      fmt(percentile(lags[name], 99), 1),
      fmt(Math.max(...lags[name]), 1)
    ])
  ])
  const cachedP50 = percentile(cached, 50)
  const chainP50 = percentile(fromChain, 50)
  const remoteP50 = percentile(fromRemote, 50)
  console.log(`\nbalance reads, ${fmt(READS)} each (${REMOTE_READS} through the proxy), in process; ratios are of the chain read's p50 to the row's`)
  table([
    ["", "p50 ms", "p99 ms", "vs loopback chain read", `vs simulated remote (+${SIMULATED_LATENCY_MILLIS} ms)`],
    ["chain read, loopback Hardhat node (eth_getBalance)", fmt(chainP50, 3), fmt(percentile(fromChain, 99), 3), "1.00", ""],
    [`chain read through a proxy adding ${SIMULATED_LATENCY_MILLIS} ms (SIMULATED remote provider)`, fmt(remoteP50, 3), fmt(percentile(fromRemote, 99), 3), "", "1.00"],
    ["cached read, memory front (goal ≥ 100× the chain read)", fmt(cachedP50, 4), fmt(percentile(cached, 99), 4), fmt(chainP50 / cachedP50, 1), fmt(remoteP50 / cachedP50, 0)],
    ["cached read without the front (a SQLite query)", fmt(percentile(fromTable, 50), 3), fmt(percentile(fromTable, 99), 3), fmt(chainP50 / percentile(fromTable, 50), 1), fmt(remoteP50 / percentile(fromTable, 50), 0)],
    ["cached read over REST (goal p50 ≤ 2 ms)", fmt(percentile(overRest, 50), 3), fmt(percentile(overRest, 99), 3), fmt(chainP50 / percentile(overRest, 50), 1), fmt(remoteP50 / percentile(overRest, 50), 0)]
  ])
})

const directory = mkdtempSync(join(tmpdir(), "chainjobs-bench-watch-"))
const chains = Layer.unwrap(DevChain.DevChain.use((chain) =>
  Effect.succeed(Chains.layerMemory(["dev", "dev-ws"].map((name) =>
    ChainConfig.chain({ name, chainId: chain.chainId, endpoints: [{ url: chain.url }], headTtl: "1 millis" })
  )))
))
const adapters = Layer.unwrap(DevChain.DevChain.use((chain) =>
  Effect.succeed(EvmAdapter.layerWith({ webSockets: { "dev-ws": chain.wsUrl } }))
))
const runtime = NoopLive.pipe(
  Layer.provideMerge(Watchers.layer({ pollInterval: `${POLL_MILLIS} millis` })),
  Layer.provideMerge(BalanceCache.layer()),
  Layer.provideMerge(adapters),
  Layer.provideMerge(Tasks.layer()),
  Layer.provideMerge(TaskStore.layerMemory),
  Layer.provideMerge(NodeSqliteClient.layer({ filename: join(directory, "watch.db"), worker: true })),
  Layer.provideMerge(chains),
  Layer.provideMerge(DevChain.layer())
)

Effect.runPromise(main.pipe(Effect.scoped, Effect.provide(runtime))).then(
  () => rmSync(directory, { recursive: true, force: true }),
  (error) => {
    console.error(error)
    rmSync(directory, { recursive: true, force: true })
    process.exit(1)
  }
)

