/**
 * Broadcasting a signed Sui transaction and waiting for finality. The
 * transaction's digest is computed locally from its bytes, so sending again
 * is harmless: a node that already knows the transaction (a resend after a
 * lost answer, a resumed task) is followed to its checkpoint instead of being
 * reported as a failure. A transaction is final on Sui once a checkpoint
 * includes it; one that executed and failed (out of gas, a Move abort) is
 * final too and charged for its gas, so that failure is reported with its
 * checkpoint.
 *
 * The node's refusals are typed: not enough gas, an input object at a version
 * that is no longer current (another transaction used it first), an expired
 * transaction, and any other rejection — transport failures stay
 * `ChainRequestError`s from the endpoint layers.
 *
 * @since 0.1.0
 */
import type { ChainRequestError } from "@chainjobs/chain"
import type { SuiTransactionBlockResponse } from "@mysten/sui/jsonRpc"
import { TransactionDataBuilder } from "@mysten/sui/transactions"
import { fromBase64 } from "@mysten/sui/utils"
import { Duration, Effect, Schema } from "effect"
import type * as SuiClient from "./SuiClient.ts"

/** The gas coin's balance cannot pay the budget, or execution ran past the budget (then `digest` names the charged transaction). */
export class InsufficientGas extends Schema.TaggedClass<InsufficientGas>("@chainjobs/sui/SuiTransaction/InsufficientGas")("InsufficientGas", {
  detail: Schema.String,
  digest: Schema.NullOr(Schema.String)
}) {}

/** An input object is not at the version the transaction names: another transaction consumed or locked it first. Rebuild and sign again. */
export class ObjectVersionConflict extends Schema.TaggedClass<ObjectVersionConflict>("@chainjobs/sui/SuiTransaction/ObjectVersionConflict")("ObjectVersionConflict", {
  detail: Schema.String
}) {}

/** The transaction's expiration passed before it was executed. */
export class Expired extends Schema.TaggedClass<Expired>("@chainjobs/sui/SuiTransaction/Expired")("Expired", {
  detail: Schema.String
}) {}

/** The node refused the transaction for another reason (a bad signature, a missing object…), or its bytes are not a transaction. */
export class Rejected extends Schema.TaggedClass<Rejected>("@chainjobs/sui/SuiTransaction/Rejected")("Rejected", {
  detail: Schema.String
}) {}

/** The transaction executed, failed (a Move abort, …) and is final in the checkpoint: its gas was charged. */
export class ExecutionFailed extends Schema.TaggedClass<ExecutionFailed>("@chainjobs/sui/SuiTransaction/ExecutionFailed")("ExecutionFailed", {
  digest: Schema.String,
  checkpoint: Schema.Int,
  detail: Schema.String
}) {}

/** No checkpoint included the transaction before the wait ran out. */
export class FinalityTimeout extends Schema.TaggedClass<FinalityTimeout>("@chainjobs/sui/SuiTransaction/FinalityTimeout")("FinalityTimeout", {
  digest: Schema.String
}) {}

/** Why a Sui broadcast failed. */
export const SuiBroadcastErrorReason = Schema.Union([
  InsufficientGas,
  ObjectVersionConflict,
  Expired,
  Rejected,
  ExecutionFailed,
  FinalityTimeout
])
/** @see SuiBroadcastErrorReason */
export type SuiBroadcastErrorReason = typeof SuiBroadcastErrorReason.Type

const describe = (reason: SuiBroadcastErrorReason): string => {
  switch (reason._tag) {
    case "InsufficientGas":
      return reason.digest === null ? `insufficient gas: ${reason.detail}` : `${reason.digest} ran out of gas: ${reason.detail}`
    case "ObjectVersionConflict":
      return `an input object is not at the version the transaction names: ${reason.detail}`
    case "Expired":
      return `transaction expired: ${reason.detail}`
    case "Rejected":
      return `transaction rejected: ${reason.detail}`
    case "ExecutionFailed":
      return `${reason.digest} failed in checkpoint ${reason.checkpoint}: ${reason.detail}`
    case "FinalityTimeout":
      return `${reason.digest} was not in a checkpoint when time ran out`
  }
}

/** A Sui broadcast failed for a reason of its own (transport failures are `ChainRequestError`s). */
export class SuiBroadcastError extends Schema.TaggedError<SuiBroadcastError>("@chainjobs/sui/SuiBroadcastError")("SuiBroadcastError", {
  reason: SuiBroadcastErrorReason
}) {
  override get message(): string {
    return describe(this.reason)
  }
}

/** A signed transaction: its BCS bytes (base64, as `Transaction.build` and `Signer.signTransaction` give them) and signatures. */
export interface SignedTransaction {
  readonly bytes: string
  readonly signatures: ReadonlyArray<string>
}

/** A transaction executed successfully and included in a checkpoint: final. */
export interface Finality {
  readonly digest: string
  readonly checkpoint: number
  /** Computation + storage − rebate, in MIST. */
  readonly gasUsed: string
  readonly timestampMs: number | null
}

/** Options of `broadcast`. */
export interface BroadcastOptions {
  /** How long to wait for a checkpoint, from submission. Default: 1 minute. */
  readonly timeout: Duration.Input
  /** How often the transaction is polled. Default: 500 ms (a checkpoint every ~250 ms on mainnet). */
  readonly pollInterval: Duration.Input
}

/** The defaults of `BroadcastOptions`. */
export const defaults: BroadcastOptions = { timeout: "1 minute", pollInterval: "500 millis" }

// Patterns of the messages full nodes answer sui_executeTransactionBlock with (see the package README for sources)
const gasPatterns = /GasBalanceTooLow|Balance of gas object .* is lower than|InsufficientGas|gas budget .* (too|is) (low|high)|GasBudgetTooLow/i
const versionPatterns = /not available for consumption|already locked by a different transaction|ObjectVersionUnavailableForConsumption|ObjectLockConflict|equivocat/i
const expiredPatterns = /TransactionExpired|Transaction Expired|expired/i

/** The reason a node's refusal of `sui_executeTransactionBlock` stands for. */
export const classifyRejection = (detail: string): SuiBroadcastErrorReason =>
  gasPatterns.test(detail)
    ? new InsufficientGas({ detail, digest: null })
    : versionPatterns.test(detail)
    ? new ObjectVersionConflict({ detail })
    : expiredPatterns.test(detail)
    ? new Expired({ detail })
    : new Rejected({ detail })

/** The digest of a transaction's bytes (base64), or why they are not a transaction. */
export const digestOf = (bytes: string): { readonly ok: true; readonly digest: string } | { readonly ok: false; readonly detail: string } => {
  try {
    const raw = fromBase64(bytes)
    // parsing checks the bytes are transaction data, not just any base64
    TransactionDataBuilder.fromBytes(raw)
    return { ok: true, digest: TransactionDataBuilder.getDigestFromBytes(raw) }
  } catch (error) {
    return { ok: false, detail: `not the bytes of a Sui transaction: ${String((error as Error)?.message ?? error)}` }
  }
}

const fail = (reason: SuiBroadcastErrorReason) => Effect.fail(new SuiBroadcastError({ reason }))

const gasUsedOf = (response: SuiTransactionBlockResponse): string => {
  const used = response.effects?.gasUsed
  return used === undefined ? "0" : (BigInt(used.computationCost) + BigInt(used.storageCost) - BigInt(used.storageRebate)).toString()
}

/** Sends the signed transaction and waits until a checkpoint includes it. */
export const broadcast = (
  client: SuiClient.SuiClient,
  signed: SignedTransaction,
  options: Partial<BroadcastOptions> = {}
): Effect.Effect<Finality, SuiBroadcastError | ChainRequestError.ChainRequestError> =>
  Effect.gen(function*() {
    const config = { ...defaults, ...options }
    const parsed = digestOf(signed.bytes)
    if (!parsed.ok) return yield* fail(new Rejected({ detail: parsed.detail }))
    if (signed.signatures.length === 0) return yield* fail(new Rejected({ detail: "no signature" }))
    const digest = parsed.digest

    /** The transaction as the node knows it, or null when it does not know it yet. */
    const lookup = client.use((rpc, signal) => rpc.getTransactionBlock({ digest, options: { showEffects: true }, signal })).pipe(
      Effect.map((found): SuiTransactionBlockResponse | null => found),
      Effect.catchIf(
        (error) => error.reason._tag === "JsonRpc" && /could not find|not found/i.test(error.reason.detail),
        () => Effect.succeed(null)
      )
    )

    yield* client.use((rpc, signal) =>
      rpc.executeTransactionBlock({
        transactionBlock: signed.bytes,
        signature: [...signed.signatures],
        // asking for effects makes the node wait for its own execution (WaitForLocalExecution), so the lookups that follow find it
        options: { showEffects: true },
        signal
      })
    ).pipe(
      Effect.catchReason("ChainRequestError", "JsonRpc", (rejection) =>
        // a node that knows the transaction already (a resend) is followed, not reported
        Effect.flatMap(lookup, (known) => known === null ? fail(classifyRejection(rejection.detail)) : Effect.void))
    )

    const final = Effect.gen(function*() {
      while (true) {
        const found = yield* lookup
        if (found !== null && found.checkpoint !== undefined && found.checkpoint !== null) return found
        yield* Effect.sleep(config.pollInterval)
      }
    })
    const included = yield* final.pipe(
      Effect.timeoutOrElse({ duration: config.timeout, orElse: () => fail(new FinalityTimeout({ digest })) })
    )
    const checkpoint = Number(included.checkpoint)
    const status = included.effects?.status
    if (status !== undefined && status.status === "failure") {
      const detail = status.error ?? "execution failed"
      return yield* fail(
        /InsufficientGas/.test(detail) ? new InsufficientGas({ detail, digest }) : new ExecutionFailed({ digest, checkpoint, detail })
      )
    }
    return {
      digest,
      checkpoint,
      gasUsed: gasUsedOf(included),
      timestampMs: included.timestampMs === undefined || included.timestampMs === null ? null : Number(included.timestampMs)
    }
  })
