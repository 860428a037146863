/**
 * Block validation against real blocks of every fork from Homestead to
 * Prague, with every transaction type 0–4 (see fixtures/blocks/README.md for
 * where each comes from), and against each kind of tampering: transactions
 * reordered, dropped, added or substituted, a rewritten `from`, wrong
 * withdrawals, and a block read with transaction hashes only.
 */
import { assert, describe, it } from "@effect/vitest"
import { readFileSync } from "node:fs"
import { Effect, Schema } from "effect"
import {
  type Block,
  formatBlock,
  formatTransactionReceipt,
  type RpcBlock,
  type RpcTransactionReceipt,
  type Transaction,
  type TransactionReceipt,
  keccak256
} from "viem"
import * as BlockValidation from "../src/BlockValidation.ts"

const read = (name: string) => JSON.parse(readFileSync(new URL(`./fixtures/blocks/${name}`, import.meta.url), "utf8"))
const format = (json: unknown) => formatBlock(json as RpcBlock) as Block

const blocks: ReadonlyArray<Block> = [format(read("mainnet-2000004.json")), ...(read("hive-blocks.json") as Array<unknown>).map(format)]
const hashesOnly = format(read("goerli-8705029.json"))

const withReceipts = (read("hive-receipts.json") as Array<{ block: unknown; receipts: Array<unknown> }>).map((item) => ({
  block: format(item.block),
  receipts: item.receipts.map((receipt) => formatTransactionReceipt(receipt as RpcTransactionReceipt))
}))

const transactionsOf = (block: Block) => block.transactions as ReadonlyArray<Transaction>
const withTransactions = (block: Block, transactions: ReadonlyArray<Transaction>): Block =>
  ({ ...block, transactions: transactions as Array<Transaction> }) as Block

/** The reason a tampered block is refused for (or "valid"). */
const reasonOf = (block: Block) =>
  BlockValidation.verify(block, undefined).pipe(
    Effect.map(() => "valid"),
    Effect.catchTag("BlockValidationError", (error) => Effect.succeed(error.reason._tag))
  )

const Index = Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 10_000 }))
const several = blocks.filter((block) => transactionsOf(block).length >= 2)
const withWithdrawals = [...blocks, hashesOnly].filter((block) => block.withdrawals !== undefined)

describe("BlockValidation against recorded blocks", () => {
  it("the fixtures hold every transaction type and the forks from Homestead to Prague", () => {
    const types = new Set(blocks.flatMap((block) => transactionsOf(block).map((transaction) => transaction.type)))
    assert.deepStrictEqual([...types].sort(), ["eip1559", "eip2930", "eip4844", "eip7702", "legacy"])
    assert.isTrue(blocks.some((block) => block.baseFeePerGas === null || block.baseFeePerGas === undefined))
    assert.isTrue(blocks.some((block) => (block as { requestsHash?: unknown }).requestsHash !== undefined))
  })

  for (const block of blocks) {
    const types = [...new Set(transactionsOf(block).map((transaction) => transaction.type))].join(", ")
    it.effect(`accepts block ${block.number} (${transactionsOf(block).length} transactions: ${types})`, () =>
      Effect.gen(function*() {
        const validated = yield* BlockValidation.verify(block, undefined)
        assert.strictEqual(validated.hash, block.hash)
        assert.strictEqual(BlockValidation.transactionsRoot(transactionsOf(block)), block.transactionsRoot)
      }))
  }

  it("recomputes the withdrawalsRoot of recorded blocks", () => {
    for (const block of withWithdrawals) {
      assert.strictEqual(BlockValidation.withdrawalsRoot(block.withdrawals!), block.withdrawalsRoot, `block ${block.number}`)
    }
    assert.isAbove(hashesOnly.withdrawals!.length, 10)
  })

  it.effect("recomputes the receiptsRoot of recorded receipts, before Byzantium (post-state roots) and after", () =>
    Effect.gen(function*() {
      for (const { block, receipts } of withReceipts) {
        yield* BlockValidation.verify(block, undefined)
        yield* BlockValidation.verifyReceipts(block, receipts)
      }
    }))

  it.effect.prop("refuses receipts changed, reordered, dropped or added", {
    which: Index,
    i: Index,
    j: Index,
    change: Schema.Literals(["status", "gas", "log", "reorder", "drop", "add"])
  }, ({ change, i, j, which }) =>
    Effect.gen(function*() {
      const { block, receipts: recorded } = withReceipts[which % withReceipts.length]!
      const receipts: Array<TransactionReceipt> = [...recorded]
      const at = i % receipts.length
      const receipt = receipts[at]!
      if (change === "status") {
        if ((receipt as { root?: unknown }).root !== undefined) return true
        receipts[at] = { ...receipt, status: receipt.status === "success" ? "reverted" : "success" }
      } else if (change === "gas") receipts[at] = { ...receipt, cumulativeGasUsed: receipt.cumulativeGasUsed + 1n }
      else if (change === "log") {
        if (receipt.logs.length === 0) receipts[at] = { ...receipt, logs: [...recorded.flatMap((item) => item.logs).slice(0, 1)] }
        else receipts[at] = { ...receipt, logs: receipt.logs.slice(1) }
        if (receipts[at]!.logs.length === receipt.logs.length) return true
      } else if (change === "reorder") {
        const other = j % receipts.length
        if (other === at) return true
        ;[receipts[at], receipts[other]] = [receipts[other]!, receipt]
      } else if (change === "drop") receipts.splice(at, 1)
      else receipts.splice(j % (receipts.length + 1), 0, receipt)
      const refused = yield* Effect.flip(BlockValidation.verifyReceipts(block, receipts))
      return refused.reason._tag === "ReceiptsRootMismatch"
    }))

  it.effect("refuses a block read with transaction hashes only with a typed error", () =>
    Effect.gen(function*() {
      assert.strictEqual(yield* reasonOf(hashesOnly), "TransactionsNotIncluded")
      const error = yield* Effect.flip(BlockValidation.verify(hashesOnly, undefined))
      assert.include(error.message, "hashes only")
    }))

  it.effect.prop("refuses reordered transactions", { block: Index, i: Index, j: Index }, ({ block, i, j }) =>
    Effect.gen(function*() {
      const chosen = several[block % several.length]!
      const transactions = [...transactionsOf(chosen)]
      const [a, b] = [i % transactions.length, j % transactions.length]
      if (a === b) return true
      ;[transactions[a], transactions[b]] = [transactions[b]!, transactions[a]!]
      return (yield* reasonOf(withTransactions(chosen, transactions))) === "TransactionsRootMismatch"
    }))

  it.effect.prop("refuses a dropped transaction", { block: Index, i: Index }, ({ block, i }) =>
    Effect.gen(function*() {
      const chosen = blocks[block % blocks.length]!
      const transactions = [...transactionsOf(chosen)]
      if (transactions.length === 0) return true
      transactions.splice(i % transactions.length, 1)
      return (yield* reasonOf(withTransactions(chosen, transactions))) === "TransactionsRootMismatch"
    }))

  it.effect.prop("refuses an added transaction, validly signed, from this block or another", {
    block: Index,
    from: Index,
    i: Index,
    at: Index
  }, ({ at, block, from, i }) =>
    Effect.gen(function*() {
      const chosen = blocks[block % blocks.length]!
      const source = transactionsOf(blocks[from % blocks.length]!)
      if (source.length === 0) return true
      const transactions = [...transactionsOf(chosen)]
      transactions.splice(at % (transactions.length + 1), 0, source[i % source.length]!)
      return (yield* reasonOf(withTransactions(chosen, transactions))) === "TransactionsRootMismatch"
    }))

  it.effect.prop("refuses a transaction substituted by another validly signed one", {
    block: Index,
    from: Index,
    i: Index,
    j: Index
  }, ({ block, from, i, j }) =>
    Effect.gen(function*() {
      const chosen = blocks[block % blocks.length]!
      const source = transactionsOf(blocks[from % blocks.length]!)
      const transactions = [...transactionsOf(chosen)]
      if (transactions.length === 0 || source.length === 0) return true
      const substitute = source[j % source.length]!
      const at = i % transactions.length
      if (substitute.hash === transactions[at]!.hash) return true
      transactions[at] = substitute
      return (yield* reasonOf(withTransactions(chosen, transactions))) === "TransactionsRootMismatch"
    }))

  // recovering every sender of a block takes a few milliseconds a transaction: fewer runs
  it.effect.prop("refuses a rewritten from", { block: Index, i: Index, address: Schema.String.check(Schema.isPattern(/^[0-9a-f]{40}$/)) }, ({ address, block, i }) =>
    Effect.gen(function*() {
      const chosen = blocks[block % blocks.length]!
      const transactions = [...transactionsOf(chosen)]
      if (transactions.length === 0) return true
      const at = i % transactions.length
      const from = `0x${address}` as const
      if (from === transactions[at]!.from.toLowerCase()) return true
      transactions[at] = { ...transactions[at]!, from }
      return (yield* reasonOf(withTransactions(chosen, transactions))) === "SenderMismatch"
    }), { timeout: 60_000, arbitrary: { runs: 30 } })

  it.effect.prop("refuses wrong withdrawals: one changed, dropped or added", {
    block: Index,
    i: Index,
    change: Schema.Literals(["amount", "drop", "add"])
  }, ({ block, change, i }) =>
    Effect.gen(function*() {
      const chosen = withWithdrawals.filter((block) => block !== hashesOnly)
      const target = chosen[block % chosen.length]!
      const withdrawals = [...target.withdrawals!]
      const extra = { index: "0x1", validatorIndex: "0x2", address: "0x0000000000000000000000000000000000000003", amount: "0x4" } as const
      if (change === "add" || withdrawals.length === 0) withdrawals.splice(i % (withdrawals.length + 1), 0, extra)
      else if (change === "drop") withdrawals.splice(i % withdrawals.length, 1)
      else {
        const at = i % withdrawals.length
        withdrawals[at] = { ...withdrawals[at]!, amount: `0x${(BigInt(withdrawals[at]!.amount) + 1n).toString(16)}` }
      }
      return (yield* reasonOf({ ...target, withdrawals } as Block)) === "WithdrawalsRootMismatch"
    }))
})

describe("BlockValidation's parent, withdrawals and sender checks, on recorded blocks", () => {
  /** The error a block is refused with, or "valid". */
  const refusal = (block: Block, parent: Block | undefined) =>
    BlockValidation.verify(block, parent).pipe(
      Effect.map(() => "valid" as const),
      Effect.catchTag("BlockValidationError", (error) => Effect.succeed(error.reason))
    )

  it.effect("takes a parent whose hash and number the block names; refuses one whose hash or number is another", () =>
    Effect.gen(function*() {
      const block = blocks.find((block) => block.number! > 1n)!
      const parent = (hash: Block["hash"], number: bigint) => ({ ...block, hash, number }) as Block
      assert.strictEqual(yield* refusal(block, parent(block.parentHash, block.number! - 1n)), "valid")
      const otherHash = `0x${"ab".repeat(32)}` as const
      for (const [hash, number] of [[otherHash, block.number! - 1n], [block.parentHash, block.number! - 2n]] as const) {
        assert.deepStrictEqual(
          yield* refusal(block, parent(hash, number)),
          new BlockValidation.ParentMismatch({ number: Number(block.number), parentHash: block.parentHash, actualParentHash: hash })
        )
      }
    }))

  it.effect("refuses a block with a withdrawalsRoot read without its withdrawals, reporting the root", () =>
    Effect.gen(function*() {
      const target = withWithdrawals.find((block) => block !== hashesOnly)!
      const { withdrawals: _dropped, ...without } = target
      assert.deepStrictEqual(
        yield* refusal(without as Block, undefined),
        new BlockValidation.WithdrawalsRootMismatch({ number: Number(target.number), reported: target.withdrawalsRoot!, computed: null })
      )
    }))

  it.effect("refuses a transaction whose signature recovers to no address, its hashes and roots made to match: recovered null", () =>
    Effect.gen(function*() {
      const target = several[0]!
      const transactions = [...transactionsOf(target)]
      const unsigned = { ...transactions[1]!, r: "0x0" } as Transaction
      transactions[1] = { ...unsigned, hash: BlockValidation.transactionHash(unsigned) }
      const forged = { ...withTransactions(target, transactions), transactionsRoot: BlockValidation.transactionsRoot(transactions) } as Block
      const block = { ...forged, hash: BlockValidation.headerHash(forged) } as Block
      assert.deepStrictEqual(
        yield* refusal(block, undefined),
        new BlockValidation.SenderMismatch({ number: Number(block.number), index: 1, reported: transactions[1]!.from, recovered: null })
      )
    }))

  it.effect("keccak-256 of nothing as an empty list's root (Hardhat's genesis) is accepted for empty lists only", () =>
    Effect.gen(function*() {
      const nothing = keccak256("0x")
      const rehashed = (block: Block) => ({ ...block, hash: BlockValidation.headerHash(block) }) as Block
      const target = withWithdrawals.find((block) => transactionsOf(block).length > 0 && block.withdrawals!.length > 0)!
      // both lists empty, both roots keccak-256 of nothing: valid
      const empty = rehashed({ ...withTransactions(target, []), withdrawals: [], transactionsRoot: nothing, withdrawalsRoot: nothing } as Block)
      assert.strictEqual(yield* reasonOf(empty), "valid")
      // a list with items under that root is refused
      assert.strictEqual(yield* reasonOf(rehashed({ ...target, transactionsRoot: nothing } as Block)), "TransactionsRootMismatch")
      assert.strictEqual(yield* reasonOf(rehashed({ ...target, withdrawalsRoot: nothing } as Block)), "WithdrawalsRootMismatch")
    }))
})

