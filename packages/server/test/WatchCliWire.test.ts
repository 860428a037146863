/**
 * The watch command line against a scripted `/api/watch` (`scriptedHttp.ts`)
 * instead of a service on the dev chain: each command's request (method,
 * path and query, bearer, JSON body) and the lines it prints from the
 * answers, every optional part of a line (a head not read yet, a watcher's
 * last error, a stale balance), and the `WatchCliError` of each refusal —
 * its status with the server's message, its tag, or neither. In process and
 * without a chain, so that each mutant of `WatchCli.ts` costs a second.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as WatchCli from "../src/WatchCli.ts"
import { failure, runCli } from "./cli.ts"
import { type Answer, scriptedHttp, type Seen } from "./scriptedHttp.ts"

/** What a GET sends: no body, no content type. */
const get = (url: string, authorization?: string): Seen => ({ method: "GET", url, authorization, contentType: undefined, body: "" })

const watcher = { name: "hot-wallets", chain: "dev", status: "active", confirmedBlock: 42, processor: "chainjobs.watch.record" }

describe("the watch command line on the wire", () => {
  it.live("watchers list sends GET /api/watch/watchers with the bearer, or none without a token; prints a line per watcher, --json the records", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* scriptedHttp(() => ({ status: 200, json: [watcher, { ...watcher, name: "b", status: "paused" }] }))
      // a trailing slash on --url is not doubled in the path
      const listed = yield* runCli(["--url", `${server.url}/`, "--token", "t0k", "watchers", "list"])
      assert.strictEqual(failure(listed.exit), "")
      assert.deepStrictEqual(listed.lines, [
        "hot-wallets               dev           active    confirmed 42  chainjobs.watch.record",
        "b                         dev           paused    confirmed 42  chainjobs.watch.record"
      ])
      const json = yield* runCli(["--url", server.url, "watchers", "list", "--json"])
      assert.deepStrictEqual(JSON.parse(json.lines.join("\n")), [watcher, { ...watcher, name: "b", status: "paused" }])
      assert.deepStrictEqual(server.seen, [get("/api/watch/watchers", "Bearer t0k"), get("/api/watch/watchers")])
    })))

  it.live("watchers add POSTs the spec as JSON and prints the watcher the server answers; a spec that is not JSON sends nothing", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* scriptedHttp(() => ({ status: 201, json: watcher }))
      const spec = { name: "hot-wallets", chain: "dev", processor: "chainjobs.watch.record", accounts: ["0xabc"] }
      const added = yield* runCli(["--url", server.url, "--token", "ops", "watchers", "add", "--spec", ` ${JSON.stringify(spec)} `])
      assert.strictEqual(failure(added.exit), "")
      assert.deepStrictEqual(added.lines, [WatchCli.describeWatcher(watcher)])
      assert.deepStrictEqual(server.seen, [{
        method: "POST",
        url: "/api/watch/watchers",
        authorization: "Bearer ops",
        contentType: "application/json",
        body: JSON.stringify(spec)
      }])
      const bad = yield* runCli(["--url", server.url, "watchers", "add", "--spec", "{name"])
      assert.strictEqual(failure(bad.exit), "WatchCliError: --spec is not JSON")
      assert.deepStrictEqual(bad.lines, [])
      assert.strictEqual(server.seen.length, 1)
    })))

  it.live("pause, resume and remove send their method to the watcher's path, its name encoded, and say what they did", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* scriptedHttp(() => ({ status: 204 }))
      const said: Array<string> = []
      for (const command of ["pause", "resume", "remove"]) {
        const done = yield* runCli(["--url", server.url, "watchers", command, "a b/c"])
        assert.strictEqual(failure(done.exit), "", command)
        said.push(...done.lines)
      }
      assert.deepStrictEqual(said, ["a b/c paused", "a b/c resumed", "a b/c removed"])
      assert.deepStrictEqual(server.seen.map((seen) => `${seen.method} ${seen.url} ${seen.body}`), [
        "POST /api/watch/watchers/a%20b%2Fc/pause ",
        "POST /api/watch/watchers/a%20b%2Fc/resume ",
        "DELETE /api/watch/watchers/a%20b%2Fc "
      ])
    })))

  it.live("watchers lag prints head (or - before it is read), confirmed, processed, reorgs and the last error when there is one", () =>
    Effect.scoped(Effect.gen(function*() {
      const lags = [
        { watcher: "w", head: 120, confirmed: 100, processed: 99, reorgs: 2, lastError: null },
        { watcher: "w", head: null, confirmed: 0, processed: 0, reorgs: 0, lastError: "node down" }
      ]
      const server = yield* scriptedHttp(() => ({ status: 200, json: lags[0] }))
      const first = yield* runCli(["--url", server.url, "watchers", "lag", "w"])
      assert.deepStrictEqual(first.lines, ["w  head 120  confirmed 100  processed 99  reorgs 2"])
      lags.shift()
      const second = yield* runCli(["--url", server.url, "watchers", "lag", "w"])
      assert.deepStrictEqual(second.lines, ["w  head -  confirmed 0  processed 0  reorgs 0  error node down"])
      const json = yield* runCli(["--url", server.url, "watchers", "lag", "w", "--json"])
      assert.deepStrictEqual(JSON.parse(json.lines.join("\n")), lags[0])
      assert.deepStrictEqual(server.seen.map((seen) => seen.url), Array(3).fill("/api/watch/watchers/w/lag"))
    })))

  it.live("balance reads /balances/<chain>/<account>/<asset> (native by default), --verify and --max-age-millis as its query; a line says where the amount was read", () =>
    Effect.scoped(Effect.gen(function*() {
      const balances = [
        { amount: "7", pendingIn: "1", pendingOut: "2", fromChain: true, ageMillis: 0, stale: false },
        { amount: "8", pendingIn: "0", pendingOut: "0", fromChain: false, ageMillis: 1500, stale: true }
      ]
      const server = yield* scriptedHttp(() => ({ status: 200, json: balances.shift() }))
      const read = yield* runCli(["--url", server.url, "balance", "dev", "0xAB/c"])
      assert.deepStrictEqual(read.lines, ["7  (pending in 1, out 2; read from the chain)"])
      const cached = yield* runCli(["--url", server.url, "balance", "dev", "0xab", "--asset", "0xt0k3n", "--verify", "--max-age-millis", "5 0"])
      assert.deepStrictEqual(cached.lines, ["8  (pending in 0, out 0; cached 1500 ms ago, stale)"])
      assert.deepStrictEqual(server.seen.map((seen) => seen.url), [
        "/api/watch/balances/dev/0xAB%2Fc/native",
        "/api/watch/balances/dev/0xab/0xt0k3n?verify=true&maxAgeMillis=5%200"
      ])
    })))

  it.live("balance --asset all reads every asset of the account, a line each; --json prints the answer", () =>
    Effect.scoped(Effect.gen(function*() {
      const all = [
        { asset: "native", amount: "7", pendingIn: "0", pendingOut: "0", fromChain: false, ageMillis: 3, stale: false },
        { asset: "0xt0k3n", amount: "9", pendingIn: "0", pendingOut: "0", fromChain: true, ageMillis: 0, stale: true }
      ]
      const server = yield* scriptedHttp(() => ({ status: 200, json: all }))
      const read = yield* runCli(["--url", server.url, "balance", "dev", "0xab", "--asset", "all", "--max-age-millis", "0"])
      assert.deepStrictEqual(read.lines, [
        "native  7  (pending in 0, out 0; cached 3 ms ago)\n0xt0k3n  9  (pending in 0, out 0; read from the chain, stale)"
      ])
      const json = yield* runCli(["--url", server.url, "balance", "dev", "0xab", "--asset", "all", "--json"])
      assert.deepStrictEqual(JSON.parse(json.lines.join("\n")), all)
      assert.deepStrictEqual(server.seen.map((seen) => seen.url), [
        "/api/watch/balances/dev/0xab?maxAgeMillis=0",
        "/api/watch/balances/dev/0xab"
      ])
    })))

  it.live("balances sends its filters and limit as the query, prints a column line per balance (stale marked) and the next page's cursor", () =>
    Effect.scoped(Effect.gen(function*() {
      const page = {
        balances: [
          { chain: "dev", account: "0xab", asset: "native", amount: "7", stale: false },
          { chain: "dev", account: "0xcd", asset: "0xt0k3n", amount: "12345", stale: true }
        ],
        next: "c2"
      }
      const pages = [page, { balances: [] }]
      const server = yield* scriptedHttp(() => ({ status: 200, json: pages.shift() }))
      const first = yield* runCli(["--url", server.url, "balances", "--chain", "dev", "--account", "0xab", "--stale", "true", "--cursor", "c1", "--limit", "2"])
      assert.deepStrictEqual(first.lines, [
        `${"dev".padEnd(12)}  ${"0xab".padEnd(44)}  ${"native".padEnd(10)}  ${"7".padStart(28)}`,
        `${"dev".padEnd(12)}  ${"0xcd".padEnd(44)}  ${"0xt0k3n".padEnd(10)}  ${"12345".padStart(28)}  stale`,
        "next: --cursor c2"
      ])
      const last = yield* runCli(["--url", server.url, "balances"])
      assert.strictEqual(failure(last.exit), "")
      assert.deepStrictEqual(last.lines, [])
      assert.deepStrictEqual(server.seen.map((seen) => seen.url), [
        "/api/watch/balances?limit=2&chain=dev&account=0xab&stale=true&cursor=c1",
        "/api/watch/balances?limit=100"
      ])
    })))

  it.live("a refusal is a WatchCliError with its status and the server's message, else its tag, else `refused`; nothing is printed", () =>
    Effect.scoped(Effect.gen(function*() {
      const answers: Array<Answer> = [
        { status: 403, json: { _tag: "WatchForbidden", message: "alice may not change watchers" } },
        { status: 404, json: { _tag: "WatcherNotFound" } },
        { status: 502 }
      ]
      const server = yield* scriptedHttp(() => answers.shift()!)
      const said: Array<string> = []
      for (const args of [["watchers", "pause", "w"], ["watchers", "lag", "w"], ["balances"]]) {
        const refused = yield* runCli(["--url", server.url, ...args])
        assert.deepStrictEqual(refused.lines, [], args.join(" "))
        said.push(failure(refused.exit))
      }
      assert.deepStrictEqual(said, [
        "WatchCliError: 403: alice may not change watchers",
        "WatchCliError: 404: WatcherNotFound",
        "WatchCliError: 502: refused"
      ])
    })))

  it.live("a server that cannot be reached is named with the cause, no status", () =>
    Effect.gen(function*() {
      const unreachable = yield* runCli(["--url", "http://127.0.0.1:9", "watchers", "list"])
      assert.match(failure(unreachable.exit), /^WatchCliError: cannot reach http:\/\/127\.0\.0\.1:9: TypeError: fetch failed$/)
      assert.strictEqual(new WatchCli.WatchCliError({ detail: "x" }).message, "x")
      assert.strictEqual(new WatchCli.WatchCliError({ status: 0, detail: "x" }).message, "0: x")
    }))
})
