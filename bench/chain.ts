/**
 * Address-scan throughput on a local Hardhat node, in one run: blocks per
 * second for one range × 100 addresses (6 active, 94 without activity),
 * - `ScanAddresses` as a supervised task (JSON-RPC batches, two
 *   `eth_getLogs` per chunk for the whole address set, checkpoint per chunk);
 * - a naive sequential viem loop over the same range: per block, one
 *   `getBlock` with transactions and one `getLogs` for Transfer events,
 *   matched against the address set in process, one request at a time.
 * Both must find the same activity; the report gives the ratio.
 */
import { Effect, Layer } from "effect"
import { TaskStore, Tasks } from "@chainjobs/tasks"
import { pad, toHex } from "viem"
import { Activity, BlockFeed, ChainTasks } from "@chainjobs/chain"
import { DevChain, DevSeed } from "@chainjobs/devchain"
import { fmt, perSecond, table } from "./_measure.ts"
import { naiveScan } from "./_naiveScan.ts"

const ADDRESSES = 100
const RUNS = 5



const main = Effect.gen(function*() {
  const chain = yield* DevChain.DevChain
  const seeded = yield* DevSeed.seed({ rounds: 200 })
  const addresses = [
    ...seeded.participants,
    ...Array.from({ length: ADDRESSES - seeded.participants.length }, (_, index) => pad(toHex(index + 1000), { size: 20 }))
  ]
  const blocks = seeded.toBlock - seeded.fromBlock + 1
  const expected = DevSeed.expectedFor(seeded, addresses).map(Activity.key)
  const tasks = yield* Tasks.Tasks
  const payload = { chain: "dev", addresses, fromBlock: seeded.fromBlock, toBlock: seeded.toBlock, chunkSize: 500 }

  const sameSet = (keys: ReadonlyArray<string>) => [...keys].sort().join() === [...expected].sort().join()
  const task: Array<number> = []
  const naive: Array<number> = []
  // the first run of each warms up the node, the JIT and the connections; it is not counted
  for (let run = 0; run <= RUNS; run++) {
    let start = performance.now()
    const result = yield* tasks.run(ChainTasks.ScanAddresses, payload)
    if (run > 0) task.push(perSecond(blocks, performance.now() - start))
    if (!sameSet(result.activity.map(Activity.key))) throw new Error("ScanAddresses missed activity")
    start = performance.now()
    const found = yield* Effect.promise(() => naiveScan(chain.url, addresses, seeded.fromBlock, seeded.toBlock))
    if (run > 0) naive.push(perSecond(blocks, performance.now() - start))
    if (!sameSet(found)) throw new Error("the naive loop missed activity")
  }
  const median = (rates: Array<number>) => rates.sort((a, b) => a - b)[Math.floor(rates.length / 2)]!
  console.log(
    `scan: ${fmt(blocks)} blocks × ${ADDRESSES} addresses, ${expected.length} items, median of ${RUNS} runs (node ${process.version})`
  )
  table([
    ["", "blocks per second", "ratio"],
    ["naive sequential viem loop", fmt(median(naive)), "1.00"],
    ["ScanAddresses task", fmt(median(task)), fmt(median(task) / median(naive), 2)]
  ])
})

const runtime = ChainTasks.layer.pipe(
  Layer.provideMerge(Tasks.layer()),
  Layer.provideMerge(TaskStore.layerMemory),
  Layer.provideMerge(BlockFeed.layerMemory),
  Layer.provideMerge(DevChain.layerChains())
)

Effect.runPromise(main.pipe(Effect.provide(runtime))).catch((error) => {
  console.error(error)
  process.exit(1)
})
