/**
 * The balance listing filtered by chain, in a cache that holds two: the
 * same dev node configured as two chains, `dev` and `dev2`, each with a
 * balance read and cached. A filter by one chain lists only that chain's
 * balances, the other's left out; no filter lists both. A chain configured
 * as neither is bad input (`Invalid`), not a chain failure. Real dev chain,
 * SQLite watch tables.
 */
import { Chains } from "@chainjobs/chain"
import { NodeSqliteClient } from "@chainjobs/store-sql"
import { assert, layer } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { join } from "node:path"
import * as BalanceCache from "../src/BalanceCache.ts"
import * as EvmAdapter from "../src/EvmAdapter.ts"
import type * as WatchError from "../src/WatchError.ts"
import { address, DevChain, devChainConfig, tempDirectory } from "./fixtures.ts"

/** A balance cache over the dev node as the chains `dev` and `dev2`, its tables in `directory`. */
const twoChains = (directory: string, url: string) =>
  BalanceCache.layer().pipe(
    Layer.provide(EvmAdapter.layer),
    Layer.provide(Chains.layerMemory([devChainConfig(url), { ...devChainConfig(url), name: "dev2" }])),
    Layer.provide(NodeSqliteClient.layer({ filename: join(directory, "watch.db") })),
    Layer.orDie
  )

layer(DevChain.layer(), { excludeTestServices: true, timeout: 120_000 })("BalanceCache listing by chain", (it) => {
  it.effect("a filter by chain lists that chain's balances only; no filter lists every chain's", () =>
    Effect.gen(function*() {
      const { url } = yield* DevChain.DevChain
      const directory = yield* tempDirectory
      yield* Effect.gen(function*() {
        const cache = yield* BalanceCache.BalanceCache
        const account = address(4)
        yield* cache.read("dev", account, "native")
        yield* cache.read("dev2", account, "native")
        const chainsOf = (query: BalanceCache.ListQuery) =>
          Effect.map(cache.list(query), (page) => page.balances.map((balance) => `${balance.chain} ${balance.account}`))
        assert.deepStrictEqual(yield* chainsOf({ chain: "dev" }), [`dev ${account}`])
        assert.deepStrictEqual(yield* chainsOf({ chain: "dev2" }), [`dev2 ${account}`])
        assert.deepStrictEqual(yield* chainsOf({ chain: "dev2", account }), [`dev2 ${account}`])
        assert.deepStrictEqual(yield* chainsOf({}), [`dev ${account}`, `dev2 ${account}`])
      }).pipe(Effect.provide(twoChains(directory, url)))
    }).pipe(Effect.scoped))

  it.effect("a chain that is not configured is bad input: every call naming it is refused as Invalid, nothing stored", () =>
    Effect.gen(function*() {
      const { url } = yield* DevChain.DevChain
      const directory = yield* tempDirectory
      yield* Effect.gen(function*() {
        const cache = yield* BalanceCache.BalanceCache
        const account = address(5)
        const refusals = yield* Effect.forEach([
          cache.read("nochain", account, "native"),
          cache.readAll("nochain", account),
          cache.addPending({ chain: "nochain", transaction: `0x${"5".repeat(64)}`, account, asset: "native", direction: "in", amount: 1n }),
          cache.list({ chain: "nochain" })
        ] as ReadonlyArray<Effect.Effect<unknown, WatchError.WatchError>>, (call) => Effect.flip(call))
        for (const refusal of refusals) {
          assert.strictEqual(refusal.reason._tag, "Invalid", refusal.message)
          assert.strictEqual(refusal.message, `watcher "balances": unknown chain "nochain"`)
        }
        assert.deepStrictEqual((yield* cache.list({})).balances, [])
      }).pipe(Effect.provide(twoChains(directory, url)))
    }).pipe(Effect.scoped))
})
