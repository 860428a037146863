/**
 * What `BalanceCache.read` writes to the audit (a real Hardhat node, a SQLite
 * file): the first read of a balance records it as a `fill` (nothing before),
 * a verified read that finds another amount records a `verify` change, as
 * drift (the cached amount was not known to be stale), and so does a
 * reconciling pass, as `reconcile`.
 */
import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import * as BalanceCache from "../src/BalanceCache.ts"
import { DevChain, node, numbered, sharedRuntime } from "./fixtures.ts"

const ether = 10n ** 18n

layer(sharedRuntime(), { excludeTestServices: true, timeout: 120_000 })("BalanceCache read audit", (it) => {
  it.effect("a read's fill, a verified read's change and a reconciling pass's are audited with their causes", () =>
    Effect.gen(function*() {
      const act = node((yield* DevChain.DevChain).url)
      const cache = yield* BalanceCache.BalanceCache
      const account = numbered(0x7101)
      yield* act.setBalance(account, 1n * ether)
      yield* cache.read("dev", account, "native")
      const [filled] = yield* cache.audit(1)
      assert.deepInclude(filled, { account, asset: "native", cause: "fill", before: null, after: 1n * ether, drift: false })

      yield* act.setBalance(account, 2n * ether)
      yield* cache.read("dev", account, "native", { verify: true })
      const [verified] = yield* cache.audit(1)
      assert.deepInclude(verified, { account, asset: "native", cause: "verify", before: 1n * ether, after: 2n * ether, drift: true })

      // a reconciling pass reads every cached balance: a change it finds is audited as such
      yield* act.setBalance(account, 3n * ether)
      yield* cache.reconcile
      const [reconciled] = yield* cache.audit(1)
      assert.deepInclude(reconciled, { account, asset: "native", cause: "reconcile", before: 2n * ether, after: 3n * ether, drift: true })
    }), 60_000)
})
