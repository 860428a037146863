/**
 * Broadcasting a signed transaction and waiting for its receipt with N
 * confirmations. Sending again is harmless: the transaction's hash is
 * computed locally, and a node that already has it (or has mined it and
 * answers "nonce too low") is followed to the receipt, so a retried or
 * resumed broadcast never reports its own transaction as a failure.
 *
 * @since 0.1.0
 */
import { Duration, Effect, Schema } from "effect"
import { type Hash, type Hex, hexToNumber, keccak256 } from "viem"
import type { EvmClient } from "./EvmClient.ts"
import type { ChainRequestError } from "./ChainRequestError.ts"

/** The node rejected the nonce as already used. */
export class NonceTooLow extends Schema.TaggedClass<NonceTooLow>("@chainjobs/chain/SignedTransaction/NonceTooLow")("NonceTooLow", { detail: Schema.String }) {}

/** The fees are too low for the node (below the base fee, or too low to replace a pending transaction). */
export class Underpriced extends Schema.TaggedClass<Underpriced>("@chainjobs/chain/SignedTransaction/Underpriced")("Underpriced", { detail: Schema.String }) {}

/** The transaction was mined and reverted. */
export class Reverted extends Schema.TaggedClass<Reverted>("@chainjobs/chain/SignedTransaction/Reverted")("Reverted", {
  transactionHash: Schema.String,
  blockNumber: Schema.Int
}) {}

/** The node rejected the transaction for another reason. */
export class Rejected extends Schema.TaggedClass<Rejected>("@chainjobs/chain/SignedTransaction/Rejected")("Rejected", { detail: Schema.String }) {}

/** The receipt or its confirmations did not come in time. */
export class ConfirmationTimeout extends Schema.TaggedClass<ConfirmationTimeout>("@chainjobs/chain/SignedTransaction/ConfirmationTimeout")("ConfirmationTimeout", {
  transactionHash: Schema.String,
  /** Confirmations seen when time ran out (0: not mined). */
  confirmations: Schema.Int
}) {}

/** Why a broadcast failed. */
export const BroadcastErrorReason = Schema.Union([NonceTooLow, Underpriced, Reverted, Rejected, ConfirmationTimeout])

/** A broadcast failed for a reason of its own (transport failures are `ChainRequestError`s). */
export class BroadcastError extends Schema.TaggedError<BroadcastError>("@chainjobs/chain/BroadcastError")("BroadcastError", {
  reason: BroadcastErrorReason
}) {
  override get message(): string {
    const reason = this.reason
    switch (reason._tag) {
      case "NonceTooLow":
      case "Underpriced":
      case "Rejected":
        return `${reason._tag}: ${reason.detail}`
      case "Reverted":
        return `${reason.transactionHash} reverted in block ${reason.blockNumber}`
      case "ConfirmationTimeout":
        return `${reason.transactionHash}: ${reason.confirmations} confirmations when time ran out`
    }
  }
}

/** A mined, successful transaction with enough confirmations. */
export const BroadcastReceipt = Schema.Struct({
  transactionHash: Schema.String,
  blockNumber: Schema.Int,
  blockHash: Schema.String,
  gasUsed: Schema.String,
  /** Blocks from its own to the head, inclusive, when the wait ended. */
  confirmations: Schema.Int
})
/** A mined, successful transaction with enough confirmations. */
export type BroadcastReceipt = typeof BroadcastReceipt.Type

/** Options of `broadcast`. */
export interface BroadcastOptions {
  /** Confirmations to wait for (1: mined). Default: 1. */
  readonly confirmations: number
  /** How long to wait for them, from submission. Default: 2 minutes. */
  readonly timeout: Duration.Input
  /** How often the receipt and the head are polled. Default: 1 second. */
  readonly pollInterval: Duration.Input
}

/** The defaults of `BroadcastOptions`. */
export const defaults: BroadcastOptions = { confirmations: 1, timeout: "2 minutes", pollInterval: "1 second" }

/**
 * What a node's refusal of a signed transaction means, by its message (clients word them differently; the codes
 * are shared with unrelated errors): its nonce is used (`NonceTooLow`), its fees are too low (`Underpriced`), or
 * the transaction is in the node's pool already (`Known`: sending again was harmless, follow it to its receipt).
 * Matched in this order, case-insensitively; any other message is `Rejected`.
 */
export const refusals: ReadonlyArray<{ readonly means: "Known" | "NonceTooLow" | "Underpriced"; readonly message: RegExp; readonly seenFrom: string }> = [
  { means: "NonceTooLow", message: /nonce (is )?too low|nonce has already been used|already known nonce/i, seenFrom: "geth, besu, OpenEthereum, relays" },
  { means: "Underpriced", message: /underpriced|fee ?too low|too low for the next block|less than (the )?block base ?fee|max fee per gas less than/i, seenFrom: "geth, nethermind, besu, Optimism" },
  { means: "Underpriced", message: /gas price below (configured minimum gas price|current base fee)/i, seenFrom: "besu" },
  { means: "Underpriced", message: /gas price (\S+ wei )?is too low/i, seenFrom: "OpenEthereum" },
  { means: "Known", message: /already known|known transaction/i, seenFrom: "geth, nethermind, Infura, besu, Hardhat" },
  { means: "Known", message: /existing tx with same hash/i, seenFrom: "erigon" },
  { means: "Known", message: /same hash was already imported/i, seenFrom: "OpenEthereum" }
]

/** What a node's refusal of a signed transaction means (see `refusals`); `Rejected` for any other. */
export const refusalOf = (detail: string): "Known" | "NonceTooLow" | "Underpriced" | "Rejected" =>
  refusals.find((row) => row.message.test(detail))?.means ?? "Rejected"

const fail = (reason: typeof BroadcastErrorReason.Type) => Effect.fail(new BroadcastError({ reason }))

interface RpcReceipt {
  readonly blockNumber: Hex
  readonly blockHash: Hex
  readonly status: Hex
  readonly gasUsed: Hex
}

/** Sends the signed transaction and waits for its receipt and confirmations. */
export const broadcast = (
  client: EvmClient,
  serialized: Hex,
  options: Partial<BroadcastOptions> = {}
): Effect.Effect<BroadcastReceipt, BroadcastError | ChainRequestError> => {
  const config = { ...defaults, ...options }
  const hash: Hash = keccak256(serialized)
  const receipt = Effect.map(client.request("eth_getTransactionReceipt", [hash]), (receipt) => receipt as RpcReceipt | null)
  let confirmations = 0

  // the node's error is final unless the transaction is mined after all (a revert under automine, a resend)
  const submit = client.sendRawTransaction(serialized).pipe(
    Effect.asVoid,
    Effect.catchReason("ChainRequestError", "JsonRpc", (rejection) =>
      Effect.flatMap(receipt, (mined) => {
        if (mined !== null) return Effect.void
        switch (refusalOf(rejection.detail)) {
          case "Known":
            return Effect.void
          case "NonceTooLow":
            return fail(new NonceTooLow({ detail: rejection.detail }))
          case "Underpriced":
            return fail(new Underpriced({ detail: rejection.detail }))
          case "Rejected":
            return fail(new Rejected({ detail: rejection.detail }))
        }
      }))
  )

  const confirmed = Effect.gen(function*() {
    while (true) {
      const mined = yield* receipt
      if (mined !== null) {
        const blockNumber = hexToNumber(mined.blockNumber)
        if (mined.status !== "0x1") return yield* fail(new Reverted({ transactionHash: hash, blockNumber }))
        const head = hexToNumber((yield* client.request("eth_blockNumber")) as Hex)
        confirmations = head - blockNumber + 1
        if (confirmations >= config.confirmations) {
          return {
            transactionHash: hash,
            blockNumber,
            blockHash: mined.blockHash,
            gasUsed: BigInt(mined.gasUsed).toString(),
            confirmations
          }
        }
      }
      yield* Effect.sleep(config.pollInterval)
    }
  })

  return Effect.andThen(submit, confirmed).pipe(
    Effect.timeoutOrElse({
      duration: config.timeout,
      orElse: () => fail(new ConfirmationTimeout({ transactionHash: hash, confirmations }))
    })
  )
}
