import { assert, layer } from "@effect/vitest"
import { TaskStore, Tasks } from "@chainjobs/tasks"
import { Effect, Fiber, Layer, Option, Stream } from "effect"
import { type Block, type Hex, hexToNumber, type Transaction } from "viem"
import { BlockFeed } from "../src/BlockFeed.ts"
import * as BlockValidation from "../src/BlockValidation.ts"
import * as ChainTasks from "../src/ChainTasks.ts"
import { DevChain } from "@chainjobs/devchain"
import * as FaultProxy from "./FaultProxy.ts"
import { client, devChainConfig, Seeded, seededChain, supervisor } from "./fixtures.ts"

const withTasks = Effect.provide(Layer.unwrap(DevChain.DevChain.use((chain) =>
  Effect.succeed(supervisor(ChainTasks.layer, [devChainConfig([chain.url])]).pipe(Layer.provide(TaskStore.layerMemory)))
)))

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, index) => from + index)

layer(seededChain({ rounds: 10 }), { excludeTestServices: true, timeout: 120_000 })("BlockValidation", (it) => {
  it.effect("accepts every block of the chain: header hash, parent and transaction hashes", () =>
    Effect.gen(function*() {
      const seeded = yield* Seeded
      const evm = yield* client(devChainConfig([(yield* DevChain.DevChain).url]))
      const validated = yield* Effect.forEach(range(0, seeded.toBlock), (number) => BlockValidation.validate(evm, number))
      assert.deepStrictEqual(validated.map((block) => block.number), range(0, seeded.toBlock))
      assert.strictEqual(
        validated.reduce((sum, block) => sum + block.transactions, 0),
        seeded.activity.filter((item) => item.kind === "native").length
      )
    }))

  it.effect("the receipts of every seeded block (typed, with token transfer logs) hash to its receiptsRoot", () =>
    Effect.gen(function*() {
      const seeded = yield* Seeded
      const evm = yield* client(devChainConfig([(yield* DevChain.DevChain).url]))
      const blocks = yield* evm.getBlocks(range(seeded.fromBlock, seeded.toBlock), { transactions: true })
      let logs = 0
      for (const block of blocks) {
        const receipts = yield* evm.getReceipts((block.transactions as ReadonlyArray<Transaction>).map((transaction) => transaction.hash))
        yield* BlockValidation.verifyReceipts(block, receipts)
        logs += receipts.reduce((sum, receipt) => sum + receipt.logs.length, 0)
        if (receipts.length > 0) {
          const tampered = [{ ...receipts[0]!, cumulativeGasUsed: receipts[0]!.cumulativeGasUsed + 1n }, ...receipts.slice(1)]
          const refused = yield* Effect.flip(BlockValidation.verifyReceipts(block, tampered))
          assert.strictEqual(refused.reason._tag, "ReceiptsRootMismatch")
        }
      }
      assert.isAbove(logs, 10)
    }))

  it.effect("ValidateBlock with receipts refuses receipts that do not hash to the block's receiptsRoot", () =>
    Effect.gen(function*() {
      const seeded = yield* Seeded
      const chain = yield* DevChain.DevChain
      const lying = yield* FaultProxy.make(chain.url, { dropLogs: true })
      // a block with a token transfer: its receipt holds a log
      const number = seeded.activity.find((item) => item.kind === "erc20")!.blockNumber
      const run = (url: string, receipts: boolean) =>
        Tasks.Tasks.use((tasks) => tasks.run(ChainTasks.ValidateBlock, { chain: "dev", number, receipts })).pipe(
          Effect.provide(supervisor(ChainTasks.layer, [devChainConfig([url])]).pipe(Layer.provide(TaskStore.layerMemory)))
        )
      assert.strictEqual((yield* run(chain.url, true)).number, number)
      // without its receipts, the block itself is sound
      assert.strictEqual((yield* run(lying.url, false)).number, number)
      const refused = yield* Effect.flip(run(lying.url, true))
      assert.deepInclude(refused, { _tag: "BlockValidationError" })
      assert.strictEqual((refused as BlockValidation.BlockValidationError).reason._tag, "ReceiptsRootMismatch")
    }))

  it.effect("rejects a tampered header, a foreign parent and a tampered transaction", () =>
    Effect.gen(function*() {
      const seeded = yield* Seeded
      const evm = yield* client(devChainConfig([(yield* DevChain.DevChain).url]))
      const [parent, block, other] = yield* evm.getBlocks([seeded.fromBlock, seeded.fromBlock + 1, seeded.fromBlock + 2], {
        transactions: true
      })
      const reason = (effect: Effect.Effect<unknown, BlockValidation.BlockValidationError>) =>
        Effect.map(Effect.flip(effect), (error) => error.reason._tag)
      assert.strictEqual(yield* reason(BlockValidation.verify({ ...block!, gasUsed: block!.gasUsed + 1n }, parent)), "HashMismatch")
      assert.strictEqual(yield* reason(BlockValidation.verify(block!, other)), "ParentMismatch")
      const [transaction] = block!.transactions as ReadonlyArray<Transaction>
      const tampered: Block = { ...block!, transactions: [{ ...transaction!, value: transaction!.value + 1n }] }
      assert.strictEqual(yield* reason(BlockValidation.verify(tampered, parent)), "TransactionHashMismatch")
    }))

  it.effect("ProcessBlock records and publishes blocks that follow the last recorded one, and rejects one that does not", () =>
    Effect.gen(function*() {
      const seeded = yield* Seeded
      const tasks = yield* Tasks.Tasks
      const feed = yield* BlockFeed
      const published = yield* Effect.forkChild(Stream.runCollect(Stream.take(yield* feed.subscribe, 3)))
      const numbers = [seeded.fromBlock, seeded.fromBlock + 1, seeded.fromBlock + 2]
      const processed = yield* Effect.forEach(numbers, (number) => tasks.run(ChainTasks.ProcessBlock, { chain: "dev", number }))
      // the task's result is the recorded block with where it came from (`node`: read by number)
      const recorded = processed.map(({ source: _, ...block }) => block)
      assert.deepStrictEqual(processed.map((block) => block.source), ["node", "node", "node"])
      assert.deepStrictEqual((yield* Fiber.join(published)).map((item) => item.block), recorded)
      assert.deepStrictEqual(yield* feed.latest("dev"), Option.some(recorded[2]!))

      const { source: _, ...validated } = yield* tasks.run(ChainTasks.ValidateBlock, { chain: "dev", number: seeded.fromBlock + 4 })
      yield* feed.record("dev", { ...validated, hash: processed[0]!.hash })
      const error = yield* Effect.flip(tasks.run(ChainTasks.ProcessBlock, { chain: "dev", number: seeded.fromBlock + 5 }))
      assert.deepInclude(error, { _tag: "BlockValidationError" })
      assert.strictEqual((error as BlockValidation.BlockValidationError).reason._tag, "ParentMismatch")
    }).pipe(withTasks))

  it.effect("FollowHead processes each new block in order as the chain grows", () =>
    Effect.gen(function*() {
      const tasks = yield* Tasks.Tasks
      const feed = yield* BlockFeed
      const evm = yield* client(devChainConfig([(yield* DevChain.DevChain).url]))
      const head = hexToNumber((yield* evm.request("eth_blockNumber")) as Hex)
      const published = yield* Effect.forkChild(Stream.runCollect(Stream.take(yield* feed.subscribe, 3)))
      const follower = yield* tasks.submit(ChainTasks.FollowHead, { chain: "dev", fromBlock: head + 1, pollMillis: 10 })
      yield* evm.request("hardhat_mine", ["0x3"])
      const blocks = (yield* Fiber.join(published)).map((item) => item.block)
      assert.deepStrictEqual(blocks.map((block) => block.number), [head + 1, head + 2, head + 3])
      assert.strictEqual(blocks[2]!.parentHash, blocks[1]!.hash)
      assert.strictEqual(yield* follower.status, "running")
      yield* follower.interrupt
    }).pipe(withTasks))

  it.effect("FollowHead follows a reorganization: it goes back to the last block still on the chain and processes the new ones", () =>
    Effect.gen(function*() {
      const tasks = yield* Tasks.Tasks
      const feed = yield* BlockFeed
      const chain = yield* DevChain.DevChain
      const evm = yield* client(devChainConfig([chain.url]))
      const head = hexToNumber((yield* evm.request("eth_blockNumber")) as Hex)
      const snapshot = yield* evm.request("evm_snapshot")
      const published = yield* Effect.forkChild(Stream.runCollect(Stream.take(yield* feed.subscribe, 7)))
      const follower = yield* tasks.submit(ChainTasks.FollowHead, { chain: "dev", fromBlock: head + 1, pollMillis: 10 })
      yield* evm.request("hardhat_mine", ["0x3"])
      while (!Option.exists(yield* feed.latest("dev"), (block) => block.number === head + 3)) yield* Effect.sleep("10 millis")
      // the three blocks are replaced by four others, the first with a transaction
      yield* evm.request("evm_revert", [snapshot])
      const [from, to] = [chain.accounts[11]!.address, chain.accounts[12]!.address]
      yield* evm.request("eth_sendTransaction", [{ from, to, value: "0x1" }])
      yield* evm.request("hardhat_mine", ["0x3"])
      const blocks = (yield* Fiber.join(published).pipe(Effect.timeout("3 seconds"))).map((item) => item.block)
      assert.deepStrictEqual(blocks.map((block) => block.number), [head + 1, head + 2, head + 3, head + 1, head + 2, head + 3, head + 4])
      const replaced = blocks.slice(3)
      assert.notStrictEqual(replaced[0]!.hash, blocks[0]!.hash)
      assert.strictEqual(replaced[0]!.transactions, 1)
      replaced.slice(1).forEach((block, index) => assert.strictEqual(block.parentHash, replaced[index]!.hash))
      assert.strictEqual(yield* follower.status, "running")
      yield* follower.interrupt
    }).pipe(withTasks))
})
