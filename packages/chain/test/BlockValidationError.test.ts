/**
 * What a `BlockValidationError` says for each reason a block fails: the
 * block, the field, what the node reported and what the block's own data
 * hashes to (or that a withdrawals root or a signature is missing), so that
 * a task's error names the lie.
 */
import { assert, describe, it } from "@effect/vitest"
import * as BlockValidation from "../src/BlockValidation.ts"

const a = `0x${"aa".repeat(32)}`
const b = `0x${"bb".repeat(32)}`
const sender = `0x${"cc".repeat(20)}`

const says = (reason: BlockValidation.BlockValidationError["reason"]) => new BlockValidation.BlockValidationError({ reason }).message

describe("BlockValidationError", () => {
  it("names the block, the field, the reported and the computed value of each mismatch", () => {
    assert.strictEqual(says(new BlockValidation.HashMismatch({ number: 7, reported: a, computed: b })), `block 7: hash ${a}, header hashes to ${b}`)
    assert.strictEqual(
      says(new BlockValidation.ParentMismatch({ number: 8, parentHash: a, actualParentHash: b })),
      `block 8: parent hash ${a}, parent is ${b}`
    )
    assert.strictEqual(
      says(new BlockValidation.TransactionHashMismatch({ number: 9, index: 2, reported: a, computed: b })),
      `block 9: transaction 2 is ${a}, hashes to ${b}`
    )
    assert.strictEqual(
      says(new BlockValidation.TransactionsRootMismatch({ number: 10, reported: a, computed: b })),
      `block 10: transactionsRoot ${a}, transactions hash to ${b}`
    )
    assert.strictEqual(
      says(new BlockValidation.ReceiptsRootMismatch({ number: 11, reported: a, computed: b })),
      `block 11: receiptsRoot ${a}, receipts hash to ${b}`
    )
  })

  it("says when a withdrawals root or the withdrawals are absent, and when no valid signature is there", () => {
    assert.strictEqual(
      says(new BlockValidation.WithdrawalsRootMismatch({ number: 12, reported: a, computed: b })),
      `block 12: withdrawalsRoot ${a}, withdrawals hash to ${b}`
    )
    assert.strictEqual(
      says(new BlockValidation.WithdrawalsRootMismatch({ number: 12, reported: null, computed: null })),
      "block 12: withdrawalsRoot absent, withdrawals hash to (none given)"
    )
    assert.strictEqual(
      says(new BlockValidation.SenderMismatch({ number: 13, index: 0, reported: sender, recovered: b.slice(0, 42) })),
      `block 13: transaction 0 claims sender ${sender}, signed by ${b.slice(0, 42)}`
    )
    assert.strictEqual(
      says(new BlockValidation.SenderMismatch({ number: 13, index: 1, reported: sender, recovered: null })),
      `block 13: transaction 1 claims sender ${sender}, signed by no valid signature`
    )
  })

  it("says when a block cannot be checked at all", () => {
    assert.strictEqual(
      says(new BlockValidation.TransactionsNotIncluded({ number: 14 })),
      "block 14: read with transaction hashes only, nothing to validate them against"
    )
    assert.strictEqual(says(new BlockValidation.MalformedBlock({ detail: "no hash" })), "not a JSON-RPC block: no hash")
  })
})
