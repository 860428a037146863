/**
 * Validating a block against what it claims: its hash recomputed from its
 * header (RLP of the header fields, keccak-256, post-London fields included
 * when present), its parent's hash and number, and each transaction's hash
 * recomputed from the signed transaction.
 *
 * @since 0.1.0
 */
import { Effect, Schema } from "effect"
import {
  type Block,
  type Hex,
  keccak256,
  serializeTransaction,
  type Transaction,
  type TransactionSerializable,
  toRlp
} from "viem"
import type { EvmClient } from "./EvmClient.ts"
import type { ChainRequestError } from "./ChainRequestError.ts"

/** The hash recomputed from the header differs from the block's hash. */
export class HashMismatch extends Schema.TaggedClass<HashMismatch>()("HashMismatch", {
  number: Schema.Int,
  reported: Schema.String,
  computed: Schema.String
}) {}

/** The block does not follow its parent: another parent hash, or a number that is not the parent's + 1. */
export class ParentMismatch extends Schema.TaggedClass<ParentMismatch>()("ParentMismatch", {
  number: Schema.Int,
  parentHash: Schema.String,
  actualParentHash: Schema.String
}) {}

/** A transaction's hash recomputed from its signed form differs from the reported one. */
export class TransactionHashMismatch extends Schema.TaggedClass<TransactionHashMismatch>()("TransactionHashMismatch", {
  number: Schema.Int,
  index: Schema.Int,
  reported: Schema.String,
  computed: Schema.String
}) {}

/** Why a block is invalid. */
export const BlockValidationErrorReason = Schema.Union([HashMismatch, ParentMismatch, TransactionHashMismatch])

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

/** A quantity as RLP wants it: minimal big-endian bytes, zero as the empty string. */
const quantity = (value: bigint | number): Hex => {
  const hex = BigInt(value).toString(16)
  return value === 0n || value === 0 ? "0x" : `0x${hex.length % 2 === 0 ? hex : `0${hex}`}`
}

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

/** A transaction's hash computed from its signed, serialized form. */
export const transactionHash = (transaction: Transaction): Hex =>
  keccak256(serializeTransaction(
    { ...transaction, data: transaction.input } as TransactionSerializable,
    { r: transaction.r, s: transaction.s, v: transaction.v, yParity: transaction.yParity }
  ))

const fail = (reason: typeof BlockValidationErrorReason.Type) => Effect.fail(new BlockValidationError({ reason }))

/** Checks a block (read with full transactions) against its parent, if given. */
export const verify = (block: Block, parent: Block | undefined): Effect.Effect<ValidatedBlock, BlockValidationError> =>
  Effect.suspend(() => {
    const number = Number(block.number)
    const computed = headerHash(block)
    if (computed !== block.hash) return fail(new HashMismatch({ number, reported: block.hash!, computed }))
    if (parent !== undefined && (parent.hash !== block.parentHash || Number(parent.number) !== number - 1)) {
      return fail(new ParentMismatch({ number, parentHash: block.parentHash, actualParentHash: parent.hash! }))
    }
    const transactions = block.transactions as ReadonlyArray<Transaction>
    for (const [index, transaction] of transactions.entries()) {
      const computed = transactionHash(transaction)
      if (computed !== transaction.hash) {
        return fail(new TransactionHashMismatch({ number, index, reported: transaction.hash, computed }))
      }
    }
    return Effect.succeed({
      number,
      hash: block.hash!,
      parentHash: block.parentHash,
      timestamp: Number(block.timestamp),
      transactions: transactions.length
    })
  })

/** Reads a block and its parent from the chain and verifies it. */
export const validate = (client: EvmClient, number: number): Effect.Effect<ValidatedBlock, BlockValidationError | ChainRequestError> =>
  Effect.flatMap(
    client.getBlocks(number === 0 ? [0] : [number, number - 1], { transactions: true }),
    ([block, parent]) => verify(block!, parent)
  )
