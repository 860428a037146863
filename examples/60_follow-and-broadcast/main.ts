/**
 * A daemon's day on a chain: a task follows the head and processes every new
 * block (validated, checked against the block before it, published on the
 * block feed); a signed transaction is broadcast as a task that waits for
 * three confirmations; a block received from a peer as JSON is validated as
 * data, and a tampered copy refused; then the follower is cancelled and the
 * finished tasks are cleaned up. On a local Hardhat node, which mines a block
 * per transaction.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Fiber, Layer, Schedule, Stream } from "effect"
import { numberToHex, parseEther, parseGwei } from "viem"
import { privateKeyToAccount } from "viem/accounts"
import { BlockFeed, Chains, ChainTasks } from "@chainjobs/chain"
import { DevChain } from "@chainjobs/devchain"
import { TaskStore, Tasks } from "@chainjobs/tasks"

const transactions = (count: number) => `${count} transaction${count === 1 ? "" : "s"}`

const program = Effect.gen(function*() {
  const chain = yield* DevChain.DevChain
  const client = yield* (yield* Chains.Chains).client("dev")
  const feed = yield* BlockFeed.BlockFeed
  const tasks = yield* Tasks.Tasks
  yield* Console.log(`dev chain up (chain id ${chain.chainId}), head at block ${yield* client.head}`)

  // 1. Follow the head: every new block is validated, checked against the one before it, and published.
  const published = yield* feed.subscribe
  const followed = yield* Effect.forkChild(Stream.runCollect(Stream.take(published, 3)))
  const follower = yield* tasks.submit(ChainTasks.FollowHead, { chain: "dev", fromBlock: 1, pollMillis: 50 })
  yield* Console.log("following the head from block 1")

  // 2. Broadcast a signed transaction and wait for three confirmations.
  const sender = privateKeyToAccount(chain.accounts[0]!.privateKey)
  const signed = yield* Effect.promise(() =>
    sender.signTransaction({
      type: "eip1559",
      chainId: chain.chainId,
      nonce: 0,
      gas: 21_000n,
      maxFeePerGas: parseGwei("20"),
      maxPriorityFeePerGas: parseGwei("1"),
      to: chain.accounts[1]!.address,
      value: parseEther("1")
    })
  )
  const broadcast = yield* tasks.submit(ChainTasks.Broadcast, { chain: "dev", transaction: signed, confirmations: 3, pollMillis: 50 })
  yield* Console.log("broadcast 1 ETH from account 0 to account 1; waiting for 3 confirmations")
  // the node mined the transaction's block; once the follower processed it, two more blocks confirm it
  yield* feed.latest("dev").pipe(
    Effect.repeat({ schedule: Schedule.spaced("20 millis"), until: (latest) => latest._tag === "Some" && latest.value.number >= 1 })
  )
  yield* client.request("hardhat_mine", ["0x2"])
  const receipt = yield* broadcast.join
  yield* Console.log(`transaction mined in block ${receipt.blockNumber}, ${receipt.confirmations} confirmations`)
  for (const { block } of yield* Fiber.join(followed)) {
    yield* Console.log(`followed block ${block.number}: ${transactions(block.transactions)}, parent checked`)
  }

  // 3. A block received from a peer, as the JSON a node answers: validated as data, its source recorded.
  const fromPeer = (yield* client.request("eth_getBlockByNumber", [numberToHex(receipt.blockNumber), true])) as Record<string, any>
  const valid = yield* tasks.run(ChainTasks.ValidateBlock, { chain: "dev", block: fromPeer, source: "peer-1" })
  yield* Console.log(`block ${valid.number} from ${valid.source}: valid, ${transactions(valid.transactions)}`)
  const [transaction] = fromPeer.transactions
  const tampered = { ...fromPeer, transactions: [{ ...transaction, value: numberToHex(parseEther("100")) }] }
  const refused = yield* Effect.flip(tasks.run(ChainTasks.ValidateBlock, { chain: "dev", block: tampered, source: "peer-2" }))
  yield* Console.log(`tampered block from peer-2: refused (${refused._tag === "BlockValidationError" ? refused.reason._tag : refused._tag})`)

  // 4. Cancel the follower, then clean up the finished tasks.
  yield* follower.interrupt
  yield* Console.log(`follower ${yield* follower.status}`)
  const purged = yield* tasks.purge({})
  yield* Console.log(`cleaned up ${purged} finished tasks; ${(yield* tasks.list({})).items.length} left`)
})

const Runtime = ChainTasks.layer.pipe(
  Layer.provideMerge(Tasks.layer()),
  Layer.provideMerge(TaskStore.layerMemory),
  Layer.provideMerge(DevChain.layerChains()),
  Layer.provideMerge(BlockFeed.layerMemory)
)

NodeRuntime.runMain(program.pipe(Effect.scoped, Effect.provide(Runtime)))
