/**
 * The balance cache's memory and its table say the same (a real Hardhat node,
 * a SQLite file): a balance read back from the table keeps its stale mark, a
 * verified read's new amount replaces the one kept in memory, a memory bounded
 * to one balance gives it up for the next one kept (its next read comes from
 * the table, where another writer changed it), and an account that is no
 * address is refused before anything is read or kept.
 */
import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import * as BalanceCache from "../src/BalanceCache.ts"
import { DevChain, node, numbered, reasonOf, sharedRuntime } from "./fixtures.ts"

const ether = 10n ** 18n

layer(sharedRuntime(), { excludeTestServices: true, timeout: 120_000 })("BalanceCache memory and table", (it) => {
  it.effect("a balance read back from the table keeps its stale mark", () =>
    Effect.gen(function*() {
      const act = node((yield* DevChain.DevChain).url)
      // a cache keeping nothing in memory: every read after the first comes from the table
      const tableOnly = yield* BalanceCache.make({ maxEntries: 0 })
      const account = numbered(0x7001)
      const transaction = `0x${"7".repeat(64)}`
      yield* act.setBalance(account, 1n * ether)
      assert.deepInclude(yield* tableOnly.read("dev", account, "native"), { amount: 1n * ether, fromChain: true, stale: false })
      assert.deepInclude(yield* tableOnly.read("dev", account, "native"), { fromChain: false, stale: false })
      // a confirmed transfer of the account marks its balances stale in the table
      yield* tableOnly.addPending({ chain: "dev", transaction, account, asset: "native", direction: "in", amount: 1n })
      yield* tableOnly.settlePending("dev", transaction, "confirmed")
      assert.deepInclude(yield* tableOnly.read("dev", account, "native"), { amount: 1n * ether, fromChain: false, stale: true })
    }), 60_000)

  it.effect("a verified read's new amount is the one a plain read answers from memory next", () =>
    Effect.gen(function*() {
      const act = node((yield* DevChain.DevChain).url)
      const cache = yield* BalanceCache.BalanceCache
      const account = numbered(0x7002)
      yield* act.setBalance(account, 1n * ether)
      yield* cache.read("dev", account, "native")
      // the second read keeps the balance in memory
      assert.deepInclude(yield* cache.read("dev", account, "native"), { amount: 1n * ether, fromChain: false })
      yield* act.setBalance(account, 2n * ether)
      const verified = yield* cache.read("dev", account, "native", { verify: true })
      assert.deepInclude(verified, { amount: 2n * ether, fromChain: true })
      assert.deepInclude(yield* cache.read("dev", account, "native"), {
        amount: 2n * ether,
        checkedAt: verified.checkedAt,
        fromChain: false,
        stale: false
      })
    }), 60_000)

  it.effect("a front of maxEntries 1 keeps one balance: reading a second evicts the first, read from the table next", () =>
    Effect.gen(function*() {
      const act = node((yield* DevChain.DevChain).url)
      const bounded = yield* BalanceCache.make({ maxEntries: 1 })
      // another writer of the same tables, which the bounded cache's memory does not hear of
      const other = yield* BalanceCache.make({ maxEntries: 0 })
      const [first, second] = [numbered(0x7003), numbered(0x7004)]
      yield* act.setBalance(first, 1n * ether)
      yield* act.setBalance(second, 1n * ether)
      yield* bounded.read("dev", first, "native")
      yield* bounded.read("dev", first, "native") // from the table, now kept in memory
      yield* act.setBalance(first, 2n * ether)
      assert.deepInclude(yield* other.read("dev", first, "native", { verify: true }), { amount: 2n * ether, fromChain: true })
      // still kept: the memory answers the amount it read, not the other writer's
      assert.deepInclude(yield* bounded.read("dev", first, "native"), { amount: 1n * ether, fromChain: false })
      yield* bounded.read("dev", second, "native")
      yield* bounded.read("dev", second, "native") // kept now, in the one place there is
      assert.deepInclude(yield* bounded.read("dev", first, "native"), { amount: 2n * ether, fromChain: false })
    }), 60_000)

  it.effect("an account that is no address is refused saying so", () =>
    Effect.gen(function*() {
      const cache = yield* BalanceCache.BalanceCache
      assert.deepStrictEqual(reasonOf(yield* Effect.exit(cache.read("dev", "0x12", "native"))), [
        "Invalid",
        `watcher "balances": "0x12" is not an EVM address (0x and 40 hex digits)`
      ])
      assert.deepStrictEqual((yield* cache.list({ chain: "dev", account: numbered(0x12) })).balances, [])
    }), 60_000)
})
