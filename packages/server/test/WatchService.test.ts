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
          Effect.map(request("GET", "/api/watch/watchers/dev-activity/items", { token: alice }), (reply) => reply.body as Array<any>),
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
