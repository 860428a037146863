/**
 * What a `BroadcastError` says for each reason a broadcast fails: the node's
 * words for a refusal, the transaction and its block for a revert, the
 * confirmations seen when time ran out, so that a task's error names what
 * happened to the transaction.
 */
import { assert, describe, it } from "@effect/vitest"
import * as SignedTransaction from "../src/SignedTransaction.ts"

const hash = `0x${"ab".repeat(32)}`

const says = (reason: SignedTransaction.BroadcastError["reason"]) => new SignedTransaction.BroadcastError({ reason }).message

describe("BroadcastError", () => {
  it("names the reason and the node's words for a refusal", () => {
    assert.strictEqual(says(new SignedTransaction.NonceTooLow({ detail: "nonce too low: tx 3 state 4" })), "NonceTooLow: nonce too low: tx 3 state 4")
    assert.strictEqual(says(new SignedTransaction.Underpriced({ detail: "replacement transaction underpriced" })), "Underpriced: replacement transaction underpriced")
    assert.strictEqual(says(new SignedTransaction.Rejected({ detail: "insufficient funds for gas * price + value" })), "Rejected: insufficient funds for gas * price + value")
  })

  it("names the transaction and its block for a revert, and the confirmations seen for a timeout", () => {
    assert.strictEqual(says(new SignedTransaction.Reverted({ transactionHash: hash, blockNumber: 19_000_001 })), `${hash} reverted in block 19000001`)
    assert.strictEqual(
      says(new SignedTransaction.ConfirmationTimeout({ transactionHash: hash, confirmations: 0 })),
      `${hash}: 0 confirmations when time ran out`
    )
  })
})
