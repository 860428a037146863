/**
 * Scan wallets on a real local chain: start a Hardhat node, produce known ETH
 * and ERC-20 activity, then scan two wallets over that range as a supervised
 * task with progress events, and compare what it found with what was seeded.
 * The node stops when the program ends, or on Ctrl-C (`NodeRuntime.runMain`).
 */
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Layer, Stream } from "effect"
import { BlockFeed, ChainTasks } from "@chainjobs/chain"
import { DevChain, DevSeed } from "@chainjobs/devchain"
import { TaskStore, Tasks } from "@chainjobs/tasks"

const program = Effect.gen(function*() {
  const chain = yield* DevChain.DevChain
  yield* Console.log(`dev chain up on 127.0.0.1 (chain id ${chain.chainId})`)
  const seeded = yield* DevSeed.seed({ rounds: 20 })
  yield* Console.log(`seeded 20 rounds of ETH and token transfers among ${seeded.participants.length} accounts`)

  const wallets = [seeded.participants[1], seeded.participants[2]]
  const tasks = yield* Tasks.Tasks
  const scan = yield* tasks.submit(ChainTasks.ScanAddresses, {
    chain: "dev",
    addresses: wallets,
    fromBlock: seeded.fromBlock,
    toBlock: seeded.toBlock,
    chunkSize: 10
  })
  const events = yield* Stream.runCollect(scan.events)
  yield* Console.log(`progress events: ${events.length > 2 ? "several" : events.length}, last: ${events[events.length - 1].status}`)

  const { activity } = yield* scan.join
  const expected = DevSeed.expectedFor(seeded, wallets)
  const same = activity.length === expected.length && activity.every((item, i) => item.transactionHash === expected[i].transactionHash && item.kind === expected[i].kind)
  yield* Console.log(`found ${activity.length > 0 ? "activity" : "nothing"}; exactly what was seeded: ${same}`)
})

const Runtime = ChainTasks.layer.pipe(
  Layer.provideMerge(Tasks.layer()),
  Layer.provideMerge(TaskStore.layerMemory),
  Layer.provideMerge(DevChain.layerChains()),
  Layer.provideMerge(BlockFeed.layerMemory)
)

NodeRuntime.runMain(program.pipe(Effect.provide(Runtime)))
