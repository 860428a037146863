/**
 * `WatchApi`'s answers to hostile and mistaken requests on a real socket:
 * unknown watchers are 404 on every route, refused definitions and bad
 * values 400 (nothing written), an unknown chain too (bad input, not a chain
 * failure: a 503 would be tried again); the cached balances
 * listed a page at a time over HTTP, every one once.
 */
import { assert, layer } from "@effect/vitest"
import { Effect, Schema } from "effect"
import * as BalanceAge from "../src/BalanceAge.ts"
import * as BalanceCache from "../src/BalanceCache.ts"
import * as Watchers from "../src/Watchers.ts"
import { address, numbered, Record } from "./fixtures.ts"
import { call, served } from "./httpFixtures.ts"

layer(served, { excludeTestServices: true, timeout: 120_000 })("WatchApi edges", (it) => {
  it.effect("every route of a watcher that does not exist answers 404 WatcherNotFound naming it", () =>
    Effect.gen(function*() {
      const routes: ReadonlyArray<readonly [string, string, unknown?]> = [
        ["GET", "/api/watch/watchers/ghost"],
        ["GET", "/api/watch/watchers/ghost/lag"],
        ["GET", "/api/watch/watchers/ghost/items"],
        ["POST", "/api/watch/watchers/ghost/pause"],
        ["POST", "/api/watch/watchers/ghost/resume"],
        ["PUT", "/api/watch/watchers/ghost/accounts", { accounts: [address(1)] }],
        ["DELETE", "/api/watch/watchers/ghost"]
      ]
      for (const [method, path, body] of routes) {
        const answer = yield* call(method, path, body)
        assert.deepStrictEqual([answer.status, answer.body?._tag, answer.body?.watcher], [404, "WatcherNotFound", "ghost"], `${method} ${path}`)
        assert.strictEqual(answer.body.message, `no watcher named "ghost"`)
      }
    }), 60_000)

  it.effect("refused definitions and values of the wrong type are 400 and write nothing; a duplicate name is refused", () =>
    Effect.gen(function*() {
      const spec = { name: "edge", chain: "dev", processor: Record.name, accounts: [address(2)], confirmations: 1, startBlock: 10, paused: true }
      const refused: ReadonlyArray<unknown> = [
        { ...spec, name: "x".repeat(101) },
        { ...spec, name: "spaces are not allowed" },
        // a URL resolves these path segments away: such a watcher could be added but never named again
        { ...spec, name: "." },
        { ...spec, name: ".." },
        { ...spec, confirmations: -1 },
        { ...spec, confirmations: "1" },
        { ...spec, accounts: "0x12" },
        { ...spec, accounts: [address(2), "0xnot"] },
        { ...spec, chain: "nowhere" },
        { ...spec, processor: "" },
        { ...spec, accounts: [] },
        { ...spec, startBlock: -5 },
        { ...spec, contracts: [{ address: address(3), events: [] }] },
        { name: "edge" }
      ]
      for (const body of refused) {
        const answer = yield* call("POST", "/api/watch/watchers", body)
        assert.strictEqual(answer.status, 400, JSON.stringify(body).slice(0, 200))
      }
      assert.strictEqual((yield* call("POST", "/api/watch/watchers", "{not json")).status, 400)
      assert.deepStrictEqual((yield* call("GET", "/api/watch/watchers")).body, [])

      const added = yield* call("POST", "/api/watch/watchers", spec)
      assert.deepStrictEqual([added.status, added.body.status, added.body.confirmations], [201, "paused", 1])
      const again = yield* call("POST", "/api/watch/watchers", { ...spec, accounts: [address(4)] })
      assert.deepStrictEqual([again.status, again.body._tag], [400, "InvalidWatchRequest"])
      assert.include(again.body.message, "a watcher of this name exists")
      const accounts = (yield* call("GET", "/api/watch/watchers/edge")).body.accountSets
      assert.deepStrictEqual(accounts.map((set: { accounts: Array<string> }) => set.accounts), [[address(2)]])
      // bad account changes: not addresses, no account at all, a block already recorded, a block of the wrong type
      for (const body of [{ accounts: ["0x12"] }, { accounts: [] }, { accounts: [address(5)], fromBlock: 9 }, { accounts: [address(5)], fromBlock: "9" }]) {
        assert.strictEqual((yield* call("PUT", "/api/watch/watchers/edge/accounts", body)).status, 400, JSON.stringify(body))
      }
      assert.strictEqual((yield* call("GET", "/api/watch/watchers/edge")).body.accountSets.length, 1)
      assert.strictEqual((yield* call("POST", "/api/watch/watchers/edge/resume")).status, 204)
      assert.strictEqual((yield* call("GET", "/api/watch/watchers/edge")).body.status, "active")
      assert.strictEqual((yield* call("POST", "/api/watch/watchers/edge/pause")).status, 204)
      assert.strictEqual((yield* call("DELETE", "/api/watch/watchers/edge")).status, 204)
    }), 60_000)

  it.effect("balance reads: bad accounts, assets and options are 400, a token-less asset too, an unknown chain too", () =>
    Effect.gen(function*() {
      const account = address(6)
      for (const path of [
        `/api/watch/balances/dev/0x12/native`,
        `/api/watch/balances/dev/${account}/0x12`,
        `/api/watch/balances/dev/${account}/native?maxAgeMillis=-1`,
        `/api/watch/balances/dev/${account}/native?maxAgeMillis=soon`,
        `/api/watch/balances/dev/${account}/native?verify=yes`,
        `/api/watch/balances/dev/${account}/${numbered(0x5001)}`,
        `/api/watch/balances/dev/0x12`,
        `/api/watch/balances/dev/${account}?verify=1`,
        `/api/watch/balances/dev/${account}?maxAgeMillis=-2`
      ]) {
        assert.strictEqual((yield* call("GET", path)).status, 400, path)
      }
      const unknown = yield* call("GET", `/api/watch/balances/nowhere/${account}/native`)
      assert.deepStrictEqual([unknown.status, unknown.body._tag], [400, "InvalidWatchRequest"])
      assert.strictEqual(unknown.body.message, `watcher "balances": unknown chain "nowhere"`)
      // nothing of those was cached
      const cache = yield* BalanceCache.BalanceCache
      assert.deepStrictEqual((yield* cache.list({ chain: "dev", account })).balances, [])

      const every = yield* call("GET", `/api/watch/balances/dev/${account.toUpperCase().replace("0X", "0x")}?maxAgeMillis=60000`)
      assert.deepStrictEqual([every.status, every.body.map((balance: { asset: string }) => balance.asset)], [200, ["native"]])
      assert.strictEqual(every.body[0].account, account)
      const cached = yield* call("GET", `/api/watch/balances/dev/${account}?verify=false`)
      assert.deepStrictEqual(cached.body.map((balance: { fromChain: boolean }) => balance.fromChain), [false])
      const verified = yield* call("GET", `/api/watch/balances/dev/${account}?verify=true`)
      assert.deepStrictEqual(verified.body.map((balance: { fromChain: boolean }) => balance.fromChain), [true])
      const young = yield* call("GET", `/api/watch/balances/dev/${account}/native?maxAgeMillis=3600000`)
      assert.isFalse(young.body.fromChain)
    }), 60_000)

  it.effect("the cached balances a page at a time over HTTP: each once, in order; bad list queries are 400, an unknown chain too", () =>
    Effect.gen(function*() {
      const cache = yield* BalanceCache.BalanceCache
      for (let n = 0; n < 7; n++) yield* cache.read("dev", numbered(0x6000 + n), "native")
      const seen: Array<string> = []
      let cursor: string | undefined = undefined
      let pages = 0
      do {
        const query: string = `chain=dev&limit=2${cursor === undefined ? "" : `&cursor=${encodeURIComponent(cursor)}`}`
        const page: { status: number; body: { balances: Array<{ account: string; asset: string }>; next?: string } } = yield* call("GET", `/api/watch/balances?${query}`)
        assert.strictEqual(page.status, 200)
        seen.push(...page.body.balances.map((balance) => `${balance.account} ${balance.asset}`))
        cursor = page.body.next
        assert.isBelow(++pages, 100, "the pages never end")
      } while (cursor !== undefined)
      const listed = (yield* cache.list({ chain: "dev", limit: 1000 })).balances.map((balance) => `${balance.account} ${balance.asset}`)
      assert.deepStrictEqual(seen, listed)
      assert.isAtLeast(seen.length, 7)

      const stale = yield* call("GET", `/api/watch/balances?chain=dev&stale=false&account=${numbered(0x6000)}`)
      assert.deepStrictEqual(stale.body.balances.map((balance: { account: string }) => balance.account), [numbered(0x6000)])
      assert.deepStrictEqual((yield* call("GET", `/api/watch/balances?chain=dev&stale=true`)).body.balances, [])
      for (const query of ["limit=0", "limit=1001", "limit=many", "stale=maybe", `account=${numbered(0x6000)}`, "cursor=bm90IGEgY3Vyc29y", "chain=dev&account=0x12"]) {
        const answer = yield* call("GET", `/api/watch/balances?${query}`)
        assert.strictEqual(answer.status, 400, query)
      }
      assert.strictEqual((yield* call("GET", "/api/watch/balances?chain=nowhere")).status, 400)
    }), 60_000)

  it.effect.prop(
    "a watcher name that is not one answers 404 or 400 and never a server error, and adds nothing",
    { raw: Schema.String },
    ({ raw }) =>
      Effect.gen(function*() {
        // a URL path carries well-formed text only: a lone surrogate becomes U+FFFD
        const name = raw.toWellFormed()
        const path = `/api/watch/watchers/${encodeURIComponent(name)}`
        const answer = yield* call("GET", `${path}/lag`)
        assert.include([404, 400], answer.status, `${name}: ${answer.status}`)
        const added = yield* call("POST", "/api/watch/watchers", { name, chain: "dev", processor: Record.name, accounts: [address(7)], paused: true })
        if (added.status === 201) {
          // a valid name: it is found by that name, then removed
          assert.strictEqual((yield* call("GET", path)).body.name, name)
          assert.strictEqual((yield* call("DELETE", path)).status, 204)
        } else {
          assert.strictEqual(added.status, 400)
        }
        const watchers = yield* Watchers.Watchers
        assert.deepStrictEqual(yield* watchers.list, [])
        return true
      }),
    60_000
  )

  it.effect.prop(
    "a balance read's maxAgeMillis that is not a whole number of milliseconds from 0 to the limit in decimal digits is 400 naming it, and reads nothing",
    {
      written: Schema.Literals(["1e400", "-0", "1e-7", "NaN", "Infinity", "-Infinity", "0x10", "", " 5", "5 ", "1.0", "+1", "1_000", "-1"]),
      over: Schema.Int.check(Schema.isBetween({ minimum: BalanceAge.maxAgeMillisLimit + 1, maximum: Number.MAX_SAFE_INTEGER })),
      digits: Schema.Int.check(Schema.isBetween({ minimum: 17, maximum: 400 })),
      below: Schema.Int.check(Schema.isBetween({ minimum: Number.MIN_SAFE_INTEGER, maximum: -1 }))
    },
    ({ below, digits, over, written }) =>
      Effect.gen(function*() {
        const account = address(8)
        for (const value of [written, String(over), "9".repeat(digits), String(below), `${over % 1000}.5`]) {
          for (const path of [`/api/watch/balances/dev/${account}/native`, `/api/watch/balances/dev/${account}`]) {
            const answer = yield* call("GET", `${path}?maxAgeMillis=${encodeURIComponent(value)}`)
            assert.deepStrictEqual(
              [answer.status, answer.body?._tag, answer.body?.message],
              [400, "InvalidWatchRequest", `maxAgeMillis must be ${BalanceAge.maxAgeMillisExpected}, in decimal digits`],
              `${path} maxAgeMillis=${JSON.stringify(value)}`
            )
          }
        }
        const cache = yield* BalanceCache.BalanceCache
        assert.deepStrictEqual((yield* cache.list({ chain: "dev", account })).balances, [])
        return true
      }),
    { timeout: 60_000, arbitrary: { runs: 20 } }
  )

  it.effect("a balance read's maxAgeMillis at the limit (a year) is answered; one past it is refused", () =>
    Effect.gen(function*() {
      const account = address(9)
      const at = yield* call("GET", `/api/watch/balances/dev/${account}/native?maxAgeMillis=${BalanceAge.maxAgeMillisLimit}`)
      assert.deepStrictEqual([at.status, at.body.account], [200, account])
      const cached = yield* call("GET", `/api/watch/balances/dev/${account}?maxAgeMillis=0${BalanceAge.maxAgeMillisLimit}`)
      assert.strictEqual(cached.status, 200)
      const past = yield* call("GET", `/api/watch/balances/dev/${account}/native?maxAgeMillis=${BalanceAge.maxAgeMillisLimit + 1}`)
      assert.strictEqual(past.status, 400)
    }), 60_000)
})
