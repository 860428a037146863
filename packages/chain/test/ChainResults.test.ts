/**
 * What the chain kinds return: a sync's decoded events, a page at a time; a
 * scan to the head, grouped by address; a block range with its
 * transactions; and blocks given as data (from a peer) validated and
 * processed with their source recorded.
 */
import { assert, layer } from "@effect/vitest"
import { TaskStore, Tasks } from "@chainjobs/tasks"
import { Effect, Layer, Option } from "effect"
import { type Hex, numberToHex } from "viem"
import * as Activity from "../src/Activity.ts"
import { BlockFeed } from "../src/BlockFeed.ts"
import * as ChainTasks from "../src/ChainTasks.ts"
import { DevChain, DevSeed } from "@chainjobs/devchain"
import { client, devChainConfig, Seeded, seededChain, supervisor } from "./fixtures.ts"

const transfer = "event Transfer(address indexed from, address indexed to, uint256 value)"

/** Runs a program with the supervisor, the chain kinds and a block feed over the dev chain. */
const withTasks = Effect.provide(Layer.unwrap(DevChain.DevChain.use((chain) =>
  Effect.succeed(supervisor(ChainTasks.layer, [devChainConfig([chain.url])]).pipe(Layer.provide(TaskStore.layerMemory)))
)))

/** A block as the node answers `eth_getBlockByNumber(n, true)`: the JSON a peer would send. */
const rawBlock = (number: number) =>
  Effect.flatMap(DevChain.DevChain, (chain) =>
    Effect.flatMap(client(devChainConfig([chain.url])), (evm) =>
      Effect.map(evm.request("eth_getBlockByNumber", [numberToHex(number), true]), (block) => block as Record<string, any>)))

layer(seededChain({ rounds: 10 }), { excludeTestServices: true, timeout: "60 seconds" })("chain kinds' results", (it) => {
  it.effect("a sync returns its events decoded, a page at a time: the pages, read by cursor, are every log once in chain order", () =>
    Effect.gen(function*() {
      const seeded = yield* Seeded
      const tasks = yield* Tasks.Tasks
      const transfers = seeded.activity.filter((item) => item.kind === "erc20")
      assert.isAbove(transfers.length, 12)
      const base = { chain: "dev", address: seeded.token, events: [transfer], pageSize: 5, chunkSize: 7 }
      const first = yield* tasks.run(ChainTasks.SyncEvents, base)
      // the counts cover every log; the page holds five, decoded
      assert.deepStrictEqual(first.counts, { Transfer: transfers.length })
      assert.strictEqual(first.events.length, 5)
      const [one] = first.events
      assert.deepInclude(one!, { name: "Transfer", address: seeded.token.toLowerCase(), blockNumber: transfers[0]!.blockNumber })
      assert.deepStrictEqual(one!.args, { from: transfers[0]!.from, to: transfers[0]!.to, value: transfers[0]!.value })
      const pages = [first]
      while (pages.at(-1)!.nextCursor !== null) {
        const previous = pages.at(-1)!
        pages.push(yield* tasks.run(ChainTasks.SyncEvents, { ...base, after: previous.nextCursor!, toBlock: first.toBlock }))
      }
      assert.strictEqual(pages.length, Math.ceil(transfers.length / 5))
      const events = pages.flatMap((page) => page.events)
      assert.deepStrictEqual(
        events.map((event) => ({ key: `${event.transactionHash}:${event.logIndex}`, ...(event.args as object) })),
        transfers.map((item) => ({ key: Activity.key(item), from: item.from, to: item.to, value: item.value }))
      )
      // a later page counts what follows its cursor
      assert.strictEqual(pages[1]!.total, transfers.length - 5)
    }).pipe(withTasks))

  it.effect("a log no given signature decodes is kept raw, with no name", () =>
    Effect.gen(function*() {
      const seeded = yield* Seeded
      const result = yield* Tasks.Tasks.use((tasks) =>
        tasks.run(ChainTasks.SyncEvents, { chain: "dev", address: seeded.token, events: [], pageSize: 2 }))
      assert.deepInclude(result.events[0]!, { name: null, args: null })
      assert.strictEqual(result.events[0]!.topics.length, 3)
    }).pipe(withTasks))

  it.effect("a scan without toBlock runs to the head; its activity is grouped by address as well as in chain order", () =>
    Effect.gen(function*() {
      const seeded = yield* Seeded
      const watched = [seeded.participants[1]!, seeded.participants[4]!, "0x00000000000000000000000000000000000000ff"]
      const result = yield* Tasks.Tasks.use((tasks) =>
        tasks.run(ChainTasks.ScanAddresses, { chain: "dev", addresses: watched, fromBlock: seeded.fromBlock })).pipe(withTasks)
      assert.strictEqual(result.toBlock, seeded.toBlock)
      const expected = DevSeed.expectedFor(seeded, watched)
      assert.deepStrictEqual(result.activity.map(Activity.key), expected.map(Activity.key))
      assert.sameMembers(Object.keys(result.byAddress), watched)
      for (const address of watched) {
        assert.deepStrictEqual(
          result.byAddress[address]!.map(Activity.key),
          expected.filter((item) => item.from === address || item.to === address).map(Activity.key),
          address
        )
      }
      assert.deepStrictEqual(result.byAddress["0x00000000000000000000000000000000000000ff"], [])
    }))

  it.effect("a block range fetched with includeTransactions carries each block's transactions", () =>
    Effect.gen(function*() {
      const seeded = yield* Seeded
      const result = yield* Tasks.Tasks.use((tasks) =>
        tasks.run(ChainTasks.FetchBlocks, {
          chain: "dev",
          fromBlock: seeded.fromBlock,
          toBlock: seeded.toBlock,
          chunkSize: 4,
          includeTransactions: true
        }))
      const natives = seeded.activity.filter((item) => item.kind === "native")
      const listed = result.blocks.flatMap((block) => block.transactionList ?? [])
      assert.isTrue(result.blocks.every((block) => block.transactionList?.length === block.transactions))
      const byHash = new Map(listed.map((transaction) => [transaction.hash, transaction]))
      assert.strictEqual(byHash.size, listed.length)
      for (const item of natives) {
        const listedOne = byHash.get(item.transactionHash)
        assert.deepStrictEqual([listedOne?.from, listedOne?.to, listedOne?.value], [item.from, item.to, item.value])
      }
      const plain = yield* Tasks.Tasks.use((tasks) =>
        tasks.run(ChainTasks.FetchBlocks, { chain: "dev", fromBlock: seeded.fromBlock, toBlock: seeded.fromBlock + 1 }))
      assert.isTrue(plain.blocks.every((block) => !("transactionList" in block)))
    }).pipe(withTasks))

  it.effect("a block given as data is validated with its source recorded; a tampered or malformed one is refused", () =>
    Effect.gen(function*() {
      const seeded = yield* Seeded
      const tasks = yield* Tasks.Tasks
      const number = seeded.activity.find((item) => item.kind === "native")!.blockNumber
      const block = yield* rawBlock(number)
      const fromPeer = yield* tasks.run(ChainTasks.ValidateBlock, { chain: "dev", block, source: "peer-7" })
      const fromNode = yield* tasks.run(ChainTasks.ValidateBlock, { chain: "dev", number })
      assert.deepStrictEqual(fromPeer, { ...fromNode, source: "peer-7" })
      assert.strictEqual(fromNode.source, "node")
      assert.strictEqual((yield* tasks.run(ChainTasks.ValidateBlock, { chain: "dev", block })).source, "data")

      const reason = (data: unknown) =>
        Effect.map(Effect.flip(tasks.run(ChainTasks.ValidateBlock, { chain: "dev", block: data as Record<string, unknown> })), (error) =>
          error._tag === "BlockValidationError" ? error.reason._tag : error._tag)
      const [transaction] = block.transactions as Array<Record<string, Hex>>
      const tampered = { ...block, transactions: [{ ...transaction, value: numberToHex(BigInt(transaction!.value!) + 1n) }] }
      assert.strictEqual(yield* reason(tampered), "TransactionHashMismatch")
      assert.strictEqual(yield* reason({ ...block, gasUsed: "0x1" }), "HashMismatch")
      assert.strictEqual(yield* reason({ number: "0x1" }), "MalformedBlock")
      assert.strictEqual(yield* reason({ ...block, transactions: [{ ...transaction, r: "not hex" }] }), "MalformedBlock")
      // one of number and block, not both, not neither: refused at submission
      for (const payload of [{ chain: "dev" }, { chain: "dev", number, block }]) {
        const refused = yield* Effect.flip(tasks.submit(ChainTasks.ValidateBlock, payload))
        assert.strictEqual(refused._tag, "InvalidPayload")
      }
    }).pipe(withTasks))

  it.effect("ProcessBlock takes blocks as data: it records and publishes those that follow, with their source", () =>
    Effect.gen(function*() {
      const seeded = yield* Seeded
      const tasks = yield* Tasks.Tasks
      const feed = yield* BlockFeed
      const numbers = [seeded.fromBlock, seeded.fromBlock + 1]
      const blocks = yield* Effect.forEach(numbers, rawBlock)
      const processed = yield* Effect.forEach(blocks, (block) => tasks.run(ChainTasks.ProcessBlock, { chain: "dev", block, source: "peer-a" }))
      assert.deepStrictEqual(processed.map((block) => [block.number, block.source]), numbers.map((number) => [number, "peer-a"]))
      assert.strictEqual(Option.getOrThrow(yield* feed.latest("dev")).hash, blocks[1]!.hash)
      // the last recorded block replaced by another of its number: the next block from a peer no longer follows it
      const { source: _, ...last } = processed[1]!
      yield* feed.record("dev", { ...last, hash: processed[0]!.hash })
      const next = yield* rawBlock(seeded.fromBlock + 2)
      const refused = yield* Effect.flip(tasks.run(ChainTasks.ProcessBlock, { chain: "dev", block: next, source: "peer-a" }))
      assert.strictEqual(refused._tag === "BlockValidationError" && refused.reason._tag, "ParentMismatch")
    }).pipe(withTasks))
})
