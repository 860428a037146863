/**
 * The chain kinds' runners (`ChainTasks.fetchBlocks`, `scanAddresses`,
 * `syncEvents`, `validateBlock`, `processBlock`, `broadcast`) called
 * directly, without a supervisor, on a small seeded dev chain and a task
 * context that records what they save and report: each result compared
 * with what the node itself answers, the payload's defaults (the head, the
 * confirmations, the source, receipts checked only when asked), and a
 * provider answering addresses checksummed; `FollowHead` forked, its head
 * reads gated so that the test reorganizes the chain between two rounds.
 * Fast enough for a mutation stage of `ChainTasks.ts`.
 */
import { assert, describe, it, layer } from "@effect/vitest"
import { Task, type TaskContext } from "@chainjobs/tasks"
import { Effect, Exit, Fiber, Latch, Option } from "effect"
import { type Block, getAddress, type Hex, hexToBigInt, hexToNumber, numberToHex, parseAbi } from "viem"
import { DevChain, DevSeed } from "@chainjobs/devchain"
import { BlockFeed, layerMemory as feedLayer } from "../src/BlockFeed.ts"
import * as ChainTasks from "../src/ChainTasks.ts"
import { Chains } from "../src/Chains.ts"
import type * as EvmClient from "../src/EvmClient.ts"
import { client, devChainConfig, Seeded, seededChain, signer } from "./fixtures.ts"

const transfer = "event Transfer(address indexed from, address indexed to, uint256 value)"

/** The topic of `Transfer(address,address,uint256)`. */
const transferTopic = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"

/** A task context recording the checkpoints saved, the progress reported and the heartbeats; `resumed` is its last checkpoint. */
const recordingContext = <C>(resumed?: C) => {
  const checkpoints: Array<C> = []
  const progress: Array<readonly [number, string | undefined]> = []
  let heartbeats = 0
  const context: TaskContext.Typed<C, unknown> = {
    taskId: "run",
    attempt: 1,
    heartbeat: Effect.sync(() => void heartbeats++),
    progress: (percent, message) => Effect.sync(() => void progress.push([percent, message])),
    checkpoint: (state) => Effect.sync(() => void checkpoints.push(state)),
    lastCheckpoint: Effect.succeed(Option.fromUndefinedOr(resumed))
  }
  return { context, checkpoints, progress, heartbeats: () => heartbeats }
}

/** A client of the dev chain of its own, closed with the test's scope. */
const devClient = Effect.flatMap(DevChain.DevChain, (chain) => client(devChainConfig([chain.url])))

/** The chain `dev` whose client is `change(client)` of a client of the dev chain. */
const chainsOver = (change: (client: EvmClient.EvmClient) => EvmClient.EvmClient = (client) => client) =>
  Effect.map(devClient, (evm) =>
    Chains.of({
      names: Effect.succeed(["dev"]),
      client: () => Effect.succeed(change(evm)),
      connect: () => Effect.succeed(change(evm)),
      disconnect: () => Effect.void
    }))

/** Runs `effect` with the chain `dev` (its client changed by `change`, if given) and a block feed of its own. */
const onDev = <A, E, R>(effect: Effect.Effect<A, E, R>, change?: (client: EvmClient.EvmClient) => EvmClient.EvmClient) =>
  Effect.flatMap(chainsOver(change), (chains) =>
    effect.pipe(Effect.provideService(Chains, chains), Effect.provide(feedLayer, { local: true })))

const headOf = (evm: EvmClient.EvmClient) => Effect.map(evm.request("eth_blockNumber"), (head) => hexToNumber(head as Hex))

/** A block as the node answers `eth_getBlockByNumber(n, true)`. */
const rawBlock = (evm: EvmClient.EvmClient, number: number) =>
  Effect.map(evm.request("eth_getBlockByNumber", [numberToHex(number), true]), (block) => block as Record<string, any>)

const typeNames: Record<string, string> = { "0x0": "legacy", "0x1": "eip2930", "0x2": "eip1559", "0x3": "eip4844", "0x4": "eip7702" }

/** What `FetchBlocks` should report of a block as the node answered it (with its transactions when `withTransactions`). */
const expectedSummary = (raw: Record<string, any>, withTransactions: boolean) => ({
  number: hexToNumber(raw.number),
  hash: raw.hash,
  parentHash: raw.parentHash,
  timestamp: hexToNumber(raw.timestamp),
  transactions: raw.transactions.length,
  gasUsed: hexToBigInt(raw.gasUsed).toString(),
  ...(withTransactions
    ? {
      transactionList: raw.transactions.map((transaction: Record<string, any>) => ({
        hash: transaction.hash,
        index: hexToNumber(transaction.transactionIndex),
        from: transaction.from.toLowerCase(),
        to: transaction.to === null ? null : transaction.to.toLowerCase(),
        value: hexToBigInt(transaction.value).toString(),
        nonce: hexToNumber(transaction.nonce),
        gas: hexToBigInt(transaction.gas).toString(),
        type: typeNames[transaction.type],
        input: transaction.input
      }))
    }
    : {})
})

/** The client with each transaction of the blocks it reads (with their transactions) changed by `change`. */
const rewriting = (change: (transaction: Record<string, any>) => Record<string, any>) => (evm: EvmClient.EvmClient): EvmClient.EvmClient => ({
  ...evm,
  getBlocks: (numbers, options) =>
    Effect.map(evm.getBlocks(numbers, options), (blocks) =>
      blocks.map((block): Block => ({
        ...block,
        transactions: (block.transactions as ReadonlyArray<any>).map((transaction) =>
          typeof transaction === "string" ? transaction : change(transaction)
        ) as Block["transactions"]
      })))
})

/** The client with every address of the blocks it reads checksummed, as some providers answer them. */
const checksummed = rewriting((transaction) => ({
  ...transaction,
  from: getAddress(transaction.from),
  to: transaction.to === null ? null : getAddress(transaction.to)
}))

const plain = <A>(items: ReadonlyArray<A>) => items.map((item) => ({ ...item }))

/** Mines `blocks` blocks on the dev chain, the first with a transfer of `value` wei (so that two branches' blocks differ). */
const branch = (evm: EvmClient.EvmClient, blocks: number, value: number) =>
  Effect.gen(function*() {
    const [from, to] = [DevChain.accounts[16]!.address, DevChain.accounts[17]!.address]
    yield* evm.request("eth_sendTransaction", [{ from, to, value: numberToHex(value) }])
    for (let block = 1; block < blocks; block++) yield* evm.request("evm_mine")
  })

/** Polls (10 ms apart, on the real clock) until `holds`; a defect saying `what` after 2,000 polls. */
const until = (holds: () => boolean, what: () => string) =>
  Effect.gen(function*() {
    for (let tries = 0; !holds(); tries++) {
      if (tries > 2000) return yield* Effect.die(new Error(what()))
      yield* Effect.sleep("10 millis")
    }
  })

/** The typed error an exit failed with (its first), if any. */
const failureOf = (exit: Exit.Exit<unknown, unknown>): any => {
  const error = Exit.isFailure(exit) ? exit.cause.reasons.find((reason) => reason._tag === "Fail") : undefined
  return error?._tag === "Fail" ? error.error : undefined
}

/** How a follower that is to fail ended, waiting at most 20 s for it. */
const endOf = (follower: Fiber.Fiber<void, unknown>) =>
  Fiber.await(follower).pipe(
    Effect.timeoutOrElse({ duration: "20 seconds", orElse: () => Effect.die(new Error("the follower did not fail within 20 s")) })
  )

/**
 * A gate on the head reads of a client (`through`): `hold` closes it and returns once a read waits there (the
 * follower is held before its next round), so the test can change the chain between two rounds; `open` lets it on.
 */
const headGate = Effect.gen(function*() {
  const gate = yield* Latch.make(true)
  let headReads = 0
  const through = (client: EvmClient.EvmClient): EvmClient.EvmClient => ({
    ...client,
    head: Effect.sync(() => headReads++).pipe(Effect.andThen(gate.await), Effect.andThen(client.head))
  })
  const hold = Effect.gen(function*() {
    yield* gate.close
    const reads = headReads
    yield* until(() => headReads !== reads, () => "the follower did not read the head again")
  })
  return { through, hold, open: gate.open }
})

layer(seededChain({ rounds: 5, participants: 3, maxGap: 1 }), { excludeTestServices: true, timeout: "60 seconds" })(
  "the chain kinds' runners",
  (it) => {
    it.effect("FetchBlocks reports each block of its range as the node holds it, its transactions when asked, a chunk at a time", () =>
      Effect.gen(function*() {
        const seeded = yield* Seeded
        const evm = yield* devClient
        // the token's deployment (no recipient) and the transfers after it
        const [fromBlock, toBlock] = [seeded.fromBlock, seeded.fromBlock + 4]
        const raws = yield* Effect.forEach([0, 1, 2, 3, 4], (offset) => rawBlock(evm, fromBlock + offset))
        assert.isNull(raws[0]!.transactions[0].to)
        const { checkpoints, context, progress } = recordingContext<any>()
        const result = yield* onDev(ChainTasks.fetchBlocks({
          chain: "dev",
          fromBlock,
          toBlock,
          chunkSize: 2,
          checkpointItems: 3,
          includeTransactions: true
        }, context))
        assert.deepStrictEqual(result, { fromBlock, toBlock, blocks: raws.map((raw) => expectedSummary(raw, true)) })
        // a checkpoint after each chunk while it holds at most 3 blocks
        assert.deepStrictEqual(checkpoints.map((checkpoint) => [checkpoint.lastBlock, checkpoint.state.length]), [[fromBlock + 1, 2]])
        assert.deepStrictEqual(progress.map(([, message]) => message), [
          `2 blocks up to ${fromBlock + 1}`,
          `4 blocks up to ${fromBlock + 3}`,
          `5 blocks up to ${toBlock}`
        ])
        // without includeTransactions: no list, and one chunk of 100 blocks by default
        const bare = recordingContext<any>()
        const summaries = yield* onDev(ChainTasks.fetchBlocks({ chain: "dev", fromBlock, toBlock }, bare.context))
        assert.deepStrictEqual(summaries.blocks, raws.map((raw) => expectedSummary(raw, false)))
        assert.deepStrictEqual(bare.checkpoints.map((checkpoint) => checkpoint.lastBlock), [toBlock])
      }))

    it.effect("FetchBlocks reports addresses lowercase when the provider answers them checksummed", () =>
      Effect.gen(function*() {
        const seeded = yield* Seeded
        const evm = yield* devClient
        const raws = yield* Effect.forEach([0, 1], (offset) => rawBlock(evm, seeded.fromBlock + offset))
        const { context } = recordingContext<any>()
        const result = yield* onDev(
          ChainTasks.fetchBlocks({ chain: "dev", fromBlock: seeded.fromBlock, toBlock: seeded.fromBlock + 1, includeTransactions: true }, context),
          checksummed
        )
        const listed = result.blocks.flatMap((block) => block.transactionList!)
        assert.isTrue(listed.some((transaction) => transaction.to !== null))
        assert.deepStrictEqual(result.blocks, raws.map((raw) => expectedSummary(raw, true)))
      }))

    it.effect("FetchBlocks lists the transactions of a block of several each at its index", () =>
      Effect.gen(function*() {
        const evm = yield* devClient
        const [from, to] = [DevChain.accounts[11]!.address, DevChain.accounts[12]!.address]
        yield* evm.request("evm_setAutomine", [false])
        const hashes = yield* Effect.forEach([1, 2, 3], (value) => evm.request("eth_sendTransaction", [{ from, to, value: numberToHex(value) }]))
        yield* evm.request("evm_mine")
        yield* evm.request("evm_setAutomine", [true])
        const head = yield* headOf(evm)
        const result = yield* onDev(ChainTasks.fetchBlocks({ chain: "dev", fromBlock: head, toBlock: head, includeTransactions: true }, recordingContext<any>().context))
        assert.deepStrictEqual(result.blocks[0]!.transactionList!.map((transaction) => [transaction.index, transaction.hash]), hashes.map((hash, index) => [index, hash]))
      }))

    it.effect("ScanAddresses runs to the head, or to the last confirmed block; counts its distinct addresses and groups by address", () =>
      Effect.gen(function*() {
        const seeded = yield* Seeded
        const head = yield* headOf(yield* devClient)
        const [alice, bob] = [seeded.participants[1]!, seeded.participants[2]!]
        const addresses = [alice, bob, getAddress(bob)]
        const expected = DevSeed.expectedFor(seeded, [alice, bob])
        assert.isAbove(expected.length, 5)
        const toHead = yield* onDev(ChainTasks.scanAddresses({ chain: "dev", addresses, fromBlock: seeded.fromBlock, chunkSize: 4 }, recordingContext<any>().context))
        assert.deepStrictEqual([toHead.fromBlock, toHead.toBlock, toHead.addresses], [seeded.fromBlock, head, 2])
        assert.deepStrictEqual(plain(toHead.activity), plain(expected))
        assert.deepStrictEqual(Object.keys(toHead.byAddress).sort(), [alice, bob].sort())
        assert.deepStrictEqual(plain(toHead.byAddress[bob]!), plain(expected.filter((item) => item.from === bob || item.to === bob)))
        // three confirmations: the last two blocks are left out
        const confirmed = yield* onDev(ChainTasks.scanAddresses({
          chain: "dev",
          addresses: [alice, bob],
          fromBlock: seeded.fromBlock,
          confirmations: 3
        }, recordingContext<any>().context))
        assert.strictEqual(confirmed.toBlock, head - 2)
        assert.deepStrictEqual(plain(confirmed.activity), plain(expected.filter((item) => item.blockNumber <= head - 2)))
        // validated, the same
        const validated = yield* onDev(ChainTasks.scanAddresses({
          chain: "dev",
          addresses: [alice],
          fromBlock: seeded.fromBlock,
          toBlock: head,
          validate: true
        }, recordingContext<any>().context))
        assert.deepStrictEqual(plain(validated.activity), plain(DevSeed.expectedFor(seeded, [alice])))
        assert.deepStrictEqual(Object.keys(validated.byAddress), [alice])
      }))

    it.effect("a validating ScanAddresses refuses a provider claiming another sender; one that does not validate reports the forgery", () =>
      Effect.gen(function*() {
        const seeded = yield* Seeded
        const forger = "0x00000000000000000000000000000000000f0f0f"
        const payload = { chain: "dev", addresses: [forger], fromBlock: seeded.fromBlock, toBlock: seeded.fromBlock + 6 }
        const lying = rewriting((transaction) => ({ ...transaction, from: forger }))
        const trusting = yield* onDev(ChainTasks.scanAddresses(payload, recordingContext<any>().context), lying)
        assert.isAbove(trusting.activity.length, 0)
        const refused = yield* Effect.flip(onDev(ChainTasks.scanAddresses({ ...payload, validate: true }, recordingContext<any>().context), lying))
        assert.strictEqual(refused._tag, "BlockValidationError")
        assert.strictEqual((refused as any).reason._tag, "SenderMismatch")
      }))

    it.effect("ScanAddresses saves its activity after each chunk while it holds at most checkpointItems, and reports how much it found up to which block", () =>
      Effect.gen(function*() {
        const seeded = yield* Seeded
        const alice = seeded.participants[1]!
        const toBlock = seeded.fromBlock + 5
        const expected = DevSeed.expectedFor(seeded, [alice]).filter((item) => item.blockNumber <= toBlock)
        const { checkpoints, context, progress } = recordingContext<any>()
        yield* onDev(ChainTasks.scanAddresses({ chain: "dev", addresses: [alice], fromBlock: seeded.fromBlock, toBlock, chunkSize: 3 }, context))
        const upTo = (block: number) => plain(expected.filter((item) => item.blockNumber <= block))
        assert.deepStrictEqual(checkpoints.map((checkpoint) => [checkpoint.lastBlock, plain(checkpoint.state)]), [
          [seeded.fromBlock + 2, upTo(seeded.fromBlock + 2)],
          [toBlock, upTo(toBlock)]
        ])
        assert.deepStrictEqual(progress.map(([, message]) => message), [
          `${upTo(seeded.fromBlock + 2).length} items up to block ${seeded.fromBlock + 2}`,
          `${expected.length} items up to block ${toBlock}`
        ])
        // with checkpointItems as many as the first chunk found, no checkpoint once the activity holds more
        const first = upTo(seeded.fromBlock + 2).length
        assert.isTrue(first > 0 && first < expected.length, `${first} of ${expected.length}`)
        const bounded = recordingContext<any>()
        yield* onDev(ChainTasks.scanAddresses({
          chain: "dev",
          addresses: [alice],
          fromBlock: seeded.fromBlock,
          toBlock,
          chunkSize: 3,
          checkpointItems: first
        }, bounded.context))
        assert.deepStrictEqual(bounded.checkpoints.map((checkpoint) => checkpoint.lastBlock), [seeded.fromBlock + 2])
      }))

    it.effect("SyncEvents counts every log by event name, decodes a page of them and names where the next page starts", () =>
      Effect.gen(function*() {
        const seeded = yield* Seeded
        const head = yield* headOf(yield* devClient)
        const transfers = seeded.activity.filter((item) => item.kind === "erc20")
        assert.isAbove(transfers.length, 5)
        const { checkpoints, context, progress } = recordingContext<any>()
        const result = yield* onDev(ChainTasks.syncEvents({
          chain: "dev",
          address: seeded.token,
          events: [transfer],
          pageSize: 3,
          chunkSize: 7
        }, context))
        // from genesis to the head
        assert.deepInclude(result, { fromBlock: 0, toBlock: head, counts: { Transfer: transfers.length }, total: transfers.length })
        assert.deepStrictEqual(
          result.events.map((event) => [event.name, event.blockNumber, event.logIndex, event.transactionHash, event.args]),
          transfers.slice(0, 3).map((item) => ["Transfer", item.blockNumber, item.logIndex, item.transactionHash, { from: item.from, to: item.to, value: item.value }])
        )
        assert.deepStrictEqual(result.nextCursor, { blockNumber: transfers[2]!.blockNumber, logIndex: transfers[2]!.logIndex })
        const chunks = Math.ceil((head + 1) / 7)
        assert.strictEqual(checkpoints.length, chunks)
        assert.deepInclude(checkpoints[0]!.state, { fromBlock: 0, total: transfers.filter((item) => item.blockNumber <= 6).length })
        assert.strictEqual(progress.at(-1)![1], `${transfers.length} events up to block ${head}`)
        // the page after the cursor: counts cover what follows it, and it is the last
        const next = yield* onDev(ChainTasks.syncEvents({
          chain: "dev",
          address: seeded.token,
          events: [transfer],
          after: result.nextCursor!,
          toBlock: result.toBlock
        }, recordingContext<any>().context))
        assert.deepInclude(next, { fromBlock: transfers[2]!.blockNumber, total: transfers.length - 3, nextCursor: null })
        assert.deepStrictEqual(next.events.map((event) => event.logIndex), transfers.slice(3).map((item) => item.logIndex))
        // a page filled in the first chunk is still followed by another when the last chunk finds no log: a block after
        // the fourth transfer that holds none is a chunk of its own
        const quiet = Array.from({ length: head + 1 }, (_, number) => number).find((number) =>
          number > transfers[3]!.blockNumber && !transfers.some((item) => item.blockNumber === number)
        )!
        assert.isDefined(quiet, "a block without transfers after the fourth")
        const filled = yield* onDev(ChainTasks.syncEvents({
          chain: "dev",
          address: seeded.token,
          events: [transfer],
          pageSize: 3,
          toBlock: quiet,
          chunkSize: quiet
        }, recordingContext<any>().context))
        assert.deepStrictEqual(filled.nextCursor, { blockNumber: transfers[2]!.blockNumber, logIndex: transfers[2]!.logIndex })
      }))

    it.effect("SyncEvents over the last blocks, to a toBlock or the last confirmed block; a log no signature names counts under its topic", () =>
      Effect.gen(function*() {
        const seeded = yield* Seeded
        const head = yield* headOf(yield* devClient)
        const transfers = seeded.activity.filter((item) => item.kind === "erc20")
        const within = (from: number, to: number) => transfers.filter((item) => item.blockNumber >= from && item.blockNumber <= to)
        const run = (payload: Omit<Parameters<typeof ChainTasks.syncEvents>[0], "chain" | "address">) =>
          onDev(ChainTasks.syncEvents({ chain: "dev", address: seeded.token, ...payload }, recordingContext<any>().context))
        // the last 6 blocks up to a block below the head
        const toBlock = head - 3
        const last = yield* run({ events: [transfer], lastBlocks: 6, toBlock })
        assert.deepInclude(last, { fromBlock: toBlock - 5, toBlock, total: within(toBlock - 5, toBlock).length, nextCursor: null })
        assert.deepStrictEqual(last.events.map((event) => event.blockNumber), within(toBlock - 5, toBlock).map((item) => item.blockNumber))
        // a toBlock past the last confirmed block ends there; unnamed logs count under their topic, undecoded
        const confirmed = yield* run({ events: [], fromBlock: seeded.fromBlock, toBlock: head + 10, confirmations: 2 })
        assert.deepInclude(confirmed, { fromBlock: seeded.fromBlock, toBlock: head - 1, total: within(0, head - 1).length })
        assert.deepStrictEqual(confirmed.counts, { [transferTopic]: within(0, head - 1).length })
        assert.deepStrictEqual(confirmed.events.map((event) => [event.name, event.args]), within(0, head - 1).map(() => [null, null]))
        // more blocks than the chain holds: from genesis
        const all = yield* run({ events: [transfer], lastBlocks: head + 50 })
        assert.deepInclude(all, { fromBlock: 0, toBlock: head, total: transfers.length })
        // a cursor before the first block asked for reads from that block
        const late = yield* run({ events: [transfer], fromBlock: transfers[3]!.blockNumber, after: { blockNumber: 0, logIndex: 0 } })
        assert.deepInclude(late, { fromBlock: transfers[3]!.blockNumber, total: within(transfers[3]!.blockNumber, head).length })
      }))

    it.effect("ValidateBlock and ProcessBlock record the block's source: node when read by number, data or the one given when given", () =>
      Effect.gen(function*() {
        const seeded = yield* Seeded
        const evm = yield* devClient
        const number = seeded.fromBlock + 1
        const raw = yield* rawBlock(evm, number)
        const block = { number, hash: raw.hash, parentHash: raw.parentHash, timestamp: hexToNumber(raw.timestamp), transactions: raw.transactions.length }
        assert.deepStrictEqual(yield* onDev(ChainTasks.validateBlock({ chain: "dev", number })), { ...block, source: "node" })
        assert.deepStrictEqual(yield* onDev(ChainTasks.validateBlock({ chain: "dev", block: raw })), { ...block, source: "data" })
        assert.deepStrictEqual(
          yield* onDev(ChainTasks.validateBlock({ chain: "dev", block: raw, source: "peer-7", receipts: true })),
          { ...block, source: "peer-7" }
        )
        const processed = yield* onDev(Effect.gen(function*() {
          const feed = yield* BlockFeed
          const first = yield* ChainTasks.processBlock({ chain: "dev", number })
          const latest = yield* feed.latest("dev")
          const second = yield* ChainTasks.processBlock({ chain: "dev", block: yield* rawBlock(evm, number + 1), source: "peer-2" })
          return { first, latest, second, last: yield* feed.latest("dev") }
        }))
        assert.deepStrictEqual(processed.first, { ...block, source: "node" })
        assert.deepStrictEqual(Option.getOrThrow(processed.latest), block)
        assert.deepInclude(processed.second, { number: number + 1, parentHash: raw.hash, source: "peer-2" })
        assert.deepStrictEqual(Option.getOrThrow(processed.last), (({ source: _, ...rest }) => rest)(processed.second))
      }))

    it.effect("ValidateBlock checks a block's receipts only when asked: a provider dropping logs fails that check, by number and as data; ProcessBlock reads none", () =>
      Effect.gen(function*() {
        const seeded = yield* Seeded
        const number = seeded.activity.find((item) => item.kind === "erc20")!.blockNumber
        const raw = yield* rawBlock(yield* devClient, number)
        const droppingLogs = (evm: EvmClient.EvmClient): EvmClient.EvmClient => ({
          ...evm,
          getReceipts: (hashes) => Effect.map(evm.getReceipts(hashes), (receipts) => receipts.map((receipt) => ({ ...receipt, logs: [] })))
        })
        const refusal = (payload: Parameters<typeof ChainTasks.validateBlock>[0]) =>
          Effect.map(Effect.flip(onDev(ChainTasks.validateBlock(payload), droppingLogs)), (error) => error._tag === "BlockValidationError" ? error.reason._tag : error._tag)
        assert.strictEqual(yield* refusal({ chain: "dev", number, receipts: true }), "ReceiptsRootMismatch")
        assert.strictEqual(yield* refusal({ chain: "dev", block: raw, receipts: true }), "ReceiptsRootMismatch")
        assert.strictEqual((yield* onDev(ChainTasks.validateBlock({ chain: "dev", number }), droppingLogs)).number, number)
        assert.deepInclude(yield* onDev(ChainTasks.processBlock({ chain: "dev", number }), droppingLogs), { number, source: "node" })
      }))

    it.effect("ProcessBlock refuses a block whose parent is not the chain's last recorded block, and records nothing", () =>
      Effect.gen(function*() {
        const seeded = yield* Seeded
        const number = seeded.fromBlock + 2
        const stranger = { number: number - 1, hash: `0x${"ab".repeat(32)}`, parentHash: `0x${"cd".repeat(32)}`, timestamp: 1, transactions: 0 }
        const outcome = yield* onDev(Effect.gen(function*() {
          const feed = yield* BlockFeed
          yield* feed.record("dev", stranger)
          const exit = yield* Effect.exit(ChainTasks.processBlock({ chain: "dev", number }))
          // a recorded block two below is no parent: the block follows it
          yield* feed.record("dev", { ...stranger, number: number - 2 })
          const after = yield* ChainTasks.processBlock({ chain: "dev", number })
          return { exit, after, latest: yield* feed.latest("dev") }
        }))
        assert.isTrue(Exit.isFailure(outcome.exit))
        const failure = failureOf(outcome.exit)
        assert.strictEqual(failure?._tag, "BlockValidationError")
        const raw = yield* rawBlock(yield* devClient, number)
        assert.deepInclude(failure.reason, { _tag: "ParentMismatch", number, parentHash: raw.parentHash, actualParentHash: stranger.hash })
        assert.strictEqual(outcome.after.number, number)
        assert.strictEqual(Option.getOrThrow(outcome.latest).hash, raw.hash)
      }))

    it.effect("FollowHead resumed from a checkpoint of an earlier version (no blocks remembered) fails on a reorganization replacing all it processed", () =>
      Effect.gen(function*() {
        const evm = yield* devClient
        const head = yield* headOf(evm)
        const snapshot = yield* evm.request("evm_snapshot")
        yield* branch(evm, 2, 1)
        // its head reads pass a gate, closed while the chain reorganizes (its head goes back before it goes on)
        const gate = yield* headGate
        const { checkpoints, context } = recordingContext<typeof ChainTasks.FollowCheckpoint.Type>({ lastBlock: head })
        const follower = yield* Effect.forkChild(onDev(ChainTasks.followHead({ chain: "dev", fromBlock: 0, pollMillis: 10 }, context), gate.through))
        yield* until(() => checkpoints.at(-1)?.lastBlock === head + 2, () => `no checkpoint at ${head + 2}: ${JSON.stringify(checkpoints)}`)
        const first = yield* Effect.forEach([head + 1, head + 2], (number) => rawBlock(evm, number))
        // it went on after the checkpoint's block, and remembers only what it processed
        assert.deepStrictEqual(checkpoints, [
          { lastBlock: head + 1, recent: [{ number: head + 1, hash: first[0]!.hash }] },
          { lastBlock: head + 2, recent: first.map((block) => ({ number: hexToNumber(block.number), hash: block.hash })) }
        ])
        // both are replaced, while it waits at the gate: the fork may be before them, where it remembers nothing
        yield* gate.hold
        yield* evm.request("evm_revert", [snapshot])
        yield* branch(evm, 3, 2)
        yield* gate.open
        const exit = yield* endOf(follower)
        assert.isTrue(Exit.isFailure(exit))
        const failure = failureOf(exit)
        assert.strictEqual(failure?._tag, "BlockValidationError", String(failure))
        assert.deepInclude(failure.reason, { _tag: "ParentMismatch", actualParentHash: first[1]!.hash })
      }))

    it.effect("FollowHead resumed with blocks remembered, whose chain went back below its checkpoint on a shorter branch replacing them all, follows the branch at once", () =>
      Effect.gen(function*() {
        const evm = yield* devClient
        const head = yield* headOf(evm)
        const snapshot = yield* evm.request("evm_snapshot")
        yield* branch(evm, 3, 3)
        const first = yield* Effect.forEach([head + 1, head + 2, head + 3], (number) => rawBlock(evm, number))
        const remembered = first.map((block) => ({ number: hexToNumber(block.number), hash: block.hash as string }))
        // resumed after the branch's first block, which its checkpoint remembers
        const gate = yield* headGate
        const { checkpoints, context, heartbeats } = recordingContext<typeof ChainTasks.FollowCheckpoint.Type>({
          lastBlock: head + 1,
          recent: remembered.slice(0, 1)
        })
        const follower = yield* Effect.forkChild(onDev(ChainTasks.followHead({ chain: "dev", pollMillis: 10 }, context), gate.through))
        yield* until(() => checkpoints.at(-1)?.lastBlock === head + 3, () => `no checkpoint at ${head + 3}: ${JSON.stringify(checkpoints)}`)
        assert.deepStrictEqual(checkpoints.at(-1), { lastBlock: head + 3, recent: remembered })
        // between two rounds the chain goes back to its head before them and grows a branch of two blocks: its head
        // is below the checkpoint, and every block it remembers is replaced or gone
        yield* gate.hold
        const rounds = heartbeats()
        yield* evm.request("evm_revert", [snapshot])
        yield* branch(evm, 2, 4)
        const second = yield* Effect.forEach([head + 1, head + 2], (number) => rawBlock(evm, number))
        yield* gate.open
        // the next round (a heartbeat ends each) goes back to the first block it remembered and processes the branch
        yield* until(() => heartbeats() !== rounds || follower.pollUnsafe() !== undefined, () => "the follower did not end its round")
        assert.isUndefined(follower.pollUnsafe(), "the follower is still running")
        assert.deepStrictEqual(checkpoints.at(-1), {
          lastBlock: head + 2,
          recent: second.map((block) => ({ number: hexToNumber(block.number), hash: block.hash as string }))
        })
        yield* Fiber.interrupt(follower)
      }))

    it.effect("FollowHead resumed from a checkpoint of an earlier version fails on a reorganization by as many blocks or fewer, naming the block now at its last one's number, or none", () =>
      Effect.gen(function*() {
        const evm = yield* devClient
        // two blocks processed, then replaced by a branch of two (the head's hash changed) or of one (the head went back)
        for (const blocks of [2, 1]) {
          const head = yield* headOf(evm)
          const snapshot = yield* evm.request("evm_snapshot")
          yield* branch(evm, 2, 5)
          const gate = yield* headGate
          const { checkpoints, context } = recordingContext<typeof ChainTasks.FollowCheckpoint.Type>({ lastBlock: head })
          const follower = yield* Effect.forkChild(onDev(ChainTasks.followHead({ chain: "dev", pollMillis: 10 }, context), gate.through))
          yield* until(() => checkpoints.at(-1)?.lastBlock === head + 2, () => `no checkpoint at ${head + 2}: ${JSON.stringify(checkpoints)}`)
          const last = yield* rawBlock(evm, head + 2)
          yield* gate.hold
          yield* evm.request("evm_revert", [snapshot])
          yield* branch(evm, blocks, 6)
          const now = blocks === 2 ? (yield* rawBlock(evm, head + 2)).hash : "(none)"
          yield* gate.open
          // no new block waits: the round sees the last block gone, and no remembered block tells where the fork is
          const exit = yield* endOf(follower)
          const failure = failureOf(exit)
          assert.strictEqual(failure?._tag, "BlockValidationError", `a branch of ${blocks}: ${String(exit)}`)
          assert.deepInclude(failure.reason, { _tag: "ParentMismatch", number: head + 3, parentHash: now, actualParentHash: last.hash })
        }
      }))

    it.effect("FollowHead goes back to the fork of a reorganization onto a longer branch found as a new block's parent, and follows that branch", () =>
      Effect.gen(function*() {
        const evm = yield* devClient
        const head = yield* headOf(evm)
        const snapshot = yield* evm.request("evm_snapshot")
        yield* branch(evm, 3, 7)
        const gate = yield* headGate
        const { checkpoints, context } = recordingContext<typeof ChainTasks.FollowCheckpoint.Type>()
        const follower = yield* Effect.forkChild(
          onDev(ChainTasks.followHead({ chain: "dev", fromBlock: head + 1, pollMillis: 10 }, context), gate.through)
        )
        yield* until(() => checkpoints.at(-1)?.lastBlock === head + 3, () => `no checkpoint at ${head + 3}: ${JSON.stringify(checkpoints)}`)
        // between two rounds the three blocks it processed are replaced by a branch of four: the round finds a new
        // block waiting, whose parent is not the last block it processed
        yield* gate.hold
        yield* evm.request("evm_revert", [snapshot])
        yield* branch(evm, 4, 8)
        const second = yield* Effect.forEach([head + 1, head + 2, head + 3, head + 4], (number) => rawBlock(evm, number))
        yield* gate.open
        yield* until(() => checkpoints.at(-1)?.lastBlock === head + 4 || follower.pollUnsafe() !== undefined, () => `no checkpoint at ${head + 4}: ${JSON.stringify(checkpoints)}`)
        assert.isUndefined(follower.pollUnsafe(), "the follower is still running")
        assert.deepStrictEqual(checkpoints.at(-1), {
          lastBlock: head + 4,
          recent: second.map((block) => ({ number: hexToNumber(block.number), hash: block.hash as string }))
        })
        yield* Fiber.interrupt(follower)
      }))

    it.effect("Broadcast waits for the confirmations asked, within the time asked: two under automine time out at one", () =>
      Effect.gen(function*() {
        const { sign } = yield* signer(9, DevChain.accounts[10]!.address, 21_000n)
        const transaction = yield* sign()
        const exit = yield* Effect.exit(onDev(ChainTasks.broadcast({
          chain: "dev",
          transaction,
          confirmations: 2,
          timeoutMillis: 3000,
          pollMillis: 20
        })))
        assert.isTrue(Exit.isFailure(exit))
        const failure = failureOf(exit)
        assert.strictEqual(failure?._tag, "BroadcastError")
        assert.deepInclude(failure.reason, { _tag: "ConfirmationTimeout", confirmations: 1 })
        // one more block: the wait for two ends
        const evm = yield* devClient
        const again = yield* onDev(ChainTasks.broadcast({ chain: "dev", transaction, confirmations: 2, timeoutMillis: 20_000, pollMillis: 20 }).pipe(
          Effect.forkChild,
          Effect.tap(() => evm.request("evm_mine")),
          Effect.flatMap(Fiber.await)
        ))
        assert.isTrue(Exit.isSuccess(again))
        assert.strictEqual(Exit.isSuccess(again) ? again.value.confirmations : 0, 2)
      }))

    it.effect("Broadcast on every default waits for one confirmation: mined at once under automine, it is confirmed at once", () =>
      Effect.gen(function*() {
        const { sign } = yield* signer(11, DevChain.accounts[10]!.address, 21_000n)
        const transaction = yield* sign()
        // the defaults allow two minutes: a broadcast still waiting after 20 s waits for more than the one confirmation
        const receipt = yield* onDev(ChainTasks.broadcast({ chain: "dev", transaction })).pipe(
          Effect.timeoutOrElse({ duration: "20 seconds", orElse: () => Effect.succeed("still waiting" as const) })
        )
        assert.deepInclude(receipt, { confirmations: 1 })
      }), 60_000)
  }
)

describe("the chain kinds' payloads", () => {
  /** The message of the payload's refusal, or undefined when it is accepted. */
  const refusal = <K extends Task.Any>(kind: K, payload: unknown) => {
    const exit = Task.encodePayload(kind, payload as Task.Payload<K>)
    return Exit.isFailure(exit) ? String((exit.cause.reasons[0] as any).error.message) : undefined
  }
  const token = "0x5fbdb2315678afecb367f032d93f642f64180aa3"

  it("SyncEvents takes event and struct signatures viem reads; names anything else, or the first line of viem's complaint", () => {
    const sync = (events: ReadonlyArray<string>) => refusal(ChainTasks.SyncEvents, { chain: "dev", address: token, events })
    assert.isUndefined(sync(["event Paused()", "struct Pair { address a; uint256 b; }", "event Paired(Pair pair)", transfer]))
    assert.isUndefined(sync([]))
    assert.include(sync([transfer, "eventual Paused()"]), `"eventual Paused()" is not an event signature (event Name(type indexed name, …))`)
    assert.include(sync(["error Paused()"]), `"error Paused()" is not an event signature`)
    const broken = sync(["event Broken(uint256"])!
    assert.include(broken, "the event signatures do not parse: ")
    assert.notInclude(broken.slice(broken.indexOf("do not parse: ")), "\n")
    assert.isAbove(broken.length, broken.indexOf("do not parse: ") + "do not parse: ".length)
  })

  it("a block request takes its number or the block itself, exactly one of them", () => {
    const message = "give the block's number (read from the chain's node) or the block itself as data, exactly one of them"
    for (const kind of [ChainTasks.ValidateBlock, ChainTasks.ProcessBlock] as const) {
      assert.isUndefined(refusal(kind, { chain: "dev", number: 3 }))
      assert.isUndefined(refusal(kind, { chain: "dev", block: { number: "0x3" } }))
      assert.include(refusal(kind, { chain: "dev" }), message)
      assert.include(refusal(kind, { chain: "dev", number: 3, block: { number: "0x3" } }), message)
    }
  })
})

layer(DevChain.layer(), { excludeTestServices: true, timeout: "60 seconds" })("the range kinds' confirmations", (it) => {
  it.effect("FetchBlocks and ScanAddresses wait, heartbeating, until their last block has the confirmations asked", () =>
    Effect.gen(function*() {
      const evm = yield* devClient
      yield* evm.request("evm_mine")
      for (const kind of ["fetch", "scan"] as const) {
        const head = yield* headOf(evm)
        const range = { chain: "dev", fromBlock: head - 1, toBlock: head, confirmations: 2, pollMillis: 10 }
        const recorded = recordingContext<any>()
        let done = false
        const run = kind === "fetch"
          ? Effect.map(ChainTasks.fetchBlocks(range, recorded.context), (result) => result.blocks.map((block) => block.number))
          : Effect.map(ChainTasks.scanAddresses({ ...range, addresses: [DevChain.accounts[18]!.address] }, recorded.context), (result) => [result.fromBlock, result.toBlock])
        const fiber = yield* Effect.forkChild(onDev(run).pipe(Effect.ensuring(Effect.sync(() => void (done = true)))))
        // the head block has one confirmation: it waits for another, heartbeating as it polls
        for (let tries = 0; recorded.heartbeats() === 0; tries++) {
          if (done || tries > 2000) return yield* Effect.die(new Error(`${kind}: no wait for confirmations (done: ${done})`))
          yield* Effect.sleep("10 millis")
        }
        assert.isFalse(done, kind)
        yield* evm.request("evm_mine")
        assert.deepStrictEqual(yield* Fiber.join(fiber), [head - 1, head], kind)
      }
    }))
})

describe("SyncEvents' signatures, more", () => {
  it("a word ending in event, or event after another word, is no signature; viem's complaint is quoted to its first line", () => {
    const sync = (events: ReadonlyArray<string>) => {
      const exit = Task.encodePayload(ChainTasks.SyncEvents, { chain: "dev", address: "0x5fbdb2315678afecb367f032d93f642f64180aa3", events })
      return Exit.isFailure(exit) ? String((exit.cause.reasons[0] as any).error.message) : undefined
    }
    assert.include(sync(["myevent Paused()"]), `"myevent Paused()" is not an event signature`)
    assert.include(sync(["emit event Paused()"]), `"emit event Paused()" is not an event signature`)
    let viemSays = ""
    try {
      parseAbi(["event Broken(uint256"] as ReadonlyArray<string>)
    } catch (cause) {
      viemSays = String((cause as Error).message).split("\n")[0]!
    }
    assert.isAbove(viemSays.length, 5)
    assert.include(sync(["event Broken(uint256"]), `the event signatures do not parse: ${viemSays}`)
  })
})

/** Runtime code that emits one log without topics (LOG0) on every call, and init code deploying it. */
const anonymousEmitter = "0x6006600c60003960066000f3" + "60006000a000"

layer(DevChain.layer(), { excludeTestServices: true, timeout: "60 seconds" })("the range kinds across a reorganization, and SyncEvents' odd logs", (it) => {
  /**
   * A range read by `run` (a chunk of 2) across a reorganization: blocks `h + 1`–`h + stay` stay (block `h + 1` holds a
   * transfer of 3 wei), the 3 after them are replaced (the new branch's first block holds a transfer of 2 wei) right
   * after the chunk holding the first of them was read. What `run` returned, and the chain's hashes of the range then.
   */
  const acrossReorganization = <A, E, R>(
    stay: number,
    run: (fromBlock: number, toBlock: number, change: (client: EvmClient.EvmClient) => EvmClient.EvmClient) => Effect.Effect<A, E, R>
  ) =>
    Effect.gen(function*() {
      const evm = yield* devClient
      yield* branch(evm, stay, 3)
      const h = (yield* headOf(evm)) - stay
      const snapshot = yield* evm.request("evm_snapshot")
      yield* branch(evm, 3, 1)
      const fork = h + stay + 1
      let reorganized = false
      const reorganizing = (client: EvmClient.EvmClient): EvmClient.EvmClient => ({
        ...client,
        getBlocks: (numbers, options) =>
          Effect.tap(client.getBlocks(numbers, options), () => {
            if (reorganized || !numbers.includes(fork)) return Effect.void
            reorganized = true
            return Effect.andThen(evm.request("evm_revert", [snapshot]), branch(evm, 4, 2))
          })
      })
      const toBlock = h + stay + 3
      const result = yield* run(h + 1, toBlock, reorganizing)
      const hashes = (yield* Effect.forEach(Array.from({ length: toBlock - h }, (_, offset) => h + 1 + offset), (number) => rawBlock(evm, number)))
        .map((block) => block.hash as string)
      return { result, hashes, h }
    })

  const fetchAcross = (stay: number) =>
    acrossReorganization(stay, (fromBlock, toBlock, change) =>
      onDev(ChainTasks.fetchBlocks({ chain: "dev", fromBlock, toBlock, chunkSize: 2 }, recordingContext<any>().context), change))

  const scanAcross = (stay: number) =>
    acrossReorganization(stay, (fromBlock, toBlock, change) =>
      onDev(ChainTasks.scanAddresses({ chain: "dev", addresses: [DevChain.accounts[16]!.address], fromBlock, toBlock, chunkSize: 2 }, recordingContext<any>().context), change))

  it.effect("FetchBlocks across a reorganization holds the chain's blocks as they are at its end, each once", () =>
    Effect.gen(function*() {
      const { hashes, result } = yield* fetchAcross(1)
      assert.deepStrictEqual(result.blocks.map((block) => block.hash), hashes)
    }))

  it.effect("ScanAddresses across a reorganization reports the activity of the chain as it is at its end, each item once", () =>
    Effect.gen(function*() {
      const { h, result } = yield* scanAcross(1)
      // the transfer in block h + 1, then the second branch's (2 wei) in h + 2, each once
      assert.deepStrictEqual(result.activity.map((item) => [item.blockNumber, item.value]), [[h + 1, "3"], [h + 2, "2"]])
      assert.strictEqual(result.toBlock, h + 4)
    }))

  it.effect("FetchBlocks and ScanAddresses across a reorganization forking after their first chunk keep what they read before the fork", () =>
    Effect.gen(function*() {
      const fetched = yield* fetchAcross(3)
      assert.deepStrictEqual(fetched.result.blocks.map((block) => block.hash), fetched.hashes)
      const scanned = yield* scanAcross(3)
      assert.deepStrictEqual(scanned.result.activity.map((item) => [item.blockNumber, item.value]), [[scanned.h + 1, "3"], [scanned.h + 4, "2"]])
    }))

  it.effect("SyncEvents counts logs without topics as anonymous, and resumes a checkpoint of an earlier version (no page kept)", () =>
    Effect.gen(function*() {
      const evm = yield* devClient
      const from = DevChain.accounts[18]!.address
      const deployment = yield* evm.request("eth_sendTransaction", [{ from, data: anonymousEmitter }])
      const receipt = (yield* evm.request("eth_getTransactionReceipt", [deployment])) as { readonly contractAddress: string; readonly blockNumber: Hex }
      const address = receipt.contractAddress
      const fromBlock = hexToNumber(receipt.blockNumber)
      for (let call = 0; call < 2; call++) yield* evm.request("eth_sendTransaction", [{ from, to: address }])
      const head = yield* headOf(evm)
      const payload = { chain: "dev", address, events: [transfer], fromBlock }
      const whole = yield* onDev(ChainTasks.syncEvents(payload, recordingContext<any>().context))
      assert.deepInclude(whole, { counts: { anonymous: 2 }, total: 2, toBlock: head, nextCursor: null })
      assert.deepStrictEqual(whole.events.map((event) => [event.blockNumber, event.name, event.args]), [[head - 1, null, null], [head, null, null]])
      // an earlier version's checkpoint after the first call: no page, no more
      const earlier = { fromBlock, counts: { anonymous: 1 }, total: 1, processingMillis: 0 }
      const resumed = yield* onDev(ChainTasks.syncEvents(payload, recordingContext<any>({ lastBlock: head - 1, state: earlier }).context))
      assert.deepInclude(resumed, { fromBlock, counts: { anonymous: 2 }, total: 2, nextCursor: null })
      assert.deepStrictEqual(resumed.events.map((event) => event.blockNumber), [head])
      // one that had reached the end: nothing left to read, and no page
      const ended = yield* onDev(ChainTasks.syncEvents(payload, recordingContext<any>({ lastBlock: head, state: earlier }).context))
      assert.deepInclude(ended, { counts: { anonymous: 1 }, total: 1, events: [], nextCursor: null })
      // a resumed run adds the time it spent to the checkpoint's (its own under the test's minute)
      const spent = yield* onDev(ChainTasks.syncEvents(payload, recordingContext<any>({ lastBlock: head - 1, state: { ...earlier, processingMillis: 600_000 } }).context))
      assert.isTrue(spent.processingMillis >= 600_000 && spent.processingMillis < 660_000, `processing ${spent.processingMillis} ms`)
    }))
})

