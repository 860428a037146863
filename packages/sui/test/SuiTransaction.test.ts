import { assert, describe, it } from "@effect/vitest"
import { Ed25519Keypair } from "@mysten/sui/keypairs/ed25519"
import { Transaction } from "@mysten/sui/transactions"
import { toBase64 } from "@mysten/sui/utils"
import { Effect, Exit, Fiber, Schema } from "effect"
import * as SuiTransaction from "../src/SuiTransaction.ts"
import * as SuiStandIn from "./SuiStandIn.ts"

const spec = SuiStandIn.spec
/** The specification's own signed transaction (its example of sui_executeTransactionBlock). */
const specSigned: SuiTransaction.SignedTransaction = {
  bytes: spec.sui_executeTransactionBlock_params.tx_bytes,
  signatures: spec.sui_executeTransactionBlock_params.signatures
}

/** A transfer built and signed here with the SDK, offline (every input given as a full reference). */
const signedOffline = (seed: number) =>
  Effect.promise(async () => {
    const keypair = Ed25519Keypair.deriveKeypairFromSeed(seed.toString(16).padStart(64, "0"))
    const transaction = new Transaction()
    transaction.setSender(keypair.toSuiAddress())
    transaction.setGasPrice(1000)
    transaction.setGasBudget(5_000_000)
    transaction.setGasPayment([{ objectId: `0x${"ab".repeat(32)}`, version: String(seed), digest: spec.sui_executeTransactionBlock.effects.gasObject.reference.digest }])
    transaction.transferObjects([transaction.gas], `0x${"cd".repeat(32)}`)
    const bytes = await transaction.build()
    const signed = await keypair.signTransaction(bytes)
    return { signed: { bytes: signed.bytes, signatures: [signed.signature] }, digest: await transaction.getDigest() }
  })

const executions = (node: SuiStandIn.StandIn) => node.requests.filter((request) => request.method === "sui_executeTransactionBlock").length

/** Broadcasts in the background, and once the node has executed the transaction, makes the next checkpoint. */
const broadcastAndCheckpoint = (node: SuiStandIn.StandIn, signed: SuiTransaction.SignedTransaction, options: Partial<SuiTransaction.BroadcastOptions> = {}) =>
  Effect.gen(function*() {
    const client = yield* SuiStandIn.client(node.url)
    const fiber = yield* SuiTransaction.broadcast(client, signed, { pollInterval: "20 millis", ...options }).pipe(Effect.forkChild)
    while (node.executed.length === 0) yield* Effect.sleep("10 millis")
    const checkpoint = node.addCheckpoint([])
    return { checkpoint, exit: yield* Fiber.await(fiber) }
  })

const reasonOf = <A>(exit: Exit.Exit<A, unknown>) => {
  if (Exit.isSuccess(exit)) return assert.fail("expected a failure")
  const error = exit.cause.reasons.find((reason) => reason._tag === "Fail")
  assert.isDefined(error)
  return (error as { error: SuiTransaction.SuiBroadcastError }).error
}

/** Asserts that a broadcast failed with the endpoint's `ChainRequestError`, its message including `text`. */
const assertChainRequestFailure = <A>(exit: Exit.Exit<A, unknown>, text: string) => {
  assert.isTrue(Exit.isFailure(exit))
  if (Exit.isSuccess(exit)) return
  const error = exit.cause.reasons.find((reason) => reason._tag === "Fail") as { error: { _tag: string; message: string } }
  assert.strictEqual(error.error._tag, "ChainRequestError")
  assert.include(error.error.message, text)
}

describe("SuiTransaction.broadcast on the stand-in node", () => {
  it.live("the specification's signed transaction is executed and reported final with its checkpoint, digest and gas", () =>
    Effect.gen(function*() {
      const node = yield* SuiStandIn.make()
      const { checkpoint, exit } = yield* broadcastAndCheckpoint(node, specSigned)
      assert.isTrue(Exit.isSuccess(exit))
      if (!Exit.isSuccess(exit)) return
      // the digest computed locally from the bytes is the one the specification's example answers with
      assert.deepStrictEqual(exit.value, { digest: spec.sui_executeTransactionBlock.digest, checkpoint, gasUsed: "190", timestampMs: 1676911928 + checkpoint - SuiStandIn.firstCheckpoint })
    }).pipe(Effect.scoped))

  it.live("a transaction signed with the SDK is followed by the SDK's own digest", () =>
    Effect.gen(function*() {
      const node = yield* SuiStandIn.make()
      const { signed, digest } = yield* signedOffline(7)
      const { checkpoint, exit } = yield* broadcastAndCheckpoint(node, signed)
      assert.isTrue(Exit.isSuccess(exit))
      if (Exit.isSuccess(exit)) assert.deepInclude(exit.value, { digest, checkpoint })
    }).pipe(Effect.scoped))

  it.live("an answer lost on the way (a truncated body) is retried, the node knows the transaction, and it is reported final once", () =>
    Effect.gen(function*() {
      const node = yield* SuiStandIn.make()
      const { signed, digest } = yield* signedOffline(8)
      node.inject("truncate")
      const { checkpoint, exit } = yield* broadcastAndCheckpoint(node, signed)
      assert.isTrue(Exit.isSuccess(exit))
      if (Exit.isSuccess(exit)) assert.deepInclude(exit.value, { digest, checkpoint })
      assert.strictEqual(executions(node), 2)
      // broadcasting the final transaction again reports it final, without a failure
      const again = yield* SuiTransaction.broadcast(yield* SuiStandIn.client(node.url), signed, { pollInterval: "20 millis" })
      assert.deepInclude(again, { digest, checkpoint })
    }).pipe(Effect.scoped))

  it.live("a resend refused because the transaction's own execution consumed its inputs is followed to finality, not reported", () =>
    Effect.gen(function*() {
      const node = yield* SuiStandIn.make()
      const { signed, digest } = yield* signedOffline(13)
      // the first answer is lost; the retry meets a node that sees the inputs already consumed (by this very transaction)
      node.inject("truncate")
      node.onExecute({ _tag: "Accept" }, {
        _tag: "Refuse",
        code: -32002,
        message: "Transaction execution failed due to issues with transaction inputs, please review the errors and try again: Object (0xab, SequenceNumber(13), o#x) is not available for consumption, its current version: SequenceNumber(14)"
      })
      const { checkpoint, exit } = yield* broadcastAndCheckpoint(node, signed)
      assert.isTrue(Exit.isSuccess(exit))
      if (Exit.isSuccess(exit)) assert.deepInclude(exit.value, { digest, checkpoint })
      assert.strictEqual(executions(node), 2)
    }).pipe(Effect.scoped))

  // messages full nodes answer sui_executeTransactionBlock with (sources in the package README)
  const refusals: ReadonlyArray<readonly [string, number, string, SuiTransaction.SuiBroadcastErrorReason["_tag"]]> = [
    ["gas balance below the budget", -32602, "Error checking transaction input objects: GasBalanceTooLow { gas_balance: 10000000, needed_gas_amount: 14225193 }", "InsufficientGas"],
    [
      "a stale object version",
      -32002,
      "Transaction execution failed due to issues with transaction inputs, please review the errors and try again: Object (0x173d5e68dfed7fbd3fc59862e70f0ce1c5b98709b9554457f8b76331db3a5550, SequenceNumber(27734940), o#facgsR4PEd2AwzETwTr4jjNC3M2U3zRnogNeEx6ygge) is not available for consumption, its current version: SequenceNumber(27735055)",
      "ObjectVersionConflict"
    ],
    [
      "objects locked by another transaction on a quorum",
      -32002,
      "Failed to process transaction on a quorum of validators to form a transaction certificate. Locked objects: {}. Validator errors: [ \"Object (0x057da7c7be404d9b8352cd13de1b3c9e6cb235a4, SequenceNumber(2220), o#8b90b0eab39aa44fa29ffcb047894872c57806113803c2f17ed8c067522c989b) is not available for consumption, its current version: SequenceNumber(1075223).\" ]",
      "ObjectVersionConflict"
    ],
    ["an expired transaction", -32002, "Transaction execution failed due to issues with transaction inputs, please review the errors and try again: Transaction Expired.", "Expired"],
    [
      "a missing input object",
      -32002,
      "Transaction execution failed due to issues with transaction inputs, please review the errors and try again: Could not find the referenced object 0xc6374c7da60746002bfee93014aeb607e023b2d6b25c9e55a152b826dbc8c1ce at version None.",
      "Rejected"
    ],
    ["a bad signature", -32002, "Invalid user signature: Required Signature from 0x04b497a916b4656609a7fa827a09184d6f47681d3ba74ce0d7a36c64b2b1f887 is absent [\"0x6a10\"]", "Rejected"]
  ]
  for (const [name, code, message, tag] of refusals) {
    it.live(`a node's refusal (${name}) is a typed ${tag}, and nothing is executed`, () =>
      Effect.gen(function*() {
        const node = yield* SuiStandIn.make()
        node.onExecute({ _tag: "Refuse", code, message })
        const { signed } = yield* signedOffline(9)
        const exit = yield* SuiTransaction.broadcast(yield* SuiStandIn.client(node.url), signed).pipe(Effect.exit)
        const error = reasonOf(exit)
        assert.strictEqual(error.reason._tag, tag)
        assert.include(error.message, message.slice(0, 40))
        assert.deepStrictEqual(node.executed, [])
      }).pipe(Effect.scoped))
  }

  it.live("a Move abort in execution is final: ExecutionFailed names the digest and the checkpoint", () =>
    Effect.gen(function*() {
      const node = yield* SuiStandIn.make()
      const abort = "MoveAbort(MoveLocation { module: ModuleId { address: 0000000000000000000000000000000000000000000000000000000000000002, name: Identifier(\"coin\") }, function: 5, instruction: 9, function_name: Some(\"split\") }, 0) in command 0"
      node.onExecute({ _tag: "FailInExecution", error: abort })
      const { signed, digest } = yield* signedOffline(10)
      const { checkpoint, exit } = yield* broadcastAndCheckpoint(node, signed)
      const error = reasonOf(exit)
      assert.deepStrictEqual(error.reason, new SuiTransaction.ExecutionFailed({ digest, checkpoint, detail: abort }))
    }).pipe(Effect.scoped))

  it.live("running out of gas in execution is InsufficientGas with the charged transaction's digest", () =>
    Effect.gen(function*() {
      const node = yield* SuiStandIn.make()
      node.onExecute({ _tag: "FailInExecution", error: "InsufficientGas" })
      const { signed, digest } = yield* signedOffline(11)
      const { exit } = yield* broadcastAndCheckpoint(node, signed)
      assert.deepStrictEqual(reasonOf(exit).reason, new SuiTransaction.InsufficientGas({ detail: "InsufficientGas", digest }))
    }).pipe(Effect.scoped))

  it.live("no checkpoint before the timeout: FinalityTimeout with the digest", () =>
    Effect.gen(function*() {
      const node = yield* SuiStandIn.make()
      const { signed, digest } = yield* signedOffline(12)
      const exit = yield* SuiTransaction.broadcast(yield* SuiStandIn.client(node.url), signed, { timeout: "300 millis", pollInterval: "20 millis" }).pipe(Effect.exit)
      assert.deepStrictEqual(reasonOf(exit).reason, new SuiTransaction.FinalityTimeout({ digest }))
      assert.deepStrictEqual(node.executed, [digest])
    }).pipe(Effect.scoped))

  it.effect.prop(
    "bytes that are not a transaction, or no signature, are refused before anything is sent",
    { bytes: Schema.Array(Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 255 }))).check(Schema.isMaxLength(60)), text: Schema.String },
    ({ bytes, text }) =>
      Effect.gen(function*() {
        const node = yield* SuiStandIn.make()
        const client = yield* SuiStandIn.client(node.url)
        const cases: Array<SuiTransaction.SignedTransaction> = [
          { bytes: toBase64(Uint8Array.from(bytes)), signatures: ["AA=="] },
          { bytes: `!${text}`, signatures: ["AA=="] },
          { ...specSigned, signatures: [] }
        ]
        const details = []
        for (const signed of cases) {
          const error = reasonOf(yield* SuiTransaction.broadcast(client, signed).pipe(Effect.exit))
          assert.strictEqual(error.reason._tag, "Rejected")
          details.push((error.reason as SuiTransaction.Rejected).detail)
        }
        assert.match(details[0]!, /^not the bytes of a Sui transaction: /)
        assert.match(details[1]!, /^not the bytes of a Sui transaction: /)
        // the parser's reason as it says it, not the error object's name before it
        for (const detail of details.slice(0, 2)) assert.notMatch(detail, /: \w*Error: /)
        assert.strictEqual(details[2], "no signature")
        assert.strictEqual(node.requests.length, 0)
      }).pipe(Effect.scoped),
    { arbitrary: { runs: 25 } }
  )
})

describe("SuiTransaction details", () => {
  it("each reason's message says what happened, with its fields", () => {
    const cases: ReadonlyArray<readonly [SuiTransaction.SuiBroadcastErrorReason, string]> = [
      [new SuiTransaction.InsufficientGas({ detail: "GasBalanceTooLow", digest: null }), "insufficient gas: GasBalanceTooLow"],
      [new SuiTransaction.InsufficientGas({ detail: "InsufficientGas", digest: "D1" }), "D1 ran out of gas: InsufficientGas"],
      [new SuiTransaction.ObjectVersionConflict({ detail: "x" }), "an input object is not at the version the transaction names: x"],
      [new SuiTransaction.Expired({ detail: "x" }), "transaction expired: x"],
      [new SuiTransaction.Rejected({ detail: "x" }), "transaction rejected: x"],
      [new SuiTransaction.ExecutionFailed({ digest: "D2", checkpoint: 7, detail: "MoveAbort" }), "D2 failed in checkpoint 7: MoveAbort"],
      [new SuiTransaction.FinalityTimeout({ digest: "D3" }), "D3 was not in a checkpoint when time ran out"]
    ]
    for (const [reason, message] of cases) assert.strictEqual(new SuiTransaction.SuiBroadcastError({ reason }).message, message)
  })

  it.live("a node that finds the transaction only once a checkpoint holds it: the wait goes on through 'not found' to finality", () =>
    Effect.gen(function*() {
      const node = yield* SuiStandIn.make({ indexAfterCheckpoint: true })
      const { signed, digest } = yield* signedOffline(21)
      const client = yield* SuiStandIn.client(node.url)
      const fiber = yield* SuiTransaction.broadcast(client, signed, { pollInterval: "20 millis" }).pipe(Effect.forkChild)
      while (node.executed.length === 0) yield* Effect.sleep("10 millis")
      // a few polls meet "not found" before the checkpoint: the first two answered before the third was sent
      // (counted, not a time slept: at load 27, 100 ms held only two)
      const looks = () => node.requests.filter((request) => request.method === "sui_getTransactionBlock").length
      while (looks() < 3) yield* Effect.sleep("10 millis")
      const checkpoint = node.addCheckpoint([])
      const final = yield* Fiber.join(fiber)
      assert.deepInclude(final, { digest, checkpoint })
      assert.isAbove(looks(), 2)
    }).pipe(Effect.scoped))

  it.live("a node's error while the wait polls (not 'not found') fails the broadcast with it, not with a timeout", () =>
    Effect.gen(function*() {
      const node = yield* SuiStandIn.make()
      const { signed } = yield* signedOffline(23)
      node.refuse("sui_getTransactionBlock", { code: -32603, message: "Internal error: database is locked" })
      const exit = yield* SuiTransaction.broadcast(yield* SuiStandIn.client(node.url), signed, { timeout: "2 seconds", pollInterval: "20 millis" }).pipe(Effect.exit)
      assertChainRequestFailure(exit, "database is locked")
    }).pipe(Effect.scoped))

  it.live("a gateway's text page saying 'not found' while the wait polls fails the broadcast: only the node's JSON-RPC answer means 'not known yet'", () =>
    Effect.gen(function*() {
      const node = yield* SuiStandIn.make()
      const { signed } = yield* signedOffline(25)
      const fiber = yield* SuiTransaction.broadcast(yield* SuiStandIn.clientWithoutRetries(node.url), signed, { timeout: "2 seconds", pollInterval: "20 millis" }).pipe(
        Effect.forkChild
      )
      // executed and not in a checkpoint: the polls that follow meet the gateway's page
      while (node.executed.length === 0) yield* Effect.sleep("10 millis")
      node.inject({ body: "404 page not found" })
      const exit = yield* Fiber.await(fiber)
      assertChainRequestFailure(exit, "404 page not found")
    }).pipe(Effect.scoped))
})
