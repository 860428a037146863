/**
 * Chain operations as chainjobs task kinds. Each payload names its chain
 * (a name configured in `Chains`). Range operations walk their range in
 * chunks, report progress and save a checkpoint after every chunk, and
 * resume from it after a restart (`onRestart: "resume"`) or a retry.
 *
 * ```ts
 * const tasks = yield* Tasks
 * const handle = yield* tasks.submit(ChainTasks.ScanAddresses, {
 *   chain: "mainnet", addresses: [alice, bob], fromBlock: 19_000_000, toBlock: 19_010_000
 * })
 * ```
 *
 * `layer` registers every kind; it needs `Chains`, a `BlockFeed` and the supervisor.
 *
 * @since 0.1.0
 */
import { Task } from "@chainjobs/tasks"
import { Clock, Duration, Effect, Layer, Option, Schedule, Schema } from "effect"
import { type Abi, type AbiEvent, type Address, type Block, type Hex, parseAbi, toEventSelector, type Transaction } from "viem"
import * as Activity from "./Activity.ts"
import * as AddressScan from "./AddressScan.ts"
import { BlockFeed } from "./BlockFeed.ts"
import * as BlockValidation from "./BlockValidation.ts"
import { BlockValidationError, ParentMismatch, ValidatedBlock } from "./BlockValidation.ts"
import * as SignedTransaction from "./SignedTransaction.ts"
import { BroadcastError, BroadcastReceipt } from "./SignedTransaction.ts"
import { Chains } from "./Chains.ts"
import { type EvmClient, getLinkedBlocks } from "./EvmClient.ts"
import * as DecodedEvent from "./DecodedEvent.ts"
import * as Chunked from "./internal/chunked.ts"
import { ChainRequestError, isTransient } from "./ChainRequestError.ts"

const BlockNumber = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))
const PositiveInt = Schema.Int.check(Schema.isGreaterThan(0))
const EvmAddress = Schema.String.check(Schema.isPattern(/^0x[0-9a-fA-F]{40}$/))
const HexData = Schema.String.check(Schema.isPattern(/^0x([0-9a-fA-F]{2})*$/))

/**
 * Event signatures as `SyncEvents` takes them (`event Transfer(address indexed from, …)`, with the `struct`
 * definitions their tuples name): text viem cannot read, or the signature of a function, is refused at submission,
 * naming it, rather than failing the task once it runs.
 */
const EventSignatures = Schema.Array(Schema.String).check(Schema.makeFilter((signatures: ReadonlyArray<string>) => {
  const other = signatures.find((signature) => !/^\s*(event|struct)\s/.test(signature))
  if (other !== undefined) return `"${other}" is not an event signature (event Name(type indexed name, …))`
  try {
    parseAbi(signatures)
    return undefined
  } catch (cause) {
    return `the event signatures do not parse: ${String((cause as Error).message).split("\n")[0]}`
  }
}))

/**
 * Refuses a range whose last block comes before its first (`fromBlock` and `toBlock` swapped): it names no block, so
 * the task would complete having read nothing. A range given by one end only is left to the task (the head decides).
 */
const rangeInOrder = Schema.makeFilter((payload: { readonly fromBlock?: number | undefined; readonly toBlock?: number | undefined }) =>
  payload.fromBlock === undefined || payload.toBlock === undefined || payload.toBlock >= payload.fromBlock
    ? undefined
    : { path: ["toBlock"], issue: `toBlock ${payload.toBlock} is before fromBlock ${payload.fromBlock}: the range names no block` }
)

/** Whether a chain kind's failure is a transient provider failure (a block that failed validation is not). */
const isTransientFailure = (error: ChainRequestError | BlockValidationError): boolean =>
  error._tag === "ChainRequestError" && isTransient(error)

/** Retries of a transient provider failure: `times` at most, 1 s apart and doubling. */
const transientRetries = (times: number) =>
  Schedule.exponential("1 second").pipe(
    Schedule.setInputType<ChainRequestError | BlockValidationError>(),
    Schedule.while(({ input }) => isTransientFailure(input)),
    Schedule.upTo({ times })
  )

/**
 * Retries a range task whose client gave up on a transient failure: 3 times, 1 s apart and doubling. A block that
 * failed validation is not retried: the provider answered with something the chain does not hold.
 */
const retryTransient = { schedule: transientRetries(3) }

/** How long a `SyncEvents` attempt may run before it fails with reason `timeout`: 15 minutes. */
export const syncTimeout = "15 minutes"

/**
 * How long a range task (`FetchBlocks`, `ScanAddresses`, `SyncEvents`) may stay silent (no progress, no heartbeat)
 * before it is failed with reason `heartbeat`: 2 minutes. Each chunk reports progress, and a wait for
 * confirmations heartbeats, so only a hung task stays silent that long.
 */
export const rangeHeartbeatTimeout = "2 minutes"

/**
 * The exclusive key of a `ScanAddresses` task: its chain and its set of addresses (distinct, lowercased, sorted),
 * so that a second scan of the same wallets is refused with `SubmitRejected` (`key-busy`, naming the scan in
 * progress) while one runs, whatever their order or case.
 */
export const scanKey = (payload: { readonly chain: string; readonly addresses: ReadonlyArray<string> }): string =>
  `scan:${payload.chain}:${Array.from(new Set(payload.addresses.map((address) => address.toLowerCase()))).sort().join(",")}`

/** The default of `checkpointItems`: the most items a `FetchBlocks` or `ScanAddresses` checkpoint holds. */
export const checkpointItems = 10_000

/** One transaction of a block as `FetchBlocks` reports it with `includeTransactions`; amounts are decimal strings. */
export const TransactionSummary = Schema.Struct({
  hash: Schema.String,
  /** Its index in the block. */
  index: Schema.Int,
  from: Schema.String,
  /** The recipient; null for a contract creation. */
  to: Schema.NullOr(Schema.String),
  /** Wei sent. */
  value: Schema.String,
  nonce: Schema.Int,
  gas: Schema.String,
  /** `legacy`, `eip2930`, `eip1559`, `eip4844` or `eip7702`. */
  type: Schema.String,
  /** The call data. */
  input: Schema.String
})
/** One transaction of a block as `FetchBlocks` reports it with `includeTransactions`. */
export type TransactionSummary = typeof TransactionSummary.Type

/** One block as `FetchBlocks` reports it. */
export const BlockSummary = Schema.Struct({
  number: Schema.Int,
  hash: Schema.String,
  parentHash: Schema.String,
  timestamp: Schema.Int,
  /** How many transactions the block holds. */
  transactions: Schema.Int,
  gasUsed: Schema.String,
  /** The transactions themselves, in block order (with `includeTransactions` only). */
  transactionList: Schema.optionalKey(Schema.Array(TransactionSummary))
})
/** One block as `FetchBlocks` reports it. */
export type BlockSummary = typeof BlockSummary.Type

/**
 * Fetches the blocks of a range (inclusive), in batches. The blocks are one
 * chain: a range read across a reorganization is read again from where the
 * chain forked (see `confirmations` to stay clear of the head).
 */
export const FetchBlocks = Task.define("chain/fetch-blocks", {
  payload: Schema.Struct({
    chain: Schema.String,
    fromBlock: BlockNumber,
    toBlock: BlockNumber,
    /** Blocks per chunk (progress and checkpoint after each). Default: 100. */
    chunkSize: Schema.optional(PositiveInt),
    /**
     * Items (blocks, or activity) a checkpoint holds at most. Default: 10 000.
     * Past it, no further checkpoint is saved: a resumed or retried run starts
     * again after the last one saved.
     */
    checkpointItems: Schema.optional(PositiveInt),
    /**
     * Confirmations a block needs before it is read (head − block + 1):
     * chunks near the head wait until they are that deep. Default: none.
     */
    confirmations: Schema.optional(PositiveInt),
    /** How often the head is polled while waiting for confirmations, in milliseconds. Default: 1000. */
    pollMillis: Schema.optional(PositiveInt),
    /**
     * Read each block's transactions too (`transactionList`). Default: false. A checkpoint then holds them as well,
     * so lower `checkpointItems` for blocks with many transactions.
     */
    includeTransactions: Schema.optional(Schema.Boolean)
  }).check(rangeInOrder),
  success: Schema.Struct({ fromBlock: Schema.Int, toBlock: Schema.Int, blocks: Schema.Array(BlockSummary) }),
  error: ChainRequestError,
  /** The last block read and the blocks read up to it. */
  checkpoint: Chunked.Checkpoint(Schema.Array(BlockSummary)),
  policy: { onRestart: "resume", retry: retryTransient, heartbeatTimeout: rangeHeartbeatTimeout }
})

/**
 * The result of `ScanAddresses`: every item of activity of the addresses in the range, in chain order, and the same
 * items grouped by address.
 */
export const ScanResult = Schema.Struct({
  fromBlock: Schema.Int,
  /** The last block scanned: the payload's, or the confirmed head when it gave none. */
  toBlock: Schema.Int,
  /** How many distinct addresses were scanned (addresses differing only in case are one). */
  addresses: Schema.Int,
  activity: Schema.Array(Activity.Activity),
  /**
   * The items touching each scanned address (lowercase; every one is a key), in chain order; an item between two
   * scanned addresses is under both.
   */
  byAddress: Schema.Record(Schema.String, Schema.Array(Activity.Activity))
})

/**
 * Scans addresses over a range in one pass: native transactions from/to them
 * and ERC-20 transfers touching them. The blocks scanned are one chain: a
 * scan that runs across a reorganization reads again from where the chain
 * forked, so its result holds the activity of the chain as it is when the
 * scan completes (see `confirmations` to stay clear of the head). One scan of
 * an address set runs at a time: another submitted meanwhile is refused with
 * `SubmitRejected` (`key-busy`, see `scanKey`) unless it asks to `queue` or `join`.
 */
export const ScanAddresses = Task.define("chain/scan-addresses", {
  payload: Schema.Struct({
    chain: Schema.String,
    addresses: Schema.Array(EvmAddress),
    fromBlock: BlockNumber,
    /**
     * The last block. Default: the head as the chain's client knows it (cached for the chain's `headTtl`), or the
     * last block with `confirmations` — taken when the scan starts (a resumed scan goes to the head then).
     */
    toBlock: Schema.optional(BlockNumber),
    /** Blocks per chunk (progress and checkpoint after each). Default: 100. */
    chunkSize: Schema.optional(PositiveInt),
    /**
     * Items (blocks, or activity) a checkpoint holds at most. Default: 10 000.
     * Past it, no further checkpoint is saved: a resumed or retried run starts
     * again after the last one saved.
     */
    checkpointItems: Schema.optional(PositiveInt),
    /**
     * Confirmations a block needs before it is read (head − block + 1):
     * chunks near the head wait until they are that deep. Default: none.
     */
    confirmations: Schema.optional(PositiveInt),
    /** How often the head is polled while waiting for confirmations, in milliseconds. Default: 1000. */
    pollMillis: Schema.optional(PositiveInt),
    /**
     * Verify every block read before trusting it (`BlockValidation.verify`:
     * header hash, transactions root, each sender recovered from its
     * signature), so that a provider cannot make the scan report activity
     * the chain does not hold. A few milliseconds a transaction. Default: false.
     */
    validate: Schema.optional(Schema.Boolean)
  }).check(rangeInOrder),
  success: ScanResult,
  error: Schema.Union([ChainRequestError, BlockValidationError]),
  /** The last block scanned and the activity found up to it. */
  checkpoint: Chunked.Checkpoint(Schema.Array(Activity.Activity)),
  policy: {
    onRestart: "resume",
    retry: retryTransient,
    heartbeatTimeout: rangeHeartbeatTimeout,
    key: scanKey,
    onConflict: "reject"
  }
})

/** The default of `SyncEvents`' `pageSize`: the most decoded events one result holds. */
export const syncPageSize = 1000

/** What `SyncEvents` has counted and decoded so far. */
export const SyncState = Schema.Struct({
  /** The first block, fixed by the first run: a resumed run counts on from where that one stopped. */
  fromBlock: Schema.Int,
  counts: Schema.Record(Schema.String, Schema.Int),
  total: Schema.Int,
  processingMillis: Schema.Number,
  /** The page of decoded events so far (absent from checkpoints of earlier versions). */
  events: Schema.optional(Schema.Array(DecodedEvent.DecodedEvent)),
  /** Whether more events were found than the page holds. */
  more: Schema.optional(Schema.Boolean)
})

/** The result of `SyncEvents`. */
export const SyncSummary = Schema.Struct({
  fromBlock: Schema.Int,
  toBlock: Schema.Int,
  /** Logs by event name; logs of events not given in the payload count under their topic. */
  counts: Schema.Record(Schema.String, Schema.Int),
  total: Schema.Int,
  /** Time spent reading and counting, summed over resumed runs. */
  processingMillis: Schema.Number,
  /** The first `pageSize` logs (after `after`, when given), decoded, in chain order. */
  events: Schema.Array(DecodedEvent.DecodedEvent),
  /**
   * Where the next page starts when the range held more logs than the page: submit the same sync with
   * `after: nextCursor` and `toBlock` (this result's) to read it. Null on the last page.
   */
  nextCursor: Schema.NullOr(DecodedEvent.Cursor)
})

/**
 * Syncs a contract's events from a block (default: genesis) or over the last
 * N blocks, up to the head (or the last block with `confirmations`, or
 * `toBlock`). It counts the logs by event name and returns the first
 * `pageSize` of them decoded by the given signatures (`DecodedEvent`); when
 * there are more, `nextCursor` names the last one returned, and the same
 * sync submitted with `after: nextCursor` and the result's `toBlock` returns
 * the next page (its counts cover the logs after the cursor). A resumed run
 * keeps its counts and page and continues to the head at the time it resumes
 * (unless `toBlock` is given): its summary covers the blocks from the first
 * run's first block (more than N when the head moved meanwhile). An attempt
 * fails with reason `timeout` after `syncTimeout` (15 minutes).
 */
export const SyncEvents = Task.define("chain/sync-events", {
  payload: Schema.Struct({
    chain: Schema.String,
    address: EvmAddress,
    /**
     * Event signatures to name, e.g. `event Transfer(address indexed from, address indexed to, uint256 value)`
     * (and the `struct` definitions they use); anything else is refused at submission.
     */
    events: EventSignatures,
    /** The first block. Default: 0, unless `lastBlocks` is given. */
    fromBlock: Schema.optional(BlockNumber),
    /** Sync only the last N blocks up to the head. */
    lastBlocks: Schema.optional(PositiveInt),
    /** Blocks per chunk. Default: 2000. */
    chunkSize: Schema.optional(PositiveInt),
    /**
     * Sync up to the last block with this many confirmations (head − block + 1)
     * instead of the head, so that no log near the head is counted. Default: none.
     */
    confirmations: Schema.optional(PositiveInt),
    /** The last block (no later than the head, or the last block with `confirmations`). Default: that block. */
    toBlock: Schema.optional(BlockNumber),
    /** The most decoded events the result holds. Default: 1000; at most 10 000. */
    pageSize: Schema.optional(PositiveInt.check(Schema.isLessThanOrEqualTo(10_000))),
    /** Only the logs after this one (a previous page's `nextCursor`): the sync reads from its block on. */
    after: Schema.optional(DecodedEvent.Cursor)
  }).check(rangeInOrder),
  success: SyncSummary,
  error: ChainRequestError,
  /** The last block synced and the counts up to it. */
  checkpoint: Chunked.Checkpoint(SyncState),
  policy: { onRestart: "resume", retry: retryTransient, timeout: syncTimeout, heartbeatTimeout: rangeHeartbeatTimeout }
})

const summarizeTransaction = (transaction: Transaction): TransactionSummary => ({
  hash: transaction.hash,
  index: transaction.transactionIndex ?? 0,
  from: transaction.from.toLowerCase(),
  to: transaction.to === null ? null : transaction.to.toLowerCase(),
  value: transaction.value.toString(),
  nonce: transaction.nonce,
  gas: transaction.gas.toString(),
  type: transaction.type,
  input: transaction.input
})

/** A block as `FetchBlocks` reports it; with `withTransactions` (it was read with them), its transactions too. */
const summarize = (block: Block, withTransactions: boolean): BlockSummary => {
  const summary = {
    number: Number(block.number),
    hash: block.hash!,
    parentHash: block.parentHash,
    timestamp: Number(block.timestamp),
    transactions: block.transactions.length,
    gasUsed: block.gasUsed.toString()
  }
  return withTransactions
    ? { ...summary, transactionList: (block.transactions as ReadonlyArray<Transaction>).map(summarizeTransaction) }
    : summary
}

/**
 * What a range walk needs to stay on one chain (see `internal/chunked.ts`): the chain's hash of a block now, and
 * the head for the payload's confirmations.
 */
const linkedOn = (
  client: EvmClient,
  payload: { readonly confirmations?: number | undefined; readonly pollMillis?: number | undefined }
) => ({
  hashOf: (number: number) => Effect.map(client.getBlocks([number]), ([block]) => block!.hash!),
  confirmations: payload.confirmations,
  head: client.head,
  pollInterval: payload.pollMillis ?? 1000
})

/** Runs `FetchBlocks`. */
export const fetchBlocks = Effect.fn("ChainTasks.fetchBlocks")(function*(
  payload: Task.Payload<typeof FetchBlocks>,
  context: Task.Context<typeof FetchBlocks>
) {
  const client = yield* (yield* Chains).client(payload.chain)
  const blocks = yield* Chunked.walk({
    fromBlock: payload.fromBlock,
    toBlock: payload.toBlock,
    chunkSize: payload.chunkSize ?? 100,
    initial: [] as ReadonlyArray<BlockSummary>,
    context,
    step: (blocks, from, to) =>
      Effect.map(getLinkedBlocks(client, from, to, { transactions: payload.includeTransactions }), (more) => ({
        state: [...blocks, ...more.map((block) => summarize(block, payload.includeTransactions === true))],
        parentHash: more[0]!.parentHash,
        lastHash: more.at(-1)!.hash!
      })),
    ...linkedOn(client, payload),
    rewind: (blocks, from) => blocks.filter((block) => block.number < from),
    describe: (blocks, to) => `${blocks.length} blocks up to ${to}`,
    size: (blocks) => blocks.length,
    maxSize: payload.checkpointItems ?? checkpointItems
  })
  return { fromBlock: payload.fromBlock, toBlock: payload.toBlock, blocks }
})

/** Runs `ScanAddresses`. */
export const scanAddresses = Effect.fn("ChainTasks.scanAddresses")(function*(
  payload: Task.Payload<typeof ScanAddresses>,
  context: Task.Context<typeof ScanAddresses>
) {
  const client = yield* (yield* Chains).client(payload.chain)
  const addresses = Array.from(new Set(payload.addresses.map((address) => address.toLowerCase() as Address)))
  const toBlock = payload.toBlock ?? (yield* client.head) - (payload.confirmations ?? 1) + 1
  const activity = yield* Chunked.walk({
    fromBlock: payload.fromBlock,
    toBlock,
    chunkSize: payload.chunkSize ?? 100,
    initial: [] as ReadonlyArray<Activity.Activity>,
    context,
    step: (found, from, to) =>
      Effect.map((payload.validate ? AddressScan.scanVerified : AddressScan.scanLinked)(client, addresses, from, to), (more) => ({
        state: [...found, ...more.activity],
        parentHash: more.parentHash,
        lastHash: more.lastHash
      })),
    ...linkedOn(client, payload),
    rewind: (found, from) => found.filter((item) => item.blockNumber < from),
    describe: (found, to) => `${found.length} items up to block ${to}`,
    size: (found) => found.length,
    maxSize: payload.checkpointItems ?? checkpointItems
  })
  return {
    fromBlock: payload.fromBlock,
    toBlock,
    addresses: addresses.length,
    activity,
    byAddress: Activity.byAddress(activity, addresses)
  }
})

/** Runs `SyncEvents`. */
export const syncEvents = Effect.fn("ChainTasks.syncEvents")(function*(
  payload: Task.Payload<typeof SyncEvents>,
  context: Task.Context<typeof SyncEvents>
) {
  const client = yield* (yield* Chains).client(payload.chain)
  const abi: Abi = parseAbi(payload.events as ReadonlyArray<string>)
  const names = new Map<string, string>(
    abi.filter((item): item is AbiEvent => item.type === "event").map((event) => [toEventSelector(event), event.name])
  )
  const confirmed = (yield* client.head) - (payload.confirmations ?? 1) + 1
  const toBlock = payload.toBlock === undefined ? confirmed : Math.min(payload.toBlock, confirmed)
  const after = payload.after
  const pageSize = payload.pageSize ?? syncPageSize
  const requested = payload.lastBlocks === undefined
    ? payload.fromBlock ?? 0
    : Math.max(0, toBlock - payload.lastBlocks + 1)
  const fromBlock = after === undefined ? requested : Math.max(requested, after.blockNumber)
  const summary = yield* Chunked.walk({
    fromBlock,
    toBlock,
    chunkSize: payload.chunkSize ?? 2000,
    context,
    initial: { fromBlock, counts: {}, total: 0, processingMillis: 0, events: [], more: false },
    step: (state, from, to) =>
      Effect.gen(function*() {
        const start = yield* Clock.currentTimeMillis
        const logs = yield* client.getLogs({ address: payload.address as Address, fromBlock: from, toBlock: to })
        const counts = { ...state.counts }
        const events = [...(state.events ?? [])]
        let more = state.more ?? false
        let total = state.total
        for (const log of logs) {
          const position = { blockNumber: Number(log.blockNumber), logIndex: Number(log.logIndex) }
          if (!DecodedEvent.isAfter(position, after)) continue
          const topic = log.topics[0] ?? "anonymous"
          const name = names.get(topic) ?? topic
          counts[name] = (counts[name] ?? 0) + 1
          total++
          if (events.length < pageSize) events.push(DecodedEvent.decode(abi, log))
          else more = true
        }
        const elapsed = (yield* Clock.currentTimeMillis) - start
        return {
          state: { fromBlock: state.fromBlock, counts, total, processingMillis: state.processingMillis + elapsed, events, more }
        }
      }),
    describe: (state, to) => `${state.total} events up to block ${to}`
  })
  const events = summary.events ?? []
  const last = events.at(-1)
  return {
    fromBlock: summary.fromBlock,
    toBlock,
    counts: summary.counts,
    total: summary.total,
    processingMillis: summary.processingMillis,
    events,
    nextCursor: summary.more === true && last !== undefined ? { blockNumber: last.blockNumber, logIndex: last.logIndex } : null
  }
})

/** Broadcasts a signed transaction and waits for its receipt with N confirmations. */
export const Broadcast = Task.define("chain/broadcast", {
  payload: Schema.Struct({
    chain: Schema.String,
    /** The signed, serialized transaction. */
    transaction: HexData,
    /** Confirmations to wait for. Default: 1. */
    confirmations: Schema.optional(PositiveInt),
    /** How long to wait for them, in milliseconds. Default: 120 000. */
    timeoutMillis: Schema.optional(PositiveInt),
    /** How often the receipt is polled, in milliseconds. Default: 1000. */
    pollMillis: Schema.optional(PositiveInt)
  }),
  success: BroadcastReceipt,
  error: Schema.Union([BroadcastError, ChainRequestError]),
  /** None: a resumed broadcast sends the same transaction again. */
  checkpoint: Schema.Never,
  // sending again is harmless (see `SignedTransaction.broadcast`), so a restart resumes the wait
  policy: { onRestart: "resume" }
})

/**
 * Which block a `ValidateBlock` or `ProcessBlock` task takes: one read from the chain's node by `number`, or one
 * given as data (`block`, e.g. received from a peer), exactly one of the two.
 */
const BlockRequest = {
  chain: Schema.String,
  /** The block to read from the chain's node (with its parent, whose hash it must name). */
  number: Schema.optional(BlockNumber),
  /**
   * The block itself, as a node's `eth_getBlockByNumber(n, true)` answers it (JSON-RPC, full transactions), e.g.
   * received from a peer: checked on its own (hash, transactions, roots, senders); its parent is not read.
   */
  block: Schema.optional(Schema.Record(Schema.String, Schema.Unknown)),
  /** Where the block came from (a peer's name, a URL), recorded in the result. Default: `node` read by number, `data` given. */
  source: Schema.optional(Schema.String.check(Schema.isMaxLength(200)))
}

/** Refuses a block request naming neither `number` nor `block`, or both. */
const oneBlock = Schema.makeFilter((payload: { readonly number?: number | undefined; readonly block?: unknown }) =>
  (payload.number === undefined) !== (payload.block === undefined)
    ? undefined
    : "give the block's number (read from the chain's node) or the block itself as data, exactly one of them"
)

/** A validated block and where it came from: `node` (read by number from the chain's node), or the source given. */
export const BlockOutcome = Schema.Struct({ ...ValidatedBlock.fields, source: Schema.String })
/** @see BlockOutcome */
export type BlockOutcome = typeof BlockOutcome.Type

/**
 * Validates a block: its hash recomputed from its header, its parent linkage (a block read by number), its
 * transaction hashes, its transactions and withdrawals roots recomputed, and each transaction's sender recovered
 * from its signature. The block is read from the chain's node by `number`, or given as data (`block`) with its
 * `source` recorded in the result.
 */
export const ValidateBlock = Task.define("chain/validate-block", {
  payload: Schema.Struct({
    ...BlockRequest,
    /** Also read the block's receipts and check them against its `receiptsRoot`. Default: false. */
    receipts: Schema.optional(Schema.Boolean)
  }).check(oneBlock),
  success: BlockOutcome,
  error: Schema.Union([BlockValidationError, ChainRequestError]),
  /** None: one block is validated at once. */
  checkpoint: Schema.Never
})

/**
 * Processes an incoming block — read from the chain's node by `number`, or
 * given as data (`block`, from a peer, its `source` recorded): validates it,
 * checks that it follows the chain's last recorded block (when that is its
 * parent's number), records it in the `BlockFeed` and publishes it to the
 * feed's subscribers.
 */
export const ProcessBlock = Task.define("chain/process-block", {
  payload: Schema.Struct(BlockRequest).check(oneBlock),
  success: BlockOutcome,
  error: Schema.Union([BlockValidationError, ChainRequestError]),
  /** None: one block is processed at once. */
  checkpoint: Schema.Never,
  policy: { key: (payload: { readonly chain: string }) => payload.chain }
})

/** Runs `Broadcast`. */
export const broadcast = Effect.fn("ChainTasks.broadcast")(function*(payload: Task.Payload<typeof Broadcast>) {
  const client = yield* (yield* Chains).client(payload.chain)
  return yield* SignedTransaction.broadcast(client, payload.transaction as Hex, {
    ...(payload.confirmations === undefined ? {} : { confirmations: payload.confirmations }),
    ...(payload.timeoutMillis === undefined ? {} : { timeout: payload.timeoutMillis }),
    ...(payload.pollMillis === undefined ? {} : { pollInterval: payload.pollMillis })
  })
})

/** The block a request names, validated, with its source. */
const validated = Effect.fnUntraced(function*(
  payload: { readonly chain: string; readonly number?: number | undefined; readonly block?: unknown; readonly source?: string | undefined },
  receipts: boolean | undefined
) {
  const client = yield* (yield* Chains).client(payload.chain)
  const block = payload.block === undefined
    ? yield* BlockValidation.validate(client, payload.number!, { receipts })
    : yield* BlockValidation.validateData(client, payload.block, { receipts })
  return { ...block, source: payload.source ?? (payload.block === undefined ? "node" : "data") }
})

/** Runs `ValidateBlock`. */
export const validateBlock = Effect.fn("ChainTasks.validateBlock")(function*(payload: Task.Payload<typeof ValidateBlock>) {
  return yield* validated(payload, payload.receipts)
})

/** The checkpoint of `FollowHead`: its last processed block and the blocks before it. */
export const FollowCheckpoint = Schema.Struct({
  lastBlock: Schema.Int,
  /** The last blocks processed, oldest first (absent from the checkpoints of earlier versions). */
  recent: Schema.optional(Schema.Array(Schema.Struct({ number: Schema.Int, hash: Schema.String })))
})

/**
 * Follows a chain's head: processes every new block as
 * `ProcessBlock` does, in order, from `fromBlock` (default: the head when it
 * starts), polling the head every `pollMillis`. It runs until interrupted;
 * its checkpoint is the last processed block and the hashes of the last
 * `followWindow` blocks, so a restart resumes after it. A reorganization
 * within that window is followed: when a new block does not follow the last
 * one, or (while no new block comes) the last one is no longer on the chain
 * because as many blocks or fewer replaced it, the task goes back to the last block it processed that is still on
 * the chain and processes the chain's blocks from there (subscribers of the
 * feed see the replaced numbers again). A deeper one fails the task.
 */
export const FollowHead = Task.define("chain/follow-head", {
  payload: Schema.Struct({
    chain: Schema.String,
    fromBlock: Schema.optional(BlockNumber),
    /** How often the head is polled, in milliseconds. Default: 1000. */
    pollMillis: Schema.optional(PositiveInt)
  }),
  success: Schema.Void,
  error: Schema.Union([BlockValidationError, ChainRequestError]),
  checkpoint: FollowCheckpoint,
  policy: { onRestart: "resume", key: (payload: { readonly chain: string }) => `follow-head:${payload.chain}` }
})

/** How many of its last blocks `FollowHead` remembers, and so the deepest reorganization it follows. */
export const followWindow = 64

/** The longest `FollowHead` waits to poll again after transient provider failures in a row. */
export const followBackoffCap: Duration.Duration = Duration.seconds(30)

/** Checks a validated block against the chain's last recorded block, then records and publishes it. */
const record = Effect.fn("ChainTasks.record")(function*(chain: string, block: ValidatedBlock) {
  const feed = yield* BlockFeed
  const latest = yield* feed.latest(chain)
  if (Option.isSome(latest) && latest.value.number === block.number - 1 && latest.value.hash !== block.parentHash) {
    return yield* new BlockValidationError({
      reason: new ParentMismatch({
        number: block.number,
        parentHash: block.parentHash,
        actualParentHash: latest.value.hash
      })
    })
  }
  yield* feed.record(chain, block)
  return block
})

/** Runs `ProcessBlock`. */
export const processBlock = Effect.fn("ChainTasks.processBlock")(function*(payload: Task.Payload<typeof ProcessBlock>) {
  const { source, ...block } = yield* validated(payload, false)
  yield* record(payload.chain, block)
  return { ...block, source }
})

/** Runs `FollowHead`. */
export const followHead = Effect.fn("ChainTasks.followHead")(function*(
  payload: Task.Payload<typeof FollowHead>,
  context: Task.Context<typeof FollowHead>
) {
  const client = yield* (yield* Chains).client(payload.chain)
  const resumed = yield* context.lastCheckpoint
  let next = Option.isSome(resumed) ? resumed.value.lastBlock + 1 : payload.fromBlock ?? (yield* client.head)
  let recent = Option.isSome(resumed) ? resumed.value.recent ?? [] : []
  // a checkpoint of an earlier version remembers no block: the blocks before it are unknown
  const resumedWithout = Option.isSome(resumed) && resumed.value.recent === undefined

  /**
   * The block after the last remembered one still on the chain; the first one remembered when none is but every
   * block processed so far is remembered (the fork is before them); none when the fork is older than the window.
   */
  /** Whether a remembered block is still on the chain whose head is `head`. */
  const onChain = (item: { readonly number: number; readonly hash: string }, head: number) =>
    item.number > head
      ? Effect.succeed(false)
      : Effect.map(client.getBlocks([item.number]), ([block]) => block!.hash === item.hash)

  const forkPoint = (head: number) =>
    Effect.gen(function*() {
      for (let index = recent.length - 1; index >= 0; index--) {
        if (yield* onChain(recent[index]!, head)) return Option.some(recent[index]!.number + 1)
      }
      return recent.length < followWindow && !resumedWithout ? Option.some(recent[0]!.number) : Option.none<number>()
    })

  /** Goes back to the block after the last remembered one still on the chain, or fails when there is none. */
  const goBack = (head: number, mismatch: ParentMismatch) =>
    Effect.gen(function*() {
      const from = yield* forkPoint(head)
      if (Option.isNone(from)) return yield* new BlockValidationError({ reason: mismatch })
      yield* Effect.logInfo(`chainjobs: ${payload.chain} reorganized from block ${from.value}`)
      next = from.value
      recent = recent.filter((item) => item.number < next)
    })

  /** One poll: reads the head and processes every block up to it. */
  const round = Effect.gen(function*() {
    const head = yield* client.head
    // a reorganization that replaced the last blocks by as many others (or fewer) shows only in their hashes
    const last = recent.at(-1)
    if (last !== undefined && next > head && !(yield* onChain(last, head))) {
      const replaced = head >= last.number ? (yield* client.getBlocks([last.number]))[0]!.hash! : "(none)"
      yield* goBack(head, new ParentMismatch({ number: last.number + 1, parentHash: replaced, actualParentHash: last.hash }))
    }
    while (next <= head) {
      const block = yield* BlockValidation.validate(client, next)
      const previous = recent.at(-1)
      if (previous !== undefined && previous.number === block.number - 1 && previous.hash !== block.parentHash) {
        yield* goBack(
          head,
          new ParentMismatch({ number: block.number, parentHash: block.parentHash, actualParentHash: previous.hash })
        )
        continue
      }
      yield* record(payload.chain, block)
      recent = [...recent, { number: block.number, hash: block.hash }].slice(-followWindow)
      yield* context.checkpoint({ lastBlock: next, recent })
      next++
    }
  })

  const pollMillis = payload.pollMillis ?? 1000
  /**
   * Waits `millis`, heartbeating at its poll interval: a heartbeat timeout that holds for its polls holds while it
   * backs off too.
   */
  const wait = (millis: number) =>
    Effect.gen(function*() {
      for (let left = millis; left > 0; left -= pollMillis) {
        yield* Effect.sleep(Math.min(left, pollMillis))
        yield* context.heartbeat
      }
    })
  // A transient provider failure ends the round, not the task: a node behind the provider's balancer that has not
  // the head's block yet (it answers null or "header not found"), a timeout, a 429, a lost connection. The follower
  // polls again from the block after the last it processed, after its poll interval doubled with each such failure
  // in a row, up to `followBackoffCap`; it fails on anything else.
  let failures = 0
  while (true) {
    const failure = yield* round.pipe(
      Effect.as(undefined),
      Effect.catchIf(isTransientFailure, (error) => Effect.succeed(error))
    )
    yield* context.heartbeat
    if (failure === undefined) {
      failures = 0
      yield* Effect.sleep(pollMillis)
      continue
    }
    const backoff = Math.min(pollMillis * 2 ** failures, Duration.toMillis(followBackoffCap))
    failures++
    yield* Effect.logWarning(`chainjobs: following ${payload.chain}: ${failure.message}; polling again in ${backoff} ms`)
    yield* wait(backoff)
  }
})

/** Every chain kind. */
export const kinds = [FetchBlocks, ScanAddresses, SyncEvents, Broadcast, ValidateBlock, ProcessBlock, FollowHead] as const

/** The names of the chain kinds. */
export const kindNames: ReadonlyArray<string> = kinds.map((kind) => kind.name)

/**
 * Settings of one chain kind over its policy, as a service's configuration gives them; an omitted field keeps the
 * kind's own.
 */
export const KindSettings = Schema.Struct({
  /** Time limit of one attempt, in milliseconds. */
  timeoutMillis: Schema.optionalKey(PositiveInt),
  /** How long a running task may stay silent (no progress, no heartbeat), in milliseconds. */
  heartbeatTimeoutMillis: Schema.optionalKey(PositiveInt),
  /** At most this many tasks of the kind run at once. */
  concurrency: Schema.optionalKey(PositiveInt),
  /** Retries of an attempt that failed on a transient provider failure, 1 s apart and doubling; 0: none. */
  retries: Schema.optionalKey(BlockNumber),
  /** What a submission does when its key is taken (the caller may still choose per submission). */
  onConflict: Schema.optionalKey(Schema.Literals(["reject", "join", "queue"]))
})
/** @see KindSettings */
export type KindSettings = typeof KindSettings.Type

/** Settings by chain kind name (`{"chain/sync-events":{"timeoutMillis":1800000}}`); a name that is no chain kind is refused. */
export const KindsSettings = Schema.Record(Schema.String, KindSettings).check(
  Schema.makeFilter((settings: { readonly [name: string]: KindSettings }) =>
    Object.keys(settings).filter((name) => !kindNames.includes(name)).map((name) => ({
      path: [name],
      issue: `no chain kind "${name}" (the chain kinds: ${kindNames.join(", ")})`
    }))
  )
)
/** @see KindsSettings */
export type KindsSettings = typeof KindsSettings.Type

/** A kind with `settings` over its policy: registered in its place, its tasks run under them. */
export const withSettings = <K extends Task.Any>(kind: K, settings: KindSettings | undefined): K => {
  if (settings === undefined) return kind
  const policy = kind.policy
  return {
    ...kind,
    policy: {
      ...policy,
      timeoutMillis: settings.timeoutMillis ?? policy.timeoutMillis,
      heartbeatTimeoutMillis: settings.heartbeatTimeoutMillis ?? policy.heartbeatTimeoutMillis,
      concurrency: settings.concurrency ?? policy.concurrency,
      onConflict: settings.onConflict ?? policy.onConflict,
      retry: settings.retries === undefined
        ? policy.retry
        : settings.retries === 0
        ? undefined
        : { schedule: transientRetries(settings.retries) }
    }
  }
}

/** Registers every chain kind with the supervisor, each under its `settings` if any (see `KindsSettings`). */
export const layerWith = (settings: KindsSettings = {}) =>
  Layer.mergeAll(
    Task.implement(withSettings(FetchBlocks, settings[FetchBlocks.name]), fetchBlocks),
    Task.implement(withSettings(ScanAddresses, settings[ScanAddresses.name]), scanAddresses),
    Task.implement(withSettings(SyncEvents, settings[SyncEvents.name]), syncEvents),
    Task.implement(withSettings(Broadcast, settings[Broadcast.name]), broadcast),
    Task.implement(withSettings(ValidateBlock, settings[ValidateBlock.name]), validateBlock),
    Task.implement(withSettings(ProcessBlock, settings[ProcessBlock.name]), processBlock),
    Task.implement(withSettings(FollowHead, settings[FollowHead.name]), followHead)
  )

/** Registers every chain kind with the supervisor, under the kinds' own policies. */
export const layer = layerWith()
