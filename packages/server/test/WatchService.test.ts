import { assert, describe, layer } from "@effect/vitest"
import { Effect, Exit, Schedule } from "effect"
import { DevChain } from "@chainjobs/devchain"
import { chainjobs } from "./cli.ts"
import { request } from "./http.ts"
import { alice, ops, watched, watchServer } from "./watchServer.ts"


/** Retries `check` until it holds (the test's timeout bounds the wait). */
const eventually = <A, R>(read: Effect.Effect<A, never, R>, check: (a: A) => boolean) =>
  read.pipe(
    Effect.flatMap((a) => check(a) ? Effect.succeed(a) : Effect.fail("not yet" as const)),
    Effect.retry(Schedule.spaced("200 millis"))
  )

const server = watchServer()

describe("WatchService", () => {
  layer(server, { excludeTestServices: true, timeout: "120 seconds" })("on the embedded dev chain", (it) => {
    it.effect("a watcher declared by configuration processes the dev activity, each item once", () =>
      Effect.gen(function*() {
        const items = yield* eventually(
          Effect.map(request("GET", "/api/watch/watchers/dev-activity/items", { token: alice }), (reply) => reply.body.items as Array<any>),
          (items) => items.filter((item) => item.status === "processed").length >= 5
        )
        const ids = items.map((item) => item.id)
        assert.strictEqual(new Set(ids).size, ids.length)
        const lag = yield* request("GET", "/api/watch/watchers/dev-activity/lag", { token: alice })
        assert.strictEqual(lag.status, 200)
        assert.isAtLeast(lag.body.confirmed, 1)
        const metrics = yield* request("GET", "/metrics", { token: ops })
        assert.match(metrics.text, /chainjobs_watch_processed_block\{[^}]*watcher="dev-activity"/)
      }), { timeout: 120_000 })

    it.effect("watchers are changed by admins only; every principal reads them", () =>
      Effect.gen(function*() {
        const spec = { name: "extra", chain: "dev", processor: "chainjobs.watch.record", accounts: [watched], confirmations: 1 }
        assert.strictEqual((yield* request("POST", "/api/watch/watchers", { body: spec })).status, 401)
        const refused = yield* request("POST", "/api/watch/watchers", { body: spec, token: alice })
        assert.strictEqual(refused.status, 403)
        assert.strictEqual(refused.body._tag, "WatchForbidden")
        assert.strictEqual((yield* request("GET", "/api/watch/watchers/extra", { token: alice })).status, 404)
        assert.strictEqual((yield* request("POST", "/api/watch/watchers", { body: spec, token: ops })).status, 201)
        const listed = yield* request("GET", "/api/watch/watchers", { token: alice })
        assert.includeMembers(listed.body.map((watcher: any) => watcher.name), ["dev-activity", "extra"])
        assert.strictEqual((yield* request("POST", "/api/watch/watchers/extra/pause", { token: alice })).status, 403)
        assert.strictEqual((yield* request("POST", "/api/watch/watchers/extra/pause", { token: ops })).status, 204)
        assert.strictEqual((yield* request("GET", "/api/watch/watchers/extra", { token: alice })).body.status, "paused")
        assert.strictEqual((yield* request("POST", "/api/watch/watchers/extra/resume", { token: ops })).status, 204)
        assert.strictEqual((yield* request("DELETE", "/api/watch/watchers/extra", { token: alice })).status, 403)
        assert.strictEqual((yield* request("DELETE", "/api/watch/watchers/extra", { token: ops })).status, 204)
        assert.strictEqual((yield* request("GET", "/api/watch/watchers/extra", { token: alice })).status, 404)
      }))

    it.effect("the CLI lists, adds, pauses, removes watchers, reads their lag and balances", () =>
      Effect.gen(function*() {
        const spec = JSON.stringify({ name: "cli", chain: "dev", processor: "chainjobs.watch.record", accounts: [watched], confirmations: 1 })
        const refused = yield* chainjobs("--token", alice, "watchers", "add", "--spec", spec)
        assert.isTrue(Exit.isFailure(refused.exit))
        const added = yield* chainjobs("--token", ops, "watchers", "add", "--spec", spec)
        assert.isTrue(Exit.isSuccess(added.exit))
        assert.match(added.lines[0]!, /^cli\s+dev\s+active/)
        const listed = yield* chainjobs("--token", alice, "watchers", "list")
        assert.isTrue(listed.lines.some((line) => line.startsWith("dev-activity")))
        assert.isTrue(Exit.isSuccess((yield* chainjobs("--token", ops, "watchers", "pause", "cli")).exit))
        assert.strictEqual((yield* request("GET", "/api/watch/watchers/cli", { token: alice })).body.status, "paused")
        assert.isTrue(Exit.isSuccess((yield* chainjobs("--token", ops, "watchers", "resume", "cli")).exit))
        const lag = yield* chainjobs("--token", alice, "watchers", "lag", "dev-activity", "--json")
        assert.isAtLeast(JSON.parse(lag.lines.join("\n")).confirmed, 1)
        assert.isTrue(Exit.isSuccess((yield* chainjobs("--token", ops, "watchers", "remove", "cli")).exit))
        assert.isTrue(Exit.isFailure((yield* chainjobs("--token", alice, "watchers", "lag", "cli")).exit))
        const balance = yield* chainjobs("--token", alice, "balance", "dev", DevChain.accounts[8]!.address, "--verify", "--json")
        assert.isTrue(Exit.isSuccess(balance.exit))
        const read = JSON.parse(balance.lines.join("\n"))
        assert.isTrue(read.fromChain)
        assert.strictEqual(BigInt(read.amount), 10_000n * 10n ** 18n)
      }))

    it.effect("the cached balances are listed a page at a time over REST and the CLI; a bad query is a typed 400", () =>
      Effect.gen(function*() {
        const accounts = [12, 13, 14].map((index) => DevChain.accounts[index]!.address.toLowerCase())
        for (const account of accounts) {
          assert.strictEqual((yield* request("GET", `/api/watch/balances/dev/${account}/native`, { token: alice })).status, 200)
        }
        // every cached balance, two at a time, following the cursor
        const listed: Array<string> = []
        let cursor: string | undefined
        do {
          const page = yield* request("GET", `/api/watch/balances?chain=dev&limit=2${cursor === undefined ? "" : `&cursor=${cursor}`}`, { token: alice })
          assert.strictEqual(page.status, 200, page.text)
          assert.isAtMost(page.body.balances.length, 2)
          listed.push(...page.body.balances.map((balance: any) => balance.account))
          cursor = page.body.next
        } while (cursor !== undefined)
        assert.includeMembers(listed, accounts)
        assert.deepStrictEqual(listed, [...listed].sort())
        assert.strictEqual(new Set(listed).size, listed.length)
        const one = yield* request("GET", `/api/watch/balances?chain=dev&account=${accounts[1]}`, { token: alice })
        assert.deepStrictEqual(one.body.balances.map((balance: any) => [balance.account, balance.amount]), [[accounts[1], (10_000n * 10n ** 18n).toString()]])
        for (const query of ["limit=0", "limit=5000", "account=0x01", "chain=dev&account=nope", "cursor=nope", "stale=maybe", "chain=no-such-chain"]) {
          const refused = yield* request("GET", `/api/watch/balances?${query}`, { token: alice })
          assert.isTrue(refused.status === 400 || refused.status === 503, `${query}: ${refused.status} ${refused.text}`)
          assert.isString(refused.body._tag, query)
        }
        const cli = yield* chainjobs("--token", alice, "balances", "--chain", "dev", "--account", accounts[2]!)
        assert.isTrue(Exit.isSuccess(cli.exit))
        assert.match(cli.lines[0]!, new RegExp(`^dev\\s+${accounts[2]}\\s+native\\s+10000000000000000000000$`))
        const paged = yield* chainjobs("--token", alice, "balances", "--limit", "1", "--json")
        const first = JSON.parse(paged.lines.join("\n"))
        assert.strictEqual(first.balances.length, 1)
        const second = yield* chainjobs("--token", alice, "balances", "--limit", "1", "--cursor", first.next, "--json")
        assert.isTrue(JSON.parse(second.lines.join("\n")).balances[0].account > first.balances[0].account)
      }))

    it.effect("a balance is read from the chain once, then from the cache", () =>
      Effect.gen(function*() {
        const path = `/api/watch/balances/dev/${DevChain.accounts[9]!.address}/native`
        const first = yield* request("GET", path, { token: alice })
        assert.strictEqual(first.status, 200)
        assert.isTrue(first.body.fromChain)
        const cached = yield* request("GET", path, { token: alice })
        assert.isFalse(cached.body.fromChain)
        assert.strictEqual(cached.body.amount, first.body.amount)
        assert.strictEqual(BigInt(cached.body.amount), 10_000n * 10n ** 18n)
      }))
  })
})
