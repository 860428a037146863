/**
 * `BlockValidation.validateData`, on its own and in the test process: blocks
 * given as JSON-RPC data (the recorded ones of `fixtures/blocks`), data that
 * is no such block (`MalformedBlock`, naming what is missing or what broke),
 * and receipts read for a block from a scripted endpoint serving the recorded
 * receipts. The task kinds reach it too (`ValidateBlock` with `block`), but
 * through a supervisor on the dev chain: this file is what a mutation run of
 * `BlockValidation.ts` can afford.
 */
import { assert, describe, it } from "@effect/vitest"
import { readFileSync } from "node:fs"
import { Effect } from "effect"
import * as BlockValidation from "../src/BlockValidation.ts"
import { client, devChainConfig } from "./fixtures.ts"
import * as ScriptedNode from "./ScriptedNode.ts"

type Json = Record<string, unknown>

const read = (name: string) => JSON.parse(readFileSync(new URL(`./fixtures/blocks/${name}`, import.meta.url), "utf8"))

/** Recorded blocks with full transactions, as a node answers them. */
const blocks = (): ReadonlyArray<Json> => [read("mainnet-2000004.json"), ...(read("hive-blocks.json") as Array<Json>)]

/** Recorded blocks with their receipts, as a node answers them. */
const withReceipts = (): ReadonlyArray<{ readonly block: Json; readonly receipts: ReadonlyArray<Json> }> => read("hive-receipts.json")

/** An endpoint answering `eth_getTransactionReceipt` from `receipts` (by transaction hash), and nothing else. */
const receiptNode = (receipts: ReadonlyArray<Json>) =>
  ScriptedNode.make((calls, batch) => {
    const answers = calls.map((call) =>
      call.method === "eth_getTransactionReceipt"
        ? ScriptedNode.result(call, receipts.find((receipt) => receipt.transactionHash === call.params[0]) ?? null)
        : ScriptedNode.error(call.id, -32601, `${call.method} is not served here`)
    )
    return { body: batch ? answers : answers[0] }
  })

/** No time limit on a request: under load a timed-out request is sent again, and the endpoint would see it twice. */
const untimed = { requestTimeout: "1 hour" } as const

/** The reason `validateData` refuses `data` for, and its detail when it has one (or "valid"). */
const refusal = (data: unknown) =>
  Effect.gen(function*() {
    const node = yield* receiptNode([])
    const evm = yield* client(devChainConfig([node.url], untimed))
    return yield* BlockValidation.validateData(evm, data).pipe(
      Effect.map(() => ({ reason: "valid", detail: "" })),
      Effect.catchTag("BlockValidationError", (error) =>
        Effect.succeed({ reason: error.reason._tag, detail: "detail" in error.reason ? error.reason.detail : "" }))
    )
  })

describe("BlockValidation.validateData", () => {
  it.live("accepts each recorded block given as data, and reads nothing from the chain", () =>
    Effect.gen(function*() {
      const node = yield* receiptNode([])
      const evm = yield* client(devChainConfig([node.url], untimed))
      for (const data of blocks()) {
        assert.deepStrictEqual(yield* BlockValidation.validateData(evm, data), {
          number: Number(data.number),
          hash: data.hash as string,
          parentHash: data.parentHash as string,
          timestamp: Number(data.timestamp),
          transactions: (data.transactions as Array<unknown>).length
        })
      }
      assert.strictEqual(node.requests(), 0)
    }), 60_000)

  it.live("refuses data without a field the header needs as MalformedBlock naming the field", () =>
    Effect.gen(function*() {
      const [block] = blocks()
      for (const field of ["hash", "parentHash", "number", "transactionsRoot", "stateRoot", "receiptsRoot"]) {
        const { [field]: _dropped, ...rest } = block!
        assert.deepStrictEqual(yield* refusal(rest), { reason: "MalformedBlock", detail: `no ${field}` }, field)
        assert.deepStrictEqual(yield* refusal({ ...block, [field]: null }), { reason: "MalformedBlock", detail: `no ${field}` }, field)
      }
    }), 60_000)

  it.live("refuses data that is no block, or whose transaction cannot be serialized, as MalformedBlock with the cause", () =>
    Effect.gen(function*() {
      const [block] = blocks()
      const nothing = yield* refusal(null)
      assert.strictEqual(nothing.reason, "MalformedBlock")
      assert.notStrictEqual(nothing.detail, "")
      const [transaction] = block!.transactions as Array<Json>
      // a signature that is not hex shows only when the transaction is serialized to be hashed: a defect, told as data
      const garbled = yield* refusal({ ...block, transactions: [{ ...transaction, r: "not hex" }] })
      assert.strictEqual(garbled.reason, "MalformedBlock")
      assert.notStrictEqual(garbled.detail, "")
      assert.notInclude(garbled.detail, "no ")
    }), 60_000)

  it.live("with receipts, reads each transaction's receipt and checks them against the block's receiptsRoot", () =>
    Effect.gen(function*() {
      for (const { block, receipts } of withReceipts()) {
        const node = yield* receiptNode(receipts)
        const evm = yield* client(devChainConfig([node.url], untimed))
        const validated = yield* BlockValidation.validateData(evm, block, { receipts: true })
        assert.strictEqual(validated.transactions, receipts.length)
        assert.deepStrictEqual(
          node.received.flat().map((call) => call.params[0]),
          (block.transactions as Array<Json>).map((transaction) => transaction.hash)
        )
        // a receipt the endpoint tells otherwise than the chain recorded it: the root does not hold
        const [first, ...rest] = receipts
        const altered = yield* receiptNode([{ ...first, cumulativeGasUsed: "0x1" }, ...rest])
        const misled = yield* client(devChainConfig([altered.url], untimed))
        const refused = yield* Effect.flip(BlockValidation.validateData(misled, block, { receipts: true }))
        assert.strictEqual(refused._tag === "BlockValidationError" ? refused.reason._tag : refused._tag, "ReceiptsRootMismatch")
      }
    }), 60_000)
})
