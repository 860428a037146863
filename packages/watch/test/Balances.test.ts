import { assert, describe, layer, type Vitest } from "@effect/vitest"
import { Effect, Exit, type Layer, Schema } from "effect"
import { isAddress, keccak256 } from "viem"
import * as BalanceCache from "../src/BalanceCache.ts"
import * as BalanceUpkeep from "../src/BalanceUpkeep.ts"
import * as Watchers from "../src/Watchers.ts"
import { Tasks } from "@chainjobs/tasks"
import { address, DevChain, node, pgTestUrl, pgWatchTables, Record, sharedRuntime } from "./fixtures.ts"

const ether = 10n ** 18n

/** The cache's tests, on the watch tables a runtime was built with. */
const balanceTests = (it: Vitest.MethodsNonLive<Layer.Success<ReturnType<typeof sharedRuntime>>>) => {
  it.effect("a drift injected behind the cache is found by a verified read, and a max-age read goes to the chain", () =>
    Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      const cache = yield* BalanceCache.BalanceCache
      const account = address(16)
      const first = yield* cache.read("dev", account, "native")
      assert.isTrue(first.fromChain)
      yield* node(chain.url).setBalance(account, 42n * ether)
      const cached = yield* cache.read("dev", account, "native")
      assert.isFalse(cached.fromChain)
      assert.strictEqual(cached.amount, first.amount)
      const verified = yield* cache.read("dev", account, "native", { verify: true })
      assert.isTrue(verified.fromChain)
      assert.strictEqual(verified.amount, 42n * ether)
      const [entry] = (yield* cache.audit(10)).filter((audit) => audit.account === account)
      assert.deepInclude(entry, { cause: "verify", before: first.amount, after: 42n * ether, drift: true })
      assert.strictEqual((yield* cache.read("dev", account, "native")).amount, 42n * ether)
      yield* node(chain.url).setBalance(account, 43n * ether)
      yield* Effect.sleep("5 millis")
      assert.strictEqual((yield* cache.read("dev", account, "native", { maxAgeMillis: 1 })).amount, 43n * ether)
    }), 60_000)

  it.effect("a max-age read of an amount younger than its max age answers from the cache, though the chain moved; a read finding the same amount records no change", () =>
    Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      const cache = yield* BalanceCache.BalanceCache
      const account = address(14)
      const first = yield* cache.read("dev", account, "native")
      // a verified read that finds the same amount records no change
      assert.isTrue((yield* cache.read("dev", account, "native", { verify: true })).fromChain)
      const changes = (yield* cache.audit(50)).filter((audit) => audit.account === account)
      assert.deepStrictEqual(changes.map((audit) => [audit.cause, audit.before, audit.after]), [["fill", null, first.amount]])
      yield* node(chain.url).setBalance(account, 5n * ether)
      const young = yield* cache.read("dev", account, "native", { maxAgeMillis: 3_600_000 })
      assert.isFalse(young.fromChain)
      assert.strictEqual(young.amount, first.amount)
      assert.isAtMost(young.ageMillis, 3_600_000)
      assert.strictEqual((yield* cache.read("dev", account, "native", { verify: true })).amount, 5n * ether)
    }), 60_000)

  it.effect("every asset of an EVM account: the native asset and the assets cached for it, listed once, then cached until verified", () =>
    Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      const cache = yield* BalanceCache.BalanceCache
      const account = address(15)
      yield* node(chain.url).setBalance(account, 3n * ether)
      const listed = yield* cache.readAll("dev", account.toUpperCase().replace("0X", "0x"))
      assert.deepStrictEqual(listed.map((b) => [b.account, b.asset, b.amount, b.fromChain]), [[account, "native", 3n * ether, true]])
      yield* node(chain.url).setBalance(account, 4n * ether)
      assert.deepStrictEqual((yield* cache.readAll("dev", account)).map((b) => [b.amount, b.fromChain]), [[3n * ether, false]])
      assert.deepStrictEqual((yield* cache.readAll("dev", account, { verify: true })).map((b) => [b.amount, b.fromChain]), [[4n * ether, true]])
      const [entry] = (yield* cache.audit(10)).filter((audit) => audit.account === account)
      assert.deepInclude(entry, { cause: "verify", before: 3n * ether, after: 4n * ether, drift: true })
      assert.isTrue(Exit.isFailure(yield* Effect.exit(cache.readAll("dev", "0x123"))))
    }), 60_000)

  it.effect("a drift injected behind the cache is found by the reconcile task and recorded", () =>
    Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      const cache = yield* BalanceCache.BalanceCache
      const tasks = yield* Tasks.Tasks
      const account = address(17)
      const before = (yield* cache.read("dev", account, "native")).amount
      yield* node(chain.url).setBalance(account, 7n * ether)
      const result = yield* tasks.run(BalanceUpkeep.ReconcileAll, {})
      assert.isTrue(result.drifted >= 1)
      // every cached balance is checked; a drifted one changed
      assert.isAtLeast(result.changed, result.drifted)
      assert.isAtLeast(result.checked, result.changed)
      assert.strictEqual((yield* cache.read("dev", account, "native")).amount, 7n * ether)
      const [entry] = (yield* cache.audit(50)).filter((audit) => audit.account === account)
      assert.deepInclude(entry, { cause: "reconcile", before, after: 7n * ether, drift: true })
    }), 60_000)

  it.effect("pending amounts appear at broadcast and clear when the watcher records the transaction at confirmation depth; the balances then refresh as stale", () =>
    Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      const act = node(chain.url)
      const cache = yield* BalanceCache.BalanceCache
      const watchers = yield* Watchers.Watchers
      const tasks = yield* Tasks.Tasks
      const [sender, recipient] = [address(18), address(19)]
      yield* watchers.add({ name: "wallets", chain: "dev", processor: Record.name, accounts: [sender, recipient], confirmations: 2, paused: true })
      const senderBefore = (yield* cache.read("dev", sender, "native")).amount
      const recipientBefore = (yield* cache.read("dev", recipient, "native")).amount
      const raw = yield* act.sign(18, recipient, 5n * ether)
      const transaction = keccak256(raw)
      yield* cache.addPending({ chain: "dev", transaction, account: sender, asset: "native", direction: "out", amount: 5n * ether })
      yield* cache.addPending({ chain: "dev", transaction, account: recipient, asset: "native", direction: "in", amount: 5n * ether })
      assert.strictEqual((yield* cache.read("dev", sender, "native")).pendingOut, 5n * ether)
      yield* act.sendRaw(raw)
      // mined but not at confirmation depth: still pending
      yield* watchers.poll("wallets")
      assert.strictEqual((yield* cache.read("dev", recipient, "native")).pendingIn, 5n * ether)
      yield* act.mine(2)
      yield* watchers.poll("wallets")
      const sent = yield* cache.read("dev", sender, "native")
      const received = yield* cache.read("dev", recipient, "native")
      assert.deepStrictEqual([sent.pendingOut, received.pendingIn], [0n, 0n])
      assert.deepStrictEqual([sent.stale, received.stale, sent.amount], [true, true, senderBefore])
      const refreshed = yield* tasks.run(BalanceUpkeep.RefreshStale, {})
      assert.deepInclude(refreshed, { changed: 2, drifted: 0 })
      assert.strictEqual((yield* cache.read("dev", recipient, "native")).amount, recipientBefore + 5n * ether)
      assert.isFalse((yield* cache.read("dev", sender, "native")).stale)
    }), 60_000)

  it.effect.prop(
    "a read or pending amount with a bad account, asset or amount is refused with Invalid and changes nothing",
    { account: Schema.String, amount: Schema.BigInt },
    ({ account, amount }) =>
      Effect.gen(function*() {
        if (isAddress(account, { strict: false })) return true
        const cache = yield* BalanceCache.BalanceCache
        yield* cache.read("dev", address(1), "native")
        const auditBefore = (yield* cache.audit(1000)).length
        const exits = [
          yield* Effect.exit(Effect.asVoid(cache.read("dev", account, "native"))),
          yield* Effect.exit(Effect.asVoid(cache.read("dev", address(1), account))),
          yield* Effect.exit(cache.addPending({ chain: "dev", transaction: "0x01", account, asset: "native", direction: "in", amount: 1n })),
          yield* Effect.exit(cache.addPending({ chain: "dev", transaction: "0x02", account: address(1), asset: "native", direction: "out", amount: amount > 0n ? -amount : amount }))
        ]
        for (const exit of exits) {
          assert.isTrue(Exit.isFailure(exit))
          const error = Exit.findErrorOption(exit)
          assert.strictEqual(error._tag === "Some" && error.value.reason._tag, "Invalid")
        }
        assert.strictEqual((yield* cache.read("dev", address(1), "native")).pendingOut, 0n)
        assert.strictEqual((yield* cache.audit(1000)).length, auditBefore)
        return true
      }),
    60_000
  )
}

layer(sharedRuntime(), { excludeTestServices: true, timeout: 120_000 })("BalanceCache", balanceTests)

if (pgTestUrl === undefined) {
  describe.skip("BalanceCache with its tables on PostgreSQL (CHAINJOBS_TEST_PG_URL is not set)", () => {})
} else {
  layer(sharedRuntime({ watchTables: pgWatchTables }), { excludeTestServices: true, timeout: 120_000 })(
    "BalanceCache with its tables on PostgreSQL",
    balanceTests
  )
}
