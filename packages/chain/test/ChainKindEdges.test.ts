/**
 * The chain kinds at their edges, on a real Hardhat node: several
 * transactions in one block listed at their indices; the progress message
 * and the bounded checkpoint of a block range; a range fetched across a
 * reorganization; a sync's `toBlock` below and beyond the head, a later
 * page's first block, its processing time; event signatures that are none
 * refused at submission; a broadcast on every default; a block validated
 * with its receipts against a provider that drops logs, and processed
 * without reading them; a block request naming both a number and a block;
 * a range whose last block comes before its first.
 */
import { assert, layer } from "@effect/vitest"
import { TaskStore, Tasks } from "@chainjobs/tasks"
import { Context, Effect, Fiber, Layer, Option } from "effect"
import { type Hex, hexToNumber, keccak256 } from "viem"
import { privateKeyToAccount } from "viem/accounts"
import { DevChain } from "@chainjobs/devchain"
import * as ChainTasks from "../src/ChainTasks.ts"
import type * as EvmClient from "../src/EvmClient.ts"
import * as FaultProxy from "./FaultProxy.ts"
import { client, devChainConfig, Seeded, seededChain, supervisor } from "./fixtures.ts"

const transfer = "event Transfer(address indexed from, address indexed to, uint256 value)"

/** The supervisor and the chain kinds over the endpoint at `url`, on a memory task store given back too. */
const kindsOn = (url: string) =>
  Effect.gen(function*() {
    const store = yield* Layer.build(TaskStore.layerMemory)
    const context = yield* Layer.build(supervisor(ChainTasks.layer, [devChainConfig([url])])).pipe(Effect.provideContext(store))
    return { tasks: Context.get(context, Tasks.Tasks), store: Context.get(store, TaskStore.TaskStore) }
  })

const headOf = (evm: EvmClient.EvmClient) => Effect.map(evm.request("eth_blockNumber"), (head) => hexToNumber(head as Hex))

layer(seededChain({ rounds: 3 }), { excludeTestServices: true, timeout: "60 seconds" })("chain kinds at their edges", (it) => {
  it.effect("a block of several transactions lists each at its index; a range reports its progress and bounds its checkpoint", () =>
    Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      const evm = yield* client(devChainConfig([chain.url]))
      const { store, tasks } = yield* kindsOn(chain.url)
      // three transfers in one block
      yield* evm.request("evm_setAutomine", [false])
      const hashes = yield* Effect.forEach([1, 2, 3], (value) =>
        evm.request("eth_sendTransaction", [{ from: chain.accounts[7]!.address, to: chain.accounts[8]!.address, value: `0x${value}` }]))
      yield* evm.request("evm_mine")
      yield* evm.request("evm_setAutomine", [true])
      const head = yield* headOf(evm)
      const handle = yield* tasks.submit(ChainTasks.FetchBlocks, {
        chain: "dev",
        fromBlock: head - 5,
        toBlock: head,
        chunkSize: 2,
        checkpointItems: 3,
        includeTransactions: true
      })
      const result = yield* handle.join
      const listed = result.blocks.at(-1)!.transactionList!
      assert.deepStrictEqual(listed.map((transaction) => [transaction.index, transaction.hash]), hashes.map((hash, index) => [index, hash]))
      assert.deepStrictEqual(
        listed.map((transaction) => [transaction.from, transaction.to, transaction.value, transaction.type]),
        [1, 2, 3].map((value) => [chain.accounts[7]!.address.toLowerCase(), chain.accounts[8]!.address.toLowerCase(), String(value), "eip1559"])
      )
      const record = Option.getOrThrow(yield* store.get(handle.id))
      assert.strictEqual(record.message, `6 blocks up to ${head}`)
      // past 3 blocks no checkpoint is saved: the last one holds the first chunk's 2
      const checkpoint = record.checkpoint as { readonly lastBlock: number; readonly state: ReadonlyArray<unknown> }
      assert.deepStrictEqual([checkpoint.lastBlock, checkpoint.state.length], [head - 4, 2])
    }))

  it.effect("a scan reports how many items it found up to which block", () =>
    Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      const seeded = yield* Seeded
      const { store, tasks } = yield* kindsOn(chain.url)
      const handle = yield* tasks.submit(ChainTasks.ScanAddresses, {
        chain: "dev",
        addresses: seeded.participants,
        fromBlock: seeded.fromBlock,
        toBlock: seeded.toBlock
      })
      const result = yield* handle.join
      assert.strictEqual(Option.getOrThrow(yield* store.get(handle.id)).message, `${result.activity.length} items up to block ${seeded.toBlock}`)
    }))

  it.effect("a range fetched across a reorganization holds the chain's blocks as they are when it completes", () =>
    Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      const evm = yield* client(devChainConfig([chain.url]))
      const head = yield* headOf(evm)
      const snapshot = yield* evm.request("evm_snapshot")
      const send = (value: number) =>
        evm.request("eth_sendTransaction", [{ from: chain.accounts[9]!.address, to: chain.accounts[10]!.address, value: `0x${value.toString(16)}` }])
      yield* Effect.forEach([1, 2, 3, 4], send)
      // the fetch reads up to head + 2 of the first branch, then waits for the blocks after it
      const proxy = yield* FaultProxy.make(chain.url, { holdAbove: head + 2 })
      const { tasks } = yield* kindsOn(proxy.url)
      const fetching = yield* Effect.forkChild(tasks.run(ChainTasks.FetchBlocks, { chain: "dev", fromBlock: head - 1, toBlock: head + 4, chunkSize: 2 }))
      for (let tries = 0; proxy.counts.held === 0; tries++) {
        if (tries > 2000) return yield* Effect.die(new Error("the fetch never reached the held blocks"))
        yield* Effect.sleep("10 millis")
      }
      yield* evm.request("evm_revert", [snapshot])
      yield* Effect.forEach([5, 6, 7, 8], send)
      proxy.set({ holdAbove: Number.POSITIVE_INFINITY })
      const result = yield* Fiber.join(fetching)
      const now = yield* Effect.forEach(result.blocks, (block) => Effect.map(evm.getBlocks([block.number]), ([read]) => read!.hash))
      assert.deepStrictEqual(result.blocks.map((block) => block.number), [head - 1, head, head + 1, head + 2, head + 3, head + 4])
      assert.deepStrictEqual(result.blocks.map((block) => block.hash), now as ReadonlyArray<string>)
      result.blocks.slice(1).forEach((block, index) => assert.strictEqual(block.parentHash, result.blocks[index]!.hash))
    }))

  it.effect("a sync ends at its toBlock below the head and at the head for one beyond it; a later page starts at its cursor's block", () =>
    Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      const seeded = yield* Seeded
      const evm = yield* client(devChainConfig([chain.url]))
      const { store, tasks } = yield* kindsOn(chain.url)
      const head = yield* headOf(evm)
      const transfers = seeded.activity.filter((item) => item.kind === "erc20")
      const middle = transfers[Math.floor(transfers.length / 2)]!.blockNumber
      const base = { chain: "dev", address: seeded.token, events: [transfer] }
      const before = Date.now()
      const handle = yield* tasks.submit(ChainTasks.SyncEvents, { ...base, toBlock: middle, chunkSize: 3 })
      const early = yield* handle.join
      const elapsed = Date.now() - before
      assert.strictEqual(early.toBlock, middle)
      assert.deepStrictEqual(early.counts, { Transfer: transfers.filter((item) => item.blockNumber <= middle).length })
      assert.isAtLeast(early.processingMillis, 0)
      assert.isAtMost(early.processingMillis, elapsed, "the time spent reading is within the time the sync took")
      assert.strictEqual(Option.getOrThrow(yield* store.get(handle.id)).message, `${early.total} events up to block ${middle}`)
      const beyond = yield* tasks.run(ChainTasks.SyncEvents, { ...base, toBlock: head + 1000 })
      assert.strictEqual(beyond.toBlock, head)
      assert.strictEqual(beyond.total, transfers.length)
      // a page after a cursor counts and reads from the cursor's block on
      const first = yield* tasks.run(ChainTasks.SyncEvents, { ...base, pageSize: 2 })
      const second = yield* tasks.run(ChainTasks.SyncEvents, { ...base, pageSize: 2, after: first.nextCursor!, toBlock: first.toBlock })
      assert.strictEqual(second.fromBlock, first.nextCursor!.blockNumber)
      assert.strictEqual(second.total, transfers.length - 2)
    }))

  it.effect("event signatures that are none, or a function's, are refused at submission naming them; nothing runs", () =>
    Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      const seeded = yield* Seeded
      const { store, tasks } = yield* kindsOn(chain.url)
      const refusals: ReadonlyArray<readonly [ReadonlyArray<string>, string]> = [
        [["not a signature"], `"not a signature" is not an event signature`],
        [["Transfer(address,address,uint256)"], `"Transfer(address,address,uint256)" is not an event signature`],
        [["function transfer(address to, uint256 amount)"], `"function transfer(address to, uint256 amount)" is not an event signature`],
        [["emit event Paused()"], `"emit event Paused()" is not an event signature`],
        [["myevent Paused()"], `"myevent Paused()" is not an event signature`],
        [[transfer, "event Broken(uint256"], "the event signatures do not parse"]
      ]
      for (const [events, says] of refusals) {
        const refused = yield* Effect.flip(tasks.submit(ChainTasks.SyncEvents, { chain: "dev", address: seeded.token, events }))
        assert.strictEqual(refused._tag, "InvalidPayload", JSON.stringify(events))
        assert.include(refused.message, says)
      }
      assert.deepStrictEqual((yield* store.list({})).items, [])
      // an event without arguments, and a struct a signature uses, are signatures
      const ran = yield* tasks.run(ChainTasks.SyncEvents, {
        chain: "dev",
        address: seeded.token,
        events: ["struct Pair { address a; uint256 b; }", "event Paired(Pair pair)", "event Paused()", transfer]
      })
      assert.isAbove(ran.counts.Transfer ?? 0, 0)
    }))

  it.effect("a broadcast on every default waits for one confirmation, within two minutes, polling every second", () =>
    Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      const evm = yield* client(devChainConfig([chain.url]))
      const { tasks } = yield* kindsOn(chain.url)
      const sender = privateKeyToAccount(chain.accounts[18]!.privateKey)
      const nonce = hexToNumber((yield* evm.request("eth_getTransactionCount", [sender.address, "pending"])) as Hex)
      const transaction = yield* Effect.promise(() =>
        sender.signTransaction({ type: "eip1559", chainId: chain.chainId, nonce, gas: 21_000n, maxFeePerGas: 10n ** 11n, maxPriorityFeePerGas: 10n ** 9n, to: chain.accounts[19]!.address, value: 1n })
      )
      const receipt = yield* tasks.run(ChainTasks.Broadcast, { chain: "dev", transaction })
      assert.deepInclude(receipt, { transactionHash: keccak256(transaction), confirmations: 1 })
    }))

  it.effect("a block is validated with its receipts only when asked: a provider dropping logs fails that check, and processing reads none", () =>
    Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      const seeded = yield* Seeded
      const number = seeded.activity.find((item) => item.kind === "erc20")!.blockNumber
      const lying = yield* FaultProxy.make(chain.url, { dropLogs: true })
      const { tasks } = yield* kindsOn(lying.url)
      const checked = yield* Effect.flip(tasks.run(ChainTasks.ValidateBlock, { chain: "dev", number, receipts: true }))
      assert.strictEqual(checked._tag === "BlockValidationError" && checked.reason._tag, "ReceiptsRootMismatch")
      // a block given as data, its receipts read through the same provider
      const block = yield* Effect.flatMap(client(devChainConfig([chain.url])), (evm) => evm.request("eth_getBlockByNumber", [`0x${number.toString(16)}`, true]))
      const given = yield* Effect.flip(tasks.run(ChainTasks.ValidateBlock, { chain: "dev", block: block as Record<string, unknown>, receipts: true }))
      assert.strictEqual(given._tag === "BlockValidationError" && given.reason._tag, "ReceiptsRootMismatch")
      assert.strictEqual((yield* tasks.run(ChainTasks.ValidateBlock, { chain: "dev", block: block as Record<string, unknown> })).number, number)
      assert.strictEqual((yield* tasks.run(ChainTasks.ValidateBlock, { chain: "dev", number })).number, number)
      const processed = yield* tasks.run(ChainTasks.ProcessBlock, { chain: "dev", number })
      assert.deepInclude(processed, { number, source: "node" })
    }))

  it.effect("a block request naming both a number and a block, or neither, is refused saying to give exactly one", () =>
    Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      const { tasks } = yield* kindsOn(chain.url)
      for (const payload of [{ chain: "dev" }, { chain: "dev", number: 1, block: { number: "0x1" } }]) {
        const refused = yield* Effect.flip(tasks.submit(ChainTasks.ProcessBlock, payload))
        assert.strictEqual(refused._tag, "InvalidPayload")
        assert.include(refused.message, "exactly one of them")
      }
    }))

  it.effect("a range whose toBlock comes before its fromBlock is refused at submission naming both; nothing is recorded", () =>
    Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      const seeded = yield* Seeded
      const { store, tasks } = yield* kindsOn(chain.url)
      const swapped = { chain: "dev", fromBlock: 100, toBlock: 50 }
      const refusals = [
        yield* Effect.flip(tasks.submit(ChainTasks.FetchBlocks, swapped)),
        yield* Effect.flip(tasks.submit(ChainTasks.ScanAddresses, { ...swapped, addresses: [seeded.token] })),
        yield* Effect.flip(tasks.submit(ChainTasks.SyncEvents, { ...swapped, address: seeded.token, events: [transfer] }))
      ]
      for (const refused of refusals) {
        assert.strictEqual(refused._tag, "InvalidPayload")
        assert.include(refused.message, "toBlock 50 is before fromBlock 100")
        assert.include(refused.message, "toBlock")
      }
      assert.deepStrictEqual((yield* store.list({})).items, [])
      // one block (toBlock = fromBlock) is a range; so is an open end
      const one = yield* tasks.run(ChainTasks.FetchBlocks, { chain: "dev", fromBlock: 1, toBlock: 1 })
      assert.deepStrictEqual(one.blocks.map((block) => block.number), [1])
      const synced = yield* tasks.run(ChainTasks.SyncEvents, { chain: "dev", address: seeded.token, events: [transfer], fromBlock: 1 })
      assert.strictEqual(synced.fromBlock, 1)
    }))
})
