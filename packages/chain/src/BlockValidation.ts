/**
 * Validating a block against what it claims: its hash recomputed from its
 * header (RLP of the header fields, keccak-256, the fields of later forks
 * included when present), its parent's hash and number, each transaction's
 * hash recomputed from the signed transaction, the header's
 * `transactionsRoot` recomputed from the transactions (so that none is
 * reordered, dropped, added or substituted) and its `withdrawalsRoot` from
 * the withdrawals, and each transaction's sender recovered from its
 * signature and compared with its `from` (the field scans match on). A
 * block read with transaction hashes only cannot be checked: it is refused
 * with `TransactionsNotIncluded`.
 *
 * @since 0.1.0
 */
import { Effect, Schema } from "effect"
import {
  type Block,
  concatHex,
  formatBlock,
  type Hex,
  keccak256,
  recoverAddress,
  type RpcBlock,
  serializeTransaction,
  type Signature,
  type Transaction,
  type TransactionSerializable,
  toRlp,
  type TransactionReceipt,
  type Withdrawal
} from "viem"
import { orderedRoot, quantity } from "./internal/trie.ts"
import type { EvmClient } from "./EvmClient.ts"
import type { ChainRequestError } from "./ChainRequestError.ts"

/** The hash recomputed from the header differs from the block's hash. */
export class HashMismatch extends Schema.TaggedClass<HashMismatch>("@chainjobs/chain/BlockValidation/HashMismatch")("HashMismatch", {
  number: Schema.Int,
  reported: Schema.String,
  computed: Schema.String
}) {}

/** The block does not follow its parent: another parent hash, or a number that is not the parent's + 1. */
export class ParentMismatch extends Schema.TaggedClass<ParentMismatch>("@chainjobs/chain/BlockValidation/ParentMismatch")("ParentMismatch", {
  number: Schema.Int,
  parentHash: Schema.String,
  actualParentHash: Schema.String
}) {}

/** A transaction's hash recomputed from its signed form differs from the reported one. */
export class TransactionHashMismatch extends Schema.TaggedClass<TransactionHashMismatch>("@chainjobs/chain/BlockValidation/TransactionHashMismatch")("TransactionHashMismatch", {
  number: Schema.Int,
  index: Schema.Int,
  reported: Schema.String,
  computed: Schema.String
}) {}

/** The transactions do not hash to the header's `transactionsRoot`: one was reordered, dropped, added or substituted. */
export class TransactionsRootMismatch extends Schema.TaggedClass<TransactionsRootMismatch>("@chainjobs/chain/BlockValidation/TransactionsRootMismatch")("TransactionsRootMismatch", {
  number: Schema.Int,
  reported: Schema.String,
  computed: Schema.String
}) {}

/** The withdrawals do not hash to the header's `withdrawalsRoot`, or one is there without the other. */
export class WithdrawalsRootMismatch extends Schema.TaggedClass<WithdrawalsRootMismatch>("@chainjobs/chain/BlockValidation/WithdrawalsRootMismatch")("WithdrawalsRootMismatch", {
  number: Schema.Int,
  reported: Schema.NullOr(Schema.String),
  computed: Schema.NullOr(Schema.String)
}) {}

/** A transaction's `from` is not the address its signature recovers to (null: the signature recovers to none). */
export class SenderMismatch extends Schema.TaggedClass<SenderMismatch>("@chainjobs/chain/BlockValidation/SenderMismatch")("SenderMismatch", {
  number: Schema.Int,
  index: Schema.Int,
  reported: Schema.String,
  recovered: Schema.NullOr(Schema.String)
}) {}

/** The receipts do not hash to the header's `receiptsRoot`: one was changed, reordered, dropped or added. */
export class ReceiptsRootMismatch extends Schema.TaggedClass<ReceiptsRootMismatch>("@chainjobs/chain/BlockValidation/ReceiptsRootMismatch")("ReceiptsRootMismatch", {
  number: Schema.Int,
  reported: Schema.String,
  computed: Schema.String
}) {}

/** The block was read with its transactions' hashes only: there is nothing to check them against. */
export class TransactionsNotIncluded extends Schema.TaggedClass<TransactionsNotIncluded>("@chainjobs/chain/BlockValidation/TransactionsNotIncluded")("TransactionsNotIncluded", {
  number: Schema.Int
}) {}

/** A block given as data (e.g. from a peer) is not a JSON-RPC block: a field is missing or unreadable. */
export class MalformedBlock extends Schema.TaggedClass<MalformedBlock>("@chainjobs/chain/BlockValidation/MalformedBlock")("MalformedBlock", {
  detail: Schema.String
}) {}

/** Why a block is invalid. */
export const BlockValidationErrorReason = Schema.Union([
  MalformedBlock,
  HashMismatch,
  ParentMismatch,
  TransactionHashMismatch,
  TransactionsRootMismatch,
  WithdrawalsRootMismatch,
  SenderMismatch,
  ReceiptsRootMismatch,
  TransactionsNotIncluded
])

/** A block failed validation. */
export class BlockValidationError extends Schema.TaggedError<BlockValidationError>("@chainjobs/chain/BlockValidationError")("BlockValidationError", {
  reason: BlockValidationErrorReason
}) {
  override get message(): string {
    const reason = this.reason
    switch (reason._tag) {
      case "HashMismatch":
        return `block ${reason.number}: hash ${reason.reported}, header hashes to ${reason.computed}`
      case "ParentMismatch":
        return `block ${reason.number}: parent hash ${reason.parentHash}, parent is ${reason.actualParentHash}`
      case "TransactionHashMismatch":
        return `block ${reason.number}: transaction ${reason.index} is ${reason.reported}, hashes to ${reason.computed}`
      case "TransactionsRootMismatch":
        return `block ${reason.number}: transactionsRoot ${reason.reported}, transactions hash to ${reason.computed}`
      case "WithdrawalsRootMismatch":
        return `block ${reason.number}: withdrawalsRoot ${reason.reported ?? "absent"}, withdrawals hash to ${
          reason.computed ?? "(none given)"
        }`
      case "SenderMismatch":
        return `block ${reason.number}: transaction ${reason.index} claims sender ${reason.reported}, signed by ${
          reason.recovered ?? "no valid signature"
        }`
      case "ReceiptsRootMismatch":
        return `block ${reason.number}: receiptsRoot ${reason.reported}, receipts hash to ${reason.computed}`
      case "TransactionsNotIncluded":
        return `block ${reason.number}: read with transaction hashes only, nothing to validate them against`
      case "MalformedBlock":
        return `not a JSON-RPC block: ${reason.detail}`
    }
  }
}

/** A block that passed validation. */
export const ValidatedBlock = Schema.Struct({
  number: Schema.Int,
  hash: Schema.String,
  parentHash: Schema.String,
  timestamp: Schema.Int,
  transactions: Schema.Int
})
/** A block that passed validation. */
export type ValidatedBlock = typeof ValidatedBlock.Type

/** Header fields added by later forks, in order: each is present only if the previous ones are. */
const forkFields = [
  ["baseFeePerGas", quantity],
  ["withdrawalsRoot", (value: Hex) => value],
  ["blobGasUsed", quantity],
  ["excessBlobGas", quantity],
  ["parentBeaconBlockRoot", (value: Hex) => value],
  ["requestsHash", (value: Hex) => value]
] as const

/** The block hash computed from the header. */
export const headerHash = (block: Block): Hex => {
  const fields: Array<Hex> = [
    block.parentHash,
    block.sha3Uncles,
    block.miner,
    block.stateRoot,
    block.transactionsRoot,
    block.receiptsRoot,
    block.logsBloom!,
    quantity(block.difficulty),
    quantity(block.number!),
    quantity(block.gasLimit),
    quantity(block.gasUsed),
    quantity(block.timestamp),
    block.extraData,
    block.mixHash,
    block.nonce!
  ]
  const extra = block as unknown as Record<string, unknown>
  for (const [name, encode] of forkFields) {
    const value = extra[name]
    if (value === undefined || value === null) break
    fields.push((encode as (value: unknown) => Hex)(value))
  }
  return keccak256(toRlp(fields))
}

/** A transaction's signed, serialized form: what its hash is computed from and what the transactions trie holds. */
export const signedTransaction = (transaction: Transaction): Hex =>
  serializeTransaction(
    { ...transaction, data: transaction.input } as TransactionSerializable,
    { r: transaction.r, s: transaction.s, v: transaction.v, yParity: transaction.yParity }
  )

/** A transaction's hash computed from its signed, serialized form. */
export const transactionHash = (transaction: Transaction): Hex => keccak256(signedTransaction(transaction))

/** The `transactionsRoot` computed from the transactions. */
export const transactionsRoot = (transactions: ReadonlyArray<Transaction>): Hex =>
  orderedRoot(transactions.map(signedTransaction))

/** The `withdrawalsRoot` computed from the withdrawals (amounts in Gwei). */
export const withdrawalsRoot = (withdrawals: ReadonlyArray<Withdrawal>): Hex =>
  orderedRoot(withdrawals.map((withdrawal) =>
    toRlp([
      quantity(BigInt(withdrawal.index)),
      quantity(BigInt(withdrawal.validatorIndex)),
      withdrawal.address,
      quantity(BigInt(withdrawal.amount))
    ])
  ))

const receiptTypes: Record<string, number> = { legacy: 0, eip2930: 1, eip1559: 2, eip4844: 3, eip7702: 4 }

/**
 * A receipt as the receipts trie holds it: RLP of [status (or the post-state root before Byzantium), cumulative gas,
 * logs bloom, logs], prefixed with its transaction's type byte unless legacy.
 */
const encodedReceipt = (receipt: TransactionReceipt): Hex => {
  const root = (receipt as { readonly root?: Hex | undefined }).root
  const encoded = toRlp([
    root ?? (receipt.status === "success" ? "0x01" : "0x"),
    quantity(receipt.cumulativeGasUsed),
    receipt.logsBloom,
    receipt.logs.map((log) => [log.address, [...log.topics], log.data])
  ])
  const type = receiptTypes[receipt.type] ?? Number(receipt.type)
  return type === 0 ? encoded : concatHex([quantity(type), encoded])
}

/** The `receiptsRoot` computed from a block's receipts, in transaction order. */
export const receiptsRoot = (receipts: ReadonlyArray<TransactionReceipt>): Hex => orderedRoot(receipts.map(encodedReceipt))

/** Checks a block's receipts (in transaction order) against its header's `receiptsRoot`. */
export const verifyReceipts = (block: Block, receipts: ReadonlyArray<TransactionReceipt>): Effect.Effect<void, BlockValidationError> =>
  Effect.suspend(() => {
    const computed = receiptsRoot(receipts)
    return computed === block.receiptsRoot || emptyAsHashOfNothing(receipts, block.receiptsRoot)
      ? Effect.void
      : fail(new ReceiptsRootMismatch({ number: Number(block.number), reported: block.receiptsRoot, computed }))
  })

/**
 * The payload a transaction's signature signs. A legacy transaction's chain id is read from its `v` (EIP-155: 35 +
 * 2 × chain id + parity; 27/28 before it), whatever the node reports beside it.
 */
const signingPayload = (transaction: Transaction): Hex =>
  serializeTransaction({
    ...transaction,
    data: transaction.input,
    ...(transaction.type === "legacy"
      ? { chainId: transaction.v >= 35n ? Number((transaction.v - 35n) / 2n) : undefined }
      : {}),
    r: undefined,
    s: undefined,
    v: undefined,
    yParity: undefined
  } as TransactionSerializable)

/** The address a signed transaction recovers to, or null when its signature is not valid. */
const sender = (transaction: Transaction) =>
  Effect.promise(() =>
    Promise.resolve()
      .then(() =>
        recoverAddress({
          hash: keccak256(signingPayload(transaction)),
          signature: { r: transaction.r, s: transaction.s, v: transaction.v, yParity: transaction.yParity } as Signature
        })
      )
      .then((address) => address.toLowerCase(), () => null)
  )

/**
 * Hardhat's genesis block gives an empty list the root keccak-256("") instead of the empty trie's: accepted for an
 * empty list only (any item would hash to another root, so this binds nothing less).
 */
const emptyAsHashOfNothing = (items: ReadonlyArray<unknown>, root: Hex | null | undefined) =>
  items.length === 0 && root === keccak256("0x")

const fail = (reason: typeof BlockValidationErrorReason.Type) => Effect.fail(new BlockValidationError({ reason }))

/** Checks a block (read with full transactions) against its parent, if given. */
export const verify = (block: Block, parent: Block | undefined): Effect.Effect<ValidatedBlock, BlockValidationError> =>
  Effect.gen(function*() {
    const number = Number(block.number)
    const computed = headerHash(block)
    if (computed !== block.hash) return yield* fail(new HashMismatch({ number, reported: block.hash!, computed }))
    if (parent !== undefined && (parent.hash !== block.parentHash || Number(parent.number) !== number - 1)) {
      return yield* fail(new ParentMismatch({ number, parentHash: block.parentHash, actualParentHash: parent.hash! }))
    }
    if (block.transactions.some((transaction) => typeof transaction === "string")) {
      return yield* fail(new TransactionsNotIncluded({ number }))
    }
    const transactions = block.transactions as ReadonlyArray<Transaction>
    for (const [index, transaction] of transactions.entries()) {
      const computed = transactionHash(transaction)
      if (computed !== transaction.hash) {
        return yield* fail(new TransactionHashMismatch({ number, index, reported: transaction.hash, computed }))
      }
    }
    const root = transactionsRoot(transactions)
    if (root !== block.transactionsRoot && !emptyAsHashOfNothing(transactions, block.transactionsRoot)) {
      return yield* fail(new TransactionsRootMismatch({ number, reported: block.transactionsRoot, computed: root }))
    }
    const withdrawals = block.withdrawals === undefined ? null : withdrawalsRoot(block.withdrawals)
    if (
      withdrawals !== (block.withdrawalsRoot ?? null) &&
      !(block.withdrawals !== undefined && emptyAsHashOfNothing(block.withdrawals, block.withdrawalsRoot))
    ) {
      return yield* fail(new WithdrawalsRootMismatch({ number, reported: block.withdrawalsRoot ?? null, computed: withdrawals }))
    }
    const senders = yield* Effect.forEach(transactions, sender)
    for (const [index, transaction] of transactions.entries()) {
      if (senders[index] !== transaction.from.toLowerCase()) {
        return yield* fail(new SenderMismatch({ number, index, reported: transaction.from, recovered: senders[index]! }))
      }
    }
    return {
      number,
      hash: block.hash!,
      parentHash: block.parentHash,
      timestamp: Number(block.timestamp),
      transactions: transactions.length
    }
  })

/**
 * Verifies a block given as data — a JSON-RPC block with full transactions, as `eth_getBlockByNumber(n, true)`
 * answers it (received from a peer, say) — on its own: its hash, transactions, roots and senders; its parent is not
 * read. With `receipts`, its receipts are read from the chain behind `client` and checked too. Data that is not such
 * a block is refused with `MalformedBlock`.
 */
export const validateData = (
  client: EvmClient,
  data: unknown,
  options?: { readonly receipts?: boolean | undefined }
): Effect.Effect<ValidatedBlock, BlockValidationError | ChainRequestError> =>
  Effect.gen(function*() {
    const malformed = (cause: unknown) =>
      new BlockValidationError({ reason: new MalformedBlock({ detail: cause instanceof Error ? cause.message : String(cause) }) })
    const block = yield* Effect.try({
      try: () => {
        const formatted = formatBlock(data as RpcBlock) as Block
        for (const field of ["hash", "parentHash", "number", "transactionsRoot", "stateRoot", "receiptsRoot"] as const) {
          if (formatted[field] === null || formatted[field] === undefined) throw new Error(`no ${field}`)
        }
        return formatted
      },
      catch: malformed
    })
    // a field of the wrong shape shows only when the header is hashed or a transaction serialized
    const validated = yield* verify(block, undefined).pipe(Effect.catchDefect((defect) => Effect.fail(malformed(defect))))
    if (options?.receipts) {
      const receipts = yield* client.getReceipts((block.transactions as ReadonlyArray<Transaction>).map((transaction) => transaction.hash))
      yield* verifyReceipts(block, receipts)
    }
    return validated
  })

/** Reads a block and its parent from the chain and verifies it; with `receipts`, its receipts too. */
export const validate = (
  client: EvmClient,
  number: number,
  options?: { readonly receipts?: boolean | undefined }
): Effect.Effect<ValidatedBlock, BlockValidationError | ChainRequestError> =>
  Effect.flatMap(
    client.getBlocks(number === 0 ? [0] : [number, number - 1], { transactions: true }),
    ([block, parent]) =>
      Effect.tap(verify(block!, parent), () =>
        options?.receipts
          ? Effect.flatMap(
            client.getReceipts((block!.transactions as ReadonlyArray<Transaction>).map((transaction) => transaction.hash)),
            (receipts) => verifyReceipts(block!, receipts)
          )
          : Effect.void)
  )
