/**
 * The cache's ages on the TestClock, over a real Hardhat node and SQLite
 * watch tables: a balance or a listing exactly `maxAgeMillis` old is
 * answered from the cache and one a millisecond older is read again (with
 * the audit's cause: `max-age`, `refresh` for a listing made stale, `verify`),
 * the ages `read` and `list` report, and `refreshStale` settling pending
 * transfers: a reverted transaction's at once, an included one once it is
 * `confirmations` deep, one never sent kept.
 */
import { Chains } from "@chainjobs/chain"
import { DevSeed } from "@chainjobs/devchain"
import { NodeSqliteClient } from "@chainjobs/store-sql"
import { assert, layer } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { TestClock } from "effect/testing"
import { join } from "node:path"
import { keccak256, toHex } from "viem"
import * as BalanceCache from "../src/BalanceCache.ts"
import * as EvmAdapter from "../src/EvmAdapter.ts"
import { address, DevChain, devChainConfig, node, tempDirectory } from "./fixtures.ts"

const ether = 10n ** 18n

/** A test body on a fresh cache (SQLite in a fresh directory) over the file's dev chain, on the TestClock (at 0). */
const onTestClock = <A, E>(body: Effect.Effect<A, E, BalanceCache.BalanceCache | DevChain.DevChain>) =>
  Effect.gen(function*() {
    const chain = yield* DevChain.DevChain
    const directory = yield* tempDirectory
    const cache = BalanceCache.layer().pipe(
      Layer.provideMerge(EvmAdapter.layer),
      Layer.provideMerge(Chains.layerMemory([devChainConfig(chain.url)])),
      Layer.provideMerge(NodeSqliteClient.layer({ filename: join(directory, "watch.db") })),
      Layer.orDie
    )
    return yield* body.pipe(Effect.provide(cache, { local: true }))
  }).pipe(Effect.provide(TestClock.layer()), Effect.scoped)

/** The newest audit entry of an account. */
const lastChange = (account: string) =>
  Effect.map(BalanceCache.BalanceCache.use((cache) => cache.audit(100)), (entries) => entries.find((entry) => entry.account === account))

layer(DevChain.layer(), { excludeTestServices: true, timeout: 120_000 })("BalanceCache ages", (it) => {
  it.effect("a balance exactly maxAgeMillis old is answered from the cache, a millisecond older is read again; read and list give its age", () =>
    onTestClock(Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      const cache = yield* BalanceCache.BalanceCache
      const account = address(10)
      yield* TestClock.adjust(5_000)
      const first = yield* cache.read("dev", account, "native")
      assert.deepInclude(first, { checkedAt: 5_000, ageMillis: 0, fromChain: true })
      yield* node(chain.url).setBalance(account, 21n * ether)
      yield* TestClock.adjust(1_000)
      assert.deepInclude(yield* cache.read("dev", account, "native", { maxAgeMillis: 1_000 }), { amount: first.amount, checkedAt: 5_000, ageMillis: 1_000, fromChain: false })
      assert.deepInclude(yield* cache.read("dev", account, "native"), { ageMillis: 1_000, fromChain: false })
      const [listed] = (yield* cache.list({ chain: "dev", account })).balances
      assert.deepInclude(listed, { checkedAt: 5_000, ageMillis: 1_000 })
      yield* TestClock.adjust(1)
      assert.deepInclude(yield* cache.read("dev", account, "native", { maxAgeMillis: 1_000 }), { amount: 21n * ether, checkedAt: 6_001, ageMillis: 0, fromChain: true })
      assert.deepInclude(yield* lastChange(account), { cause: "max-age", before: first.amount, after: 21n * ether, drift: true, at: 6_001 })
    })), 60_000)

  it.effect("every asset of an account: a listing exactly maxAgeMillis old is answered from the cache; older, made stale or verified, it is listed again with that cause", () =>
    onTestClock(Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      const act = node(chain.url)
      const cache = yield* BalanceCache.BalanceCache
      const account = address(11)
      yield* act.setBalance(account, 1n * ether)
      assert.deepStrictEqual((yield* cache.readAll("dev", account)).map((balance) => [balance.amount, balance.fromChain]), [[1n * ether, true]])
      assert.deepInclude(yield* lastChange(account), { cause: "fill", before: null, after: 1n * ether })

      yield* act.setBalance(account, 2n * ether)
      yield* TestClock.adjust(500)
      const young = yield* cache.readAll("dev", account, { maxAgeMillis: 500 })
      assert.deepStrictEqual(young.map((balance) => [balance.amount, balance.ageMillis, balance.fromChain]), [[1n * ether, 500, false]])
      yield* TestClock.adjust(1)
      assert.deepStrictEqual((yield* cache.readAll("dev", account, { maxAgeMillis: 500 })).map((balance) => [balance.amount, balance.fromChain]), [[2n * ether, true]])
      assert.deepInclude(yield* lastChange(account), { cause: "max-age", before: 1n * ether, after: 2n * ether, drift: true })
      // answered from the cache again: the listing was renewed
      assert.isFalse((yield* cache.readAll("dev", account, { maxAgeMillis: 500 }))[0]!.fromChain)

      // a confirmed transaction of the account makes its listing stale: the next listing reads the chain, as a refresh
      yield* cache.addPending({ chain: "dev", transaction: "0x01", account, asset: "native", direction: "in", amount: 1n })
      yield* cache.settlePending("dev", "0x01", "confirmed")
      yield* act.setBalance(account, 3n * ether)
      assert.deepStrictEqual((yield* cache.readAll("dev", account)).map((balance) => [balance.amount, balance.fromChain]), [[3n * ether, true]])
      assert.deepInclude(yield* lastChange(account), { cause: "refresh", before: 2n * ether, after: 3n * ether, drift: false })
      assert.isFalse((yield* cache.readAll("dev", account))[0]!.fromChain)

      yield* act.setBalance(account, 4n * ether)
      assert.deepStrictEqual((yield* cache.readAll("dev", account, { verify: true })).map((balance) => [balance.amount, balance.fromChain]), [[4n * ether, true]])
      assert.deepInclude(yield* lastChange(account), { cause: "verify", before: 3n * ether, after: 4n * ether, drift: true })
    })), 60_000)

  it.effect("refreshStale settles pending transfers: a reverted transaction's at once, an included one when it is a block deep, one never sent stays", () =>
    onTestClock(Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      const act = node(chain.url)
      const cache = yield* BalanceCache.BalanceCache
      const seeded = yield* DevSeed.seed({ rounds: 1, participants: 2, maxGap: 0 })
      const [sender, recipient] = [address(12), address(13)]
      yield* cache.read("dev", sender, "native")
      const recipientBefore = (yield* cache.read("dev", recipient, "native")).amount
      const neverSent = keccak256(toHex("never sent"))
      yield* cache.addPending({ chain: "dev", transaction: neverSent, account: recipient, asset: "native", direction: "in", amount: 3n })

      // a reverted transaction: its pending amount goes, and its sender's balance is not made stale
      yield* act.sendReverting(12, seeded.token, (hash) =>
        cache.addPending({ chain: "dev", transaction: hash, account: sender, asset: "native", direction: "out", amount: 1n }))
      assert.strictEqual((yield* cache.read("dev", sender, "native")).pendingOut, 1n)
      assert.deepStrictEqual(yield* cache.refreshStale, { checked: 0, changed: 0, drifted: 0 })
      assert.deepInclude(yield* cache.read("dev", sender, "native"), { pendingOut: 0n, stale: false })

      // an included transfer: pending until a block is mined on top of it, then confirmed, and the balance refreshed in the same pass
      const raw = yield* act.sign(14, recipient, 5n)
      yield* cache.addPending({ chain: "dev", transaction: keccak256(raw), account: recipient, asset: "native", direction: "in", amount: 5n })
      yield* act.sendRaw(raw)
      assert.deepStrictEqual(yield* cache.refreshStale, { checked: 0, changed: 0, drifted: 0 })
      assert.strictEqual((yield* cache.read("dev", recipient, "native")).pendingIn, 8n)
      yield* act.mine(1)
      yield* TestClock.adjust(2) // past the chain client's head cache (1 ms), which reads the TestClock too
      assert.deepStrictEqual(yield* cache.refreshStale, { checked: 1, changed: 1, drifted: 0 })
      assert.deepInclude(yield* cache.read("dev", recipient, "native"), { amount: recipientBefore + 5n, pendingIn: 3n, stale: false })
      assert.deepInclude(yield* lastChange(recipient), { cause: "refresh", before: recipientBefore, after: recipientBefore + 5n, drift: false })
    })), 60_000)
})
