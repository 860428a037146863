/**
 * The example payloads before the dev chain tells of its seeding, in
 * process: on which chain they are (the first configured, else `dev` when
 * the dev chain runs, else none), their block ranges, and the service that
 * holds them (`set` replaces the kinds given and keeps the others; `all` is
 * a copy).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { DevChain } from "@chainjobs/devchain"
import * as KindExamples from "../src/KindExamples.ts"

const block = Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 1_000_000 }))
const firstDevAccounts = DevChain.accounts.slice(0, 2).map((account) => account.address.toLowerCase())

describe("KindExamples", () => {
  it("without chains and without the dev chain there are no examples", () => {
    assert.deepStrictEqual(KindExamples.defaults({ chains: [], devChain: false }), {})
  })

  it("the examples are on the first configured chain, else on `dev` while the dev chain runs, over blocks 1 to 10", () => {
    const chains = [{ name: "mainnet" }, { name: "base" }] as any
    for (const [settings, chain] of [[{ chains, devChain: true }, "mainnet"], [{ chains: [], devChain: true }, "dev"]] as const) {
      const examples = KindExamples.defaults(settings) as Record<string, any>
      assert.deepStrictEqual(examples["chain/fetch-blocks"], { chain, fromBlock: 1, toBlock: 10 })
      assert.deepStrictEqual(examples["chain/scan-addresses"], { chain, addresses: firstDevAccounts, fromBlock: 1, toBlock: 10 })
      assert.deepStrictEqual(examples["chain/sync-events"], {
        chain, address: DevChain.accounts[0]!.address.toLowerCase(), events: [KindExamples.transferEvent], fromBlock: 1
      })
      assert.deepStrictEqual(examples["chain/validate-block"], { chain, number: 10, receipts: true })
      assert.deepStrictEqual(examples["chain/broadcast"], { chain, transaction: KindExamples.devTransfer, confirmations: 1 })
      assert.deepInclude(examples["chainjobs.watch.record"], { chain, from: firstDevAccounts[0], to: firstDevAccounts[1], block: 1 })
    }
  })

  it.prop(
    "fetch-blocks asks for at most ten blocks; a record with no participants names no sender or receiver",
    { fromBlock: block, span: Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 100 })) },
    ({ fromBlock, span }) => {
      const examples = KindExamples.chainExamples("c", { participants: [], token: "0xt", fromBlock, toBlock: fromBlock + span }) as Record<string, any>
      assert.deepStrictEqual(examples["chain/fetch-blocks"], { chain: "c", fromBlock, toBlock: fromBlock + Math.min(span, 9) })
      assert.deepStrictEqual(examples["chain/scan-addresses"].addresses, [])
      assert.deepInclude(examples["chainjobs.watch.record"], { from: null, to: null, block: fromBlock })
    }
  )

  it("a chain's examples name its first two participants, its token and blocks; the watch record is a native transfer between them", () => {
    const seeded = { participants: ["0xa", "0xb", "0xc"], token: "0xt", fromBlock: 5, toBlock: 20 }
    const examples = KindExamples.chainExamples("c", seeded) as Record<string, any>
    assert.deepStrictEqual(examples["chain/scan-addresses"], { chain: "c", addresses: ["0xa", "0xb"], fromBlock: 5, toBlock: 20 })
    assert.deepStrictEqual(examples["chain/process-block"], { chain: "c", number: 20 })
    assert.deepStrictEqual(examples["chain/follow-head"], { chain: "c", pollMillis: 1000 })
    assert.deepStrictEqual(examples["chainjobs.watch.record"], {
      watcher: "example",
      chain: "c",
      kind: "native",
      block: 5,
      blockHash: `0x${"0".repeat(64)}`,
      transaction: `0x${"1".repeat(64)}`,
      position: null,
      from: "0xa",
      to: "0xb",
      amount: "1",
      asset: null,
      contract: null,
      event: null,
      args: null
    })
    assert.deepStrictEqual(examples["chainjobs.balances.refresh-stale"], {})
    assert.deepStrictEqual(examples["chainjobs.balances.reconcile"], {})
  })

  it.effect("set replaces the examples of the kinds given and keeps the others; all is a copy", () =>
    Effect.gen(function*() {
      const examples = yield* KindExamples.KindExamples.pipe(
        Effect.provide(KindExamples.layer({ chains: [], devChain: true }))
      )
      const before = yield* examples.all
      assert.deepStrictEqual([...before.keys()].sort(), Object.keys(KindExamples.defaults({ chains: [], devChain: true })).sort())
      yield* examples.set({ "chain/fetch-blocks": { chain: "dev", fromBlock: 5, toBlock: 6 }, "demo-scan": { fromBlock: 1 } })
      const after = yield* examples.all
      assert.deepStrictEqual(after.get("chain/fetch-blocks"), { chain: "dev", fromBlock: 5, toBlock: 6 })
      assert.deepStrictEqual(after.get("demo-scan"), { fromBlock: 1 })
      assert.deepStrictEqual(after.get("chain/process-block"), before.get("chain/process-block"))
      assert.strictEqual(after.size, before.size + 1)
      // The map handed out is the caller's: changing it changes nothing in the service.
      ;(after as Map<string, unknown>).delete("demo-scan")
      assert.isTrue((yield* examples.all).has("demo-scan"))
      assert.isFalse(before.has("demo-scan"))
    }))
})
