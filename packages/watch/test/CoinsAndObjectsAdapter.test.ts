/**
 * The balance cache and the watchers over an adapter of Sui's shape — one
 * whose assets are coin types spelled apart from accounts
 * (`normalizeAsset`), that lists an account's holdings in one read
 * (`balances`), and that has objects to watch (`normalizeObject`) — here the
 * dev chain's EVM adapter with those three added, so that watch's own tests
 * run the paths only such a family takes (sui's tests run them on Sui's
 * adapter): a coin type is answered in its canonical spelling or refused
 * with the adapter's reason, a listing comes native first then by coin type,
 * and a watcher's object ids are spelled and deduplicated by the adapter or
 * refused with its reason, nothing written; a watcher of objects may drop
 * every account.
 */
import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import * as BalanceCache from "../src/BalanceCache.ts"
import { type ChainAdapter, ChainAdapters } from "../src/ChainAdapter.ts"
import * as Watchers from "../src/Watchers.ts"
import { numbered, reasonOf, Record, sharedRuntime } from "./fixtures.ts"

/** Coin types `coin::<name>` in any case, canonical in upper case, each account holding the fixed amounts below. */
const coinType = /^coin::[a-z]+$/i

const held: ReadonlyArray<readonly [string, bigint]> = [["COIN::BETA", 2n], ["COIN::ALPHA", 1n], ["COIN::GAMMA", 3n]]

/** The dev chain's adapter with Sui's coin types, one-read listing and objects added. */
const coinsAndObjects = (inner: ChainAdapter): ChainAdapter => ({
  ...inner,
  family: "coins",
  normalizeAsset: (asset) =>
    coinType.test(asset) ? { ok: true, asset: asset.toUpperCase() } : { ok: false, detail: `"${asset}" is not a coin type` },
  balance: (account, asset) =>
    asset === "native" ? inner.balance(account, asset) : Effect.succeed(new Map(held).get(asset) ?? 0n),
  // out of order on purpose: the cache answers native first, then by coin type
  balances: (account) =>
    Effect.map(inner.balance(account, "native"), (native) => [
      ...held.map(([asset, amount]) => ({ asset, amount })),
      { asset: "native", amount: native }
    ]),
  normalizeObject: (object) =>
    /^0x[0-9a-f]+$/i.test(object) ? { ok: true, object: object.toLowerCase() } : { ok: false, detail: `"${object}" is not an object id` }
})

/** The current runtime's tables and supervisor, its chain `dev` served by the adapter above. */
const withCoins = <A, E, R>(make: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const inner = yield* (yield* ChainAdapters).adapter("dev")
    const adapter = coinsAndObjects(inner)
    return yield* make.pipe(Effect.provideService(ChainAdapters, ChainAdapters.of({ adapter: () => Effect.succeed(adapter) })))
  })

layer(sharedRuntime(), { excludeTestServices: true, timeout: 120_000 })("an adapter with coin types and objects", (it) => {
  it.effect("a coin type is read in the adapter's spelling, or refused with its reason", () =>
    Effect.gen(function*() {
      const cache = yield* withCoins(BalanceCache.make())
      const account = numbered(0x6001)
      const read = yield* cache.read("dev", account, "coin::Beta")
      assert.deepInclude(read, { account, asset: "COIN::BETA", amount: 2n, fromChain: true })
      assert.deepStrictEqual(reasonOf(yield* Effect.exit(cache.read("dev", account, "coin::"))), [
        "Invalid",
        `watcher "balances": asset: "coin::" is not a coin type`
      ])
    }), 60_000)

  it.effect("an account's listing is read in one call and answered native first, then by coin type", () =>
    Effect.gen(function*() {
      const cache = yield* withCoins(BalanceCache.make())
      const account = numbered(0x6002)
      const listed = yield* cache.readAll("dev", account)
      assert.deepStrictEqual(
        listed.map(({ amount, asset }) => ({ amount, asset })),
        [
          { asset: "native", amount: 0n },
          { asset: "COIN::ALPHA", amount: 1n },
          { asset: "COIN::BETA", amount: 2n },
          { asset: "COIN::GAMMA", amount: 3n }
        ]
      )
    }), 60_000)

  it.effect("a watcher's objects are spelled and deduplicated by the adapter, or refused with its reason", () =>
    Effect.gen(function*() {
      const watchers = yield* withCoins(Watchers.make())
      const spec = { chain: "dev", processor: Record.name, paused: true, confirmations: 1 }
      const added = yield* watchers.add({ ...spec, name: "objects", objects: ["0xAB", "0xab", "0xcd"] })
      assert.deepStrictEqual(added.objects, ["0xab", "0xcd"])
      const before = yield* watchers.list
      assert.deepStrictEqual(reasonOf(yield* Effect.exit(watchers.add({ ...spec, name: "bad-objects", objects: ["0xab", "zz"] }))), [
        "Invalid",
        `watcher "bad-objects": "zz" is not an object id`
      ])
      assert.deepStrictEqual(yield* watchers.list, before)
    }), 60_000)

  it.effect("a watcher of objects may drop every account: its set is empty from the block after its cursor", () =>
    Effect.gen(function*() {
      const watchers = yield* withCoins(Watchers.make())
      const spec = { chain: "dev", processor: Record.name, paused: true, confirmations: 1 }
      const added = yield* watchers.add({ ...spec, name: "objects-only", accounts: [numbered(0x6003)], objects: ["0xef"] })
      const from = yield* watchers.setAccounts("objects-only", [])
      assert.strictEqual(from, added.confirmedBlock + 1)
      // the set added with the watcher started at that block too: replaced
      assert.deepStrictEqual((yield* watchers.get("objects-only")).accountSets, [{ fromBlock: from, accounts: [] }])
    }), 60_000)
})
