/**
 * Scanning many addresses over a block range in one pass: every block's
 * transactions are read once (in JSON-RPC batches) and matched against the
 * whole address set, and ERC-20 `Transfer` logs touching any of them come
 * from two `eth_getLogs` queries per range (sender side, recipient side),
 * whatever the number of addresses.
 *
 * The logs are queried only once every block of the range has been read: a
 * node answers `eth_getLogs` for blocks it does not have yet with nothing,
 * so logs read first could miss a block that the block reads then find. Each
 * log must come from the very block that was read (same hash); a log from
 * another block (the range's end reorganized in between) fails the range
 * with a transient `InvalidResponse`, so that it is read again; so does a
 * range whose blocks do not form one chain (each block's parent is the block
 * read before it). `scanLinked` also gives the range's first parent hash and
 * last hash, so that consecutive ranges can be checked for linkage too. The
 * task kind built on it lives in `ChainTasks`; this module is the operation
 * on one range.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import { type Address, type Block, type Hex, type Log, pad, toEventSelector, type Transaction } from "viem"
import * as Activity from "./Activity.ts"
import * as BlockValidation from "./BlockValidation.ts"
import { type EvmClient, getLinkedBlocks } from "./EvmClient.ts"
import { ChainRequestError, InvalidResponse } from "./ChainRequestError.ts"

/** The topic of the ERC-20 (and ERC-721) `Transfer` event. */
export const transferTopic: Hex = toEventSelector("Transfer(address,address,uint256)")

const addressOfTopic = (topic: Hex): string => `0x${topic.slice(26)}`.toLowerCase()

/** An ERC-20 transfer has three topics and one word of data (an ERC-721 transfer indexes its token id). */
const isErc20Transfer = (log: Log) => log.topics.length === 3 && log.data.length === 66

const fromLog = (log: Log) =>
  new Activity.Activity({
    kind: "erc20",
    blockNumber: Number(log.blockNumber),
    transactionHash: log.transactionHash!,
    logIndex: log.logIndex!,
    from: addressOfTopic(log.topics[1]!),
    to: addressOfTopic(log.topics[2]!),
    value: BigInt(log.data).toString(),
    token: log.address.toLowerCase()
  })

const fromTransaction = (transaction: Transaction) =>
  new Activity.Activity({
    kind: "native",
    blockNumber: Number(transaction.blockNumber),
    transactionHash: transaction.hash,
    logIndex: null,
    from: transaction.from.toLowerCase(),
    to: transaction.to?.toLowerCase() ?? null,
    value: transaction.value.toString(),
    token: null
  })

/** The activity of the addresses in blocks `fromBlock`–`toBlock` (inclusive), in chain order. */
export const scanRange = (
  client: EvmClient,
  addresses: ReadonlyArray<Address>,
  fromBlock: number,
  toBlock: number
): Effect.Effect<ReadonlyArray<Activity.Activity>, ChainRequestError> =>
  addresses.length === 0 || toBlock < fromBlock
    ? Effect.succeed([])
    : Effect.map(scanLinked(client, addresses, fromBlock, toBlock), (scanned) => scanned.activity)

/** What `scanLinked` found in a range, and how the range hangs on the chain. */
export interface ScannedRange {
  readonly activity: ReadonlyArray<Activity.Activity>
  /** The parent hash of the range's first block. */
  readonly parentHash: Hex
  /** The hash of the range's last block. */
  readonly lastHash: Hex
}

/**
 * Like `scanRange`, with the parent hash of the range's first block and the
 * hash of its last (for linkage checks); the range must not be empty. With
 * no addresses, it reads the blocks' headers only.
 */
export const scanLinked = (
  client: EvmClient,
  addresses: ReadonlyArray<Address>,
  fromBlock: number,
  toBlock: number
): Effect.Effect<ScannedRange, ChainRequestError> =>
  Effect.flatMap(
    getLinkedBlocks(client, fromBlock, toBlock, { transactions: addresses.length > 0 }),
    (blocks) => scanBlocks(client, addresses, blocks)
  )

/**
 * Like `scanLinked`, each block verified before it is trusted (`BlockValidation.verify`: its hash, its
 * transactions bound to its header, each sender recovered from its signature), so that a provider cannot make
 * the scan report activity the chain does not hold. Slower: a few milliseconds a transaction.
 */
export const scanVerified = (
  client: EvmClient,
  addresses: ReadonlyArray<Address>,
  fromBlock: number,
  toBlock: number
): Effect.Effect<ScannedRange, ChainRequestError | BlockValidation.BlockValidationError> =>
  Effect.flatMap(getLinkedBlocks(client, fromBlock, toBlock, { transactions: true }), (blocks) =>
    Effect.andThen(
      Effect.forEach(blocks, (block) => BlockValidation.verify(block, undefined), { discard: true }),
      scanBlocks(client, addresses, blocks)
    ))

/** The activity of the addresses in the blocks read (consecutive, linked, with transactions if any address). */
const scanBlocks = (
  client: EvmClient,
  addresses: ReadonlyArray<Address>,
  blocks: ReadonlyArray<Block>
): Effect.Effect<ScannedRange, ChainRequestError> => {
  const watched = new Set(addresses.map((address) => address.toLowerCase()))
  const topics = Array.from(watched, (address) => pad(address as Address))
  const fromBlock = Number(blocks[0]!.number)
  const toBlock = Number(blocks.at(-1)!.number)
  return Effect.gen(function*() {
    const linkage = { parentHash: blocks[0]!.parentHash, lastHash: blocks.at(-1)!.hash! }
    if (watched.size === 0) return { activity: [], ...linkage }
    const [sent, received] = yield* Effect.all([
      client.getLogs({ topics: [transferTopic, topics], fromBlock, toBlock }),
      client.getLogs({ topics: [transferTopic, null, topics], fromBlock, toBlock })
    ], { concurrency: "unbounded" })
    const hashes = new Map(blocks.map((block) => [Number(block.number), block.hash]))
    const found = new Map<string, Activity.Activity>()
    for (const block of blocks) {
      for (const transaction of block.transactions as ReadonlyArray<Transaction>) {
        const item = fromTransaction(transaction)
        if (Activity.touches(item, watched)) found.set(Activity.key(item), item)
      }
    }
    for (const log of [...sent, ...received]) {
      if (hashes.get(Number(log.blockNumber)) !== log.blockHash) {
        return yield* new ChainRequestError({
          reason: new InvalidResponse({
            endpoint: client.chain,
            detail: `log ${log.transactionHash}:${log.logIndex} is of block ${log.blockHash}, not of the block read`
          })
        })
      }
      if (!isErc20Transfer(log)) continue
      const item = fromLog(log)
      found.set(Activity.key(item), item)
    }
    return { activity: Array.from(found.values()).sort(Activity.order), ...linkage }
  })
}
