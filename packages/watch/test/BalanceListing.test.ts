/**
 * The cache's listings: `list` a page at a time (every entry once, in key
 * order, though balances are written between pages; hostile cursors and bad
 * filters refused with `Invalid`), and `readAll` over several tokens (native
 * first, then by asset; one asset whose contract is gone fails the read
 * with a typed error and changes nothing).
 */
import { DevSeed } from "@chainjobs/devchain"
import { assert, layer } from "@effect/vitest"
import { Effect, Exit, Schema } from "effect"
import * as BalanceCache from "../src/BalanceCache.ts"
import type { WatchError } from "../src/WatchError.ts"
import { address, DevChain, node, numbered, reasonOf as refusal, sharedRuntime } from "./fixtures.ts"

const ether = 10n ** 18n

/** Every page of a query, following `next`; `between` runs after each page (writes racing the paging). */
const allPages = (query: BalanceCache.ListQuery, between: (page: number) => Effect.Effect<void, WatchError, BalanceCache.BalanceCache> = () => Effect.void) =>
  Effect.gen(function*() {
    const cache = yield* BalanceCache.BalanceCache
    const pages: Array<ReadonlyArray<BalanceCache.Balance>> = []
    let cursor: string | undefined = undefined
    do {
      const page: BalanceCache.BalancePage = yield* cache.list({ ...query, cursor })
      pages.push(page.balances)
      assert.isBelow(pages.length, 1000, "the pages never end: a cursor repeats a page")
      yield* between(pages.length)
      cursor = page.next
    } while (cursor !== undefined)
    return pages
  })

const key = (balance: BalanceCache.Balance) => `${balance.chain} ${balance.account} ${balance.asset}`

layer(sharedRuntime(), { excludeTestServices: true, timeout: 120_000 })("BalanceCache listings", (it) => {
  it.effect("pages hold every cached balance once, in (chain, account, asset) order, though balances are added and changed between pages", () =>
    Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      const cache = yield* BalanceCache.BalanceCache
      const accounts = Array.from({ length: 11 }, (_, index) => numbered(0x1000 + index * 2))
      // filled in a shuffled order: the pages' order is the table's key order, not the order of writing
      for (const account of [...accounts].reverse()) yield* cache.read("dev", account, "native")
      const before = new Set(accounts.map((account) => `dev ${account} native`))

      // between pages: a balance added before the current position, one after it, and a cached amount changed
      const act = node(chain.url)
      const pages = yield* allPages({ chain: "dev", limit: 3 }, (page) =>
        Effect.gen(function*() {
          yield* cache.read("dev", numbered(0x1000 + page * 2 + 1), "native")
          yield* cache.read("dev", numbered(0x0fff - page), "native")
          const changed = accounts[page % accounts.length]!
          yield* act.setBalance(changed, BigInt(page) * ether)
          yield* cache.read("dev", changed, "native", { verify: true })
        }))
      const listed = pages.flat().map(key)
      assert.deepStrictEqual(listed, [...listed].sort(), "pages out of key order")
      assert.strictEqual(new Set(listed).size, listed.length, `an entry listed twice: ${listed.join(", ")}`)
      for (const entry of before) assert.include(listed, entry, "an entry cached before the paging began was skipped")
      assert.isTrue(pages.slice(0, -1).every((page) => page.length === 3), "a page short of its limit before the last")
      assert.isTrue(pages.flat().every((balance) => balance.fromChain === false))
    }), 60_000)

  it.effect("a page ends with `next` exactly when more balances follow; filters by account and staleness; pending amounts beside each", () =>
    Effect.gen(function*() {
      const cache = yield* BalanceCache.BalanceCache
      const [alice, bob] = [numbered(0x2001), numbered(0x2002)]
      yield* cache.read("dev", alice, "native")
      yield* cache.read("dev", bob, "native")
      const own = yield* cache.list({ chain: "dev", account: bob.toUpperCase().replace("0X", "0x") })
      assert.deepStrictEqual(own.balances.map(key), [`dev ${bob} native`])
      assert.isUndefined(own.next)

      const exactly = yield* cache.list({ chain: "dev", account: bob, limit: 1 })
      assert.strictEqual(exactly.balances.length, 1)
      assert.isUndefined(exactly.next, "a `next` after the last balance")

      yield* cache.addPending({ chain: "dev", transaction: "0xaa", account: bob, asset: "native", direction: "in", amount: 5n })
      yield* cache.addPending({ chain: "dev", transaction: "0xab", account: bob, asset: "native", direction: "in", amount: 2n })
      yield* cache.addPending({ chain: "dev", transaction: "0xab", account: bob, asset: "native", direction: "out", amount: 3n })
      yield* cache.addPending({ chain: "dev", transaction: "0xac", account: alice, asset: "native", direction: "out", amount: 11n })
      const [withPending] = (yield* cache.list({ chain: "dev", account: bob })).balances
      assert.deepInclude(withPending, { pendingIn: 7n, pendingOut: 3n, stale: false })

      // a confirmed transaction makes its accounts stale: the stale filter finds bob's, the fresh one alice's
      yield* cache.settlePending("dev", "0xab", "confirmed")
      const stale = (yield* cache.list({ chain: "dev", stale: true })).balances.map(key)
      assert.include(stale, `dev ${bob} native`)
      assert.notInclude(stale, `dev ${alice} native`)
      const fresh = (yield* cache.list({ chain: "dev", stale: false })).balances.map(key)
      assert.include(fresh, `dev ${alice} native`)
      assert.notInclude(fresh, `dev ${bob} native`)
      // a page of several accounts: each balance with its own pending amounts only
      const everyone = (yield* cache.list({ chain: "dev", limit: 1000 })).balances
      assert.deepInclude(everyone.find((balance) => balance.account === alice), { pendingIn: 0n, pendingOut: 11n })
      assert.deepInclude(everyone.find((balance) => balance.account === bob), { pendingIn: 5n, pendingOut: 0n })
      const [bobNow] = (yield* cache.list({ chain: "dev", account: bob })).balances
      assert.deepInclude(bobNow, { pendingIn: 5n, pendingOut: 0n, stale: true })
      assert.isAtLeast(bobNow!.ageMillis, 0)

      // a first page of two then the rest: the second page starts after the first's last key
      const first = yield* cache.list({ chain: "dev", limit: 2 })
      assert.isDefined(first.next)
      const second = yield* cache.list({ chain: "dev", limit: 2, cursor: first.next })
      assert.isTrue(key(second.balances[0]!) > key(first.balances[1]!))
      // no filter at all lists every chain's balances
      assert.isAtLeast((yield* cache.list()).balances.length, 3)
    }), 60_000)

  it.effect("bad limits, an account without its chain, a bad account and an unknown chain are refused", () =>
    Effect.gen(function*() {
      const cache = yield* BalanceCache.BalanceCache
      for (const limit of [0, -1, 1001, 1.5, Number.NaN]) {
        const [reason, message] = refusal(yield* Effect.exit(cache.list({ limit })))
        assert.strictEqual(reason, "Invalid", `limit ${limit}`)
        assert.include(message, "limit must be an integer from 1 to 1000")
      }
      assert.strictEqual((yield* cache.list({ limit: 1000 })).balances.length <= 1000, true)
      assert.strictEqual((yield* cache.list({ chain: "dev", limit: 1 })).balances.length <= 1, true)
      assert.deepStrictEqual(refusal(yield* Effect.exit(cache.list({ account: address(1) }))), [
        "Invalid",
        `watcher "balances": an account filter needs the chain`
      ])
      const [reason, message] = refusal(yield* Effect.exit(cache.list({ chain: "dev", account: "0x12" })))
      assert.strictEqual(reason, "Invalid")
      assert.include(message, "is not an EVM address")
      assert.deepStrictEqual(refusal(yield* Effect.exit(cache.list({ chain: "nowhere" }))), ["Invalid", `watcher "balances": unknown chain "nowhere"`])
    }), 60_000)

  it.effect.prop(
    "a cursor that is not one of the list's is refused with Invalid naming it",
    { text: Schema.String },
    ({ text }) =>
      Effect.gen(function*() {
        const cache = yield* BalanceCache.BalanceCache
        const encoded = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url")
        const hostile = [
          text,
          encoded(text),
          encoded([text, text]),
          encoded([text, text, text, text]),
          encoded([text, 1, text]),
          encoded({ 0: text, 1: text, 2: text, length: 3 }),
          encoded(null)
        ]
        for (const cursor of hostile) {
          const exit = yield* Effect.exit(cache.list({ cursor }))
          // a generated string may happen to decode to a key: it is then a cursor, and lists what follows it
          if (Exit.isSuccess(exit)) {
            assert.strictEqual(cursor, text)
            continue
          }
          const [reason, message] = refusal(exit)
          assert.strictEqual(reason, "Invalid")
          assert.include(message, `"${cursor}" is not a cursor of this list`)
        }
        return true
      }),
    60_000
  )

  it.effect("a crafted cursor is a key like any other: it lists the balances after it, and nothing else", () =>
    Effect.gen(function*() {
      const cache = yield* BalanceCache.BalanceCache
      yield* cache.read("dev", numbered(0x3001), "native")
      yield* cache.read("dev", numbered(0x3003), "native")
      const crafted = (parts: readonly [string, string, string]) => Buffer.from(JSON.stringify(parts)).toString("base64url")
      const after = yield* cache.list({ chain: "dev", cursor: crafted(["dev", numbered(0x3001), "native' OR '1'='1"]) })
      assert.strictEqual(key(after.balances[0]!), `dev ${numbered(0x3003)} native`)
      assert.isTrue(after.balances.every((balance) => key(balance) > `dev ${numbered(0x3001)} native`))
      // the chain part alone decides: a cursor past every chain's name lists nothing
      assert.deepStrictEqual((yield* cache.list({ cursor: crafted(["\uffff", "", ""]) })).balances, [])
      // within the same chain and account, by asset
      const sameAccount = yield* cache.list({ chain: "dev", account: numbered(0x3003), cursor: crafted(["dev", numbered(0x3003), "a"]) })
      assert.deepStrictEqual(sameAccount.balances.map(key), [`dev ${numbered(0x3003)} native`])
      const pastIt = yield* cache.list({ chain: "dev", account: numbered(0x3003), cursor: crafted(["dev", numbered(0x3003), "native"]) })
      assert.deepStrictEqual(pastIt.balances, [])
    }), 60_000)

  it.effect("every asset of an account: native first, then by token address; a token whose contract is gone fails the read and changes nothing", () =>
    Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      const act = node(chain.url)
      const cache = yield* BalanceCache.BalanceCache
      const first = yield* DevSeed.seed({ rounds: 2, participants: 2, maxGap: 0 })
      const second = yield* DevSeed.seed({ rounds: 2, participants: 2, maxGap: 0 })
      const tokens = [first.token.toLowerCase(), second.token.toLowerCase()]
      const holder = address(0) // the tokens' deployer
      // the tokens cached in the order that is not theirs
      for (const token of [...tokens].sort().reverse()) yield* cache.read("dev", holder, token)
      const listed = yield* cache.readAll("dev", holder)
      assert.deepStrictEqual(listed.map((balance) => balance.asset), ["native", ...[...tokens].sort()])
      assert.isTrue(listed.every((balance) => balance.fromChain))
      assert.isTrue(listed.slice(1).every((balance) => balance.amount > 0n), "the deployer holds some of both tokens")
      const cached = yield* cache.readAll("dev", holder)
      assert.deepStrictEqual(cached.map((balance) => [balance.asset, balance.amount, balance.fromChain]), listed.map((balance) => [balance.asset, balance.amount, false]))

      // one token's contract removed: a verified listing fails with a typed error naming the asset
      const auditBefore = yield* cache.audit(1000)
      yield* act.setCode(second.token, "0x")
      yield* act.setBalance(holder, 77n * ether)
      const [reason, message] = refusal(yield* Effect.exit(cache.readAll("dev", holder, { verify: true })))
      assert.strictEqual(reason, "Invalid")
      assert.include(message, second.token.toLowerCase())
      // nothing was stored: not the native amount read beside it, not the listing, not an audit row
      assert.deepStrictEqual(yield* cache.audit(1000), auditBefore)
      const still = yield* cache.readAll("dev", holder)
      assert.deepStrictEqual(still.map((balance) => [balance.asset, balance.amount, balance.fromChain]), listed.map((balance) => [balance.asset, balance.amount, false]))
      // a read of that asset alone is refused the same way, and a token-less address is no asset
      assert.strictEqual(refusal(yield* Effect.exit(cache.read("dev", holder, second.token, { verify: true })))[0], "Invalid")
      assert.strictEqual(refusal(yield* Effect.exit(cache.read("dev", holder, numbered(0x4001))))[0], "Invalid")
      assert.deepStrictEqual((yield* cache.list({ chain: "dev", account: holder })).balances.map((balance) => balance.asset).sort(), ["native", ...tokens].sort())
    }), 60_000)
  it.effect("a cursor whose text is not JSON is refused with Invalid naming it, not read as no cursor", () =>
    Effect.gen(function*() {
      const cache = yield* BalanceCache.BalanceCache
      for (const cursor of ["not-a-cursor", Buffer.from("{").toString("base64url")]) {
        const [reason, message] = refusal(yield* Effect.exit(cache.list({ cursor })))
        assert.strictEqual(reason, "Invalid", cursor)
        assert.include(message, `"${cursor}" is not a cursor of this list`)
      }
    }), 60_000)
})
