/**
 * Tries of more than 129 items. The keys are RLP(0), RLP(1)…: from 128 on
 * they are 0x81 followed by the index, so the keys of items 128 and beyond
 * share their first nibbles and their part of the trie hangs under an
 * extension node — a path no recorded block reaches (none holds 130
 * transactions). The dev node computes a block's `transactionsRoot` and
 * `receiptsRoot` with its own trie; `BlockValidation` must compute the same.
 */
import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { hexToNumber, type Hex, type Transaction } from "viem"
import { DevChain } from "@chainjobs/devchain"
import * as BlockValidation from "../src/BlockValidation.ts"
import { client, devChainConfig } from "./fixtures.ts"

/** Transactions in the block: past 129, so that items 128… share a path. */
const count = 140

/**
 * A block of `count` transfers from dev account `from` to `from + 1`, mined at once (the transfers wait in the node's
 * pool until one block takes them all), read with its transactions; and the client that read it.
 */
const blockOf = (count: number, from: number) =>
  Effect.gen(function*() {
    const chain = yield* DevChain.DevChain
    // no retry, no request time limit: a transfer sent twice would make another block than asked for
    const evm = yield* client(devChainConfig([chain.url], { requestTimeout: "1 hour", retry: { times: 0 } }))
    yield* Effect.acquireRelease(
      evm.request("evm_setAutomine", [false]),
      () => Effect.orDie(evm.request("evm_setAutomine", [true]))
    )
    yield* evm.batch(Array.from({ length: count }, (_, index) => ({
      method: "eth_sendTransaction",
      params: [{ from: chain.accounts[from]!.address, to: chain.accounts[from + 1]!.address, value: `0x${(index + 1).toString(16)}` }]
    })))
    yield* evm.request("evm_mine")
    const head = hexToNumber((yield* evm.request("eth_blockNumber")) as Hex)
    const [block] = yield* evm.getBlocks([head], { transactions: true })
    return { evm, block: block!, transactions: block!.transactions as ReadonlyArray<Transaction> }
  })

layer(DevChain.layer(), { excludeTestServices: true, timeout: "120 seconds" })("a block of more than 129 transactions", (it) => {
  it.effect("its transactionsRoot and receiptsRoot, which hold an extension node, are recomputed as the node computed them", () =>
    Effect.gen(function*() {
      const { block, evm, transactions } = yield* blockOf(count, 5)
      assert.strictEqual(transactions.length, count)

      const validated = yield* BlockValidation.verify(block, undefined)
      assert.strictEqual(validated.transactions, count)
      assert.strictEqual(BlockValidation.transactionsRoot(transactions), block.transactionsRoot)

      const receipts = yield* evm.getReceipts(transactions.map((transaction) => transaction.hash))
      assert.strictEqual(BlockValidation.receiptsRoot(receipts), block.receiptsRoot)
      yield* BlockValidation.verifyReceipts(block, receipts)

      // two transactions under the extension node swapped: each still hashes right, the root does not
      const swapped = [...transactions.slice(0, 130), transactions[135]!, ...transactions.slice(131, 135), transactions[130]!, ...transactions.slice(136)]
      const refused = yield* Effect.flip(BlockValidation.verify({ ...block, transactions: swapped } as typeof block & {}, undefined))
      assert.strictEqual(refused.reason._tag, "TransactionsRootMismatch")
    }).pipe(Effect.scoped), 120_000)

  it.effect("a block of more than 256 transactions, whose extension under RLP's 0x82 01 is two nibbles long, has its roots recomputed", () =>
    Effect.gen(function*() {
      // items 256… have the keys 0x820100…: under nibbles 8, 2 they share "0 1" before they differ
      const many = 300
      const { block, transactions } = yield* blockOf(many, 7)
      assert.strictEqual(transactions.length, many)
      assert.strictEqual(BlockValidation.transactionsRoot(transactions), block.transactionsRoot)
      assert.strictEqual((yield* BlockValidation.verify(block, undefined)).transactions, many)
    }).pipe(Effect.scoped), 120_000)
})

