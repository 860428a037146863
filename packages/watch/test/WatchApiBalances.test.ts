/**
 * The balance routes of `WatchApi` hand their query options on, over a real
 * HTTP server, watch runtime and Hardhat node: `verify=true` reads the chain
 * though the balance is cached, a plain read answers the cached amount, and
 * the listing without a `stale` filter holds stale and fresh balances alike
 * (with it, only the ones asked for).
 */
import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import * as BalanceCache from "../src/BalanceCache.ts"
import { DevChain, node, numbered } from "./fixtures.ts"
import { call, served } from "./httpFixtures.ts"

const ether = 10n ** 18n

layer(served, { excludeTestServices: true, timeout: 120_000 })("WatchApi balances", (it) => {
  it.effect("verify=true reads the chain past the cache; the listing holds stale balances unless asked for fresh ones", () =>
    Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      const act = node(chain.url)
      const cache = yield* BalanceCache.BalanceCache
      const [fresh, stale] = [numbered(0x6001), numbered(0x6002)]
      const path = (account: string, query = "") => `/api/watch/balances/dev/${account}/native${query}`
      yield* act.setBalance(fresh, 1n * ether)
      yield* act.setBalance(stale, 1n * ether)
      for (const account of [fresh, stale]) assert.strictEqual((yield* call("GET", path(account))).status, 200)

      yield* act.setBalance(fresh, 2n * ether)
      const cached = yield* call("GET", path(fresh))
      assert.deepStrictEqual([cached.body.amount, cached.body.fromChain], [(1n * ether).toString(), false])
      const verified = yield* call("GET", path(fresh, "?verify=true"))
      assert.deepStrictEqual([verified.body.amount, verified.body.fromChain], [(2n * ether).toString(), true])
      const accountVerified = yield* call("GET", `/api/watch/balances/dev/${fresh}?verify=true`)
      assert.deepStrictEqual(accountVerified.body.map((balance: BalanceCache.Balance) => balance.fromChain), [true])

      // a confirmed pending transfer makes its account's balance stale
      const transaction = `0x${"6".repeat(64)}`
      yield* cache.addPending({ chain: "dev", transaction, account: stale, asset: "native", direction: "in", amount: 1n })
      yield* cache.settlePending("dev", transaction, "confirmed")
      const listed = (query: string) =>
        Effect.map(call("GET", `/api/watch/balances?chain=dev${query}`), ({ body }) =>
          body.balances
            .filter((balance: BalanceCache.Balance) => balance.account === fresh || balance.account === stale)
            .map((balance: BalanceCache.Balance) => [balance.account, balance.stale]))
      assert.deepStrictEqual(yield* listed(""), [[fresh, false], [stale, true]])
      assert.deepStrictEqual(yield* listed("&stale=true"), [[stale, true]])
      assert.deepStrictEqual(yield* listed("&stale=false"), [[fresh, false]])
    }), 60_000)
})
