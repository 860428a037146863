/**
 * `BalanceCache.observe` confirming a transaction's pending transfers, on a
 * real Hardhat node and a SQLite file: a pending transfer of an account the
 * recorded item does not name (a token sent by the same transaction, say)
 * is cleared, and that account's balance is marked stale as well — the
 * confirmed transfer changed it, though no item of it was recorded.
 */
import { Chains } from "@chainjobs/chain"
import { NodeSqliteClient } from "@chainjobs/store-sql"
import { assert, layer } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { join } from "node:path"
import * as BalanceCache from "../src/BalanceCache.ts"
import * as EvmAdapter from "../src/EvmAdapter.ts"
import { DevChain, devChainConfig, nativeTransfer, node, numbered, tempDirectory } from "./fixtures.ts"

/** A balance cache alone over the dev node, its tables in `directory`. */
const cacheOn = (directory: string, url: string) =>
  BalanceCache.layer().pipe(
    Layer.provide(EvmAdapter.layer),
    Layer.provide(Chains.layerMemory([devChainConfig(url)])),
    Layer.provide(NodeSqliteClient.layer({ filename: join(directory, "watch.db") })),
    Layer.orDie
  )

layer(DevChain.layer(), { excludeTestServices: true, timeout: 120_000 })("BalanceCache observe", (it) => {
  it.effect("a confirmed transaction's pending transfer of an account its items do not name is cleared, and that balance made stale", () =>
    Effect.gen(function*() {
      const { url } = yield* DevChain.DevChain
      const directory = yield* tempDirectory
      yield* Effect.gen(function*() {
        const cache = yield* BalanceCache.BalanceCache
        const [sender, receiver, beside] = [numbered(0x7001), numbered(0x7002), numbered(0x7003)]
        yield* node(url).setBalance(beside, 7n)
        const transaction = `0x${"7".repeat(64)}`
        for (const account of [sender, receiver, beside]) yield* cache.read("dev", account, "native")
        yield* cache.addPending({ chain: "dev", transaction, account: beside, asset: "native", direction: "in", amount: 5n })
        assert.deepInclude(yield* cache.read("dev", beside, "native"), { amount: 7n, pendingIn: 5n, stale: false })

        const item = nativeTransfer(transaction, sender, receiver)
        yield* cache.observe("dev", [item])
        assert.deepInclude(yield* cache.read("dev", beside, "native"), { amount: 7n, pendingIn: 0n, stale: true, fromChain: false })
        assert.deepInclude(yield* cache.read("dev", sender, "native"), { stale: true })
        const stale = (yield* cache.list({ chain: "dev", stale: true })).balances.map((balance) => balance.account)
        assert.deepStrictEqual(stale.sort(), [sender, receiver, beside].sort())
      }).pipe(Effect.provide(cacheOn(directory, url)))
    }).pipe(Effect.scoped), 60_000)
})
