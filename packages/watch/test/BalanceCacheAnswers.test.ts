/**
 * What `BalanceCache` answers beyond the amounts, on a real Hardhat node and
 * a SQLite file: the refusals' texts (an asset that is no address, a pending
 * amount that is not positive), an upkeep pass counting only the balances it
 * changed, a cache keeping nothing in memory answering a plain read from its
 * table (not the chain), and an account's first listing: fresh, not stale,
 * its change audited as a fill.
 */
import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import * as BalanceCache from "../src/BalanceCache.ts"
import { DevChain, node, numbered, reasonOf as refusal, sharedRuntime } from "./fixtures.ts"

const ether = 10n ** 18n

layer(sharedRuntime(), { excludeTestServices: true, timeout: 120_000 })("BalanceCache answers", (it) => {
  it.effect("an asset that is no address and a pending amount that is not positive are refused saying so", () =>
    Effect.gen(function*() {
      const cache = yield* BalanceCache.BalanceCache
      const account = numbered(0x5001)
      assert.deepStrictEqual(refusal(yield* Effect.exit(cache.read("dev", account, "0x12"))), [
        "Invalid",
        `watcher "balances": asset: "0x12" is not an EVM address (0x and 40 hex digits)`
      ])
      assert.deepStrictEqual(
        refusal(yield* Effect.exit(cache.addPending({ chain: "dev", transaction: `0x${"1".repeat(64)}`, account, asset: "native", direction: "in", amount: 0n }))),
        ["Invalid", `watcher "balances": a pending amount must be positive, not 0`]
      )
      assert.deepStrictEqual((yield* cache.list({ chain: "dev", account })).balances, [])
    }), 60_000)

  it.effect("an upkeep pass counts the balances it changed, not every one it checked; a cache without memory reads its table", () =>
    Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      const act = node(chain.url)
      const cache = yield* BalanceCache.BalanceCache
      const accounts = [numbered(0x5101), numbered(0x5102)]
      yield* act.setBalance(accounts[0]!, 1n * ether)
      yield* act.setBalance(accounts[1]!, 2n * ether)
      for (const account of accounts) yield* cache.read("dev", account, "native")
      const checked = (yield* cache.list({})).balances.length
      assert.deepStrictEqual(yield* cache.reconcile, { checked, changed: 0, drifted: 0 })
      yield* act.setBalance(accounts[1]!, 3n * ether)
      assert.deepStrictEqual(yield* cache.reconcile, { checked, changed: 1, drifted: 1 })

      // a cache keeping nothing in memory, on the same table: a plain read answers the table's amount, not the chain's
      const tableOnly = yield* BalanceCache.make({ maxEntries: 0 })
      yield* act.setBalance(accounts[0]!, 4n * ether)
      const read = yield* tableOnly.read("dev", accounts[0]!, "native")
      assert.deepInclude(read, { amount: 1n * ether, fromChain: false, stale: false })
      const again = yield* tableOnly.read("dev", accounts[0]!, "native")
      assert.deepInclude(again, { amount: 1n * ether, fromChain: false })
    }), 60_000)

  it.effect("an account's first listing is fresh and not stale, its changed amount audited as a fill", () =>
    Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      const act = node(chain.url)
      const cache = yield* BalanceCache.BalanceCache
      const account = numbered(0x5201)
      yield* act.setBalance(account, 5n * ether)
      yield* cache.read("dev", account, "native")
      yield* act.setBalance(account, 6n * ether)
      const listed = yield* cache.readAll("dev", account)
      assert.deepStrictEqual(
        listed.map(({ amount, asset, fromChain, stale }) => ({ amount, asset, fromChain, stale })),
        [{ amount: 6n * ether, asset: "native", fromChain: true, stale: false }]
      )
      const [last] = yield* cache.audit(1)
      assert.deepInclude(last, { account, asset: "native", cause: "fill", before: 5n * ether, after: 6n * ether, drift: true })
    }), 60_000)
})
