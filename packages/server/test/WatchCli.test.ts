/**
 * The watch part of the command line as a user reads it: the lines
 * `chainjobs watchers …`, `balance` and `balances` print against a service on
 * the dev chain, and the typed `WatchCliError` (status and the server's
 * message) a refused or unreachable call ends with.
 */
import { NodeServices } from "@effect/platform-node"
import { assert, describe, layer } from "@effect/vitest"
import { Console, Effect, Exit, Option } from "effect"
import { DevChain } from "@chainjobs/devchain"
import * as Cli from "../src/Cli.ts"
import { chainjobs } from "./cli.ts"
import { alice, ops, watchServer } from "./watchServer.ts"

/** The message of the typed error a command line run ended with, or "" when it succeeded or died. */
const failure = (exit: Exit.Exit<unknown, unknown>): string => {
  if (Exit.isSuccess(exit)) return ""
  const error = Exit.findErrorOption(exit)
  return Option.isSome(error) ? `${(error.value as any)._tag}: ${(error.value as Error).message}` : ""
}

/** A dev account's balance at the start, in wei: 10,000 ether. */
const seeded = (10_000n * 10n ** 18n).toString()

describe("the watch command line", () => {
  layer(watchServer(), { excludeTestServices: true, timeout: "120 seconds" })("on the embedded dev chain", (it) => {
    it.effect("watchers list prints a line per watcher (name, chain, status, confirmed block, processor), --json the records", () =>
      Effect.gen(function*() {
        const listed = yield* chainjobs("--token", alice, "watchers", "list")
        assert.isTrue(Exit.isSuccess(listed.exit), failure(listed.exit))
        const line = listed.lines.find((l) => l.startsWith("dev-activity"))
        const columns = `${"dev-activity".padEnd(24)}  ${"dev".padEnd(12)}  ${"active".padEnd(8)}  confirmed `
        assert.isTrue(line?.startsWith(columns), JSON.stringify(listed.lines))
        assert.match(line!, /  confirmed \d+  chainjobs\.watch\.record$/)
        const json = yield* chainjobs("--token", alice, "watchers", "list", "--json")
        const records = JSON.parse(json.lines.join("\n"))
        assert.deepStrictEqual(records.map((w: any) => [w.name, w.chain, w.processor]), [["dev-activity", "dev", "chainjobs.watch.record"]])
      }))

    it.effect("add prints the watcher; pause, resume and remove say what they did; lag prints head, confirmed, processed and reorgs", () =>
      Effect.gen(function*() {
        const spec = JSON.stringify({ name: "cli-lines", chain: "dev", processor: "chainjobs.watch.record", accounts: [DevChain.accounts[2]!.address] })
        const added = yield* chainjobs("--token", ops, "watchers", "add", "--spec", spec)
        assert.isTrue(Exit.isSuccess(added.exit), failure(added.exit))
        assert.match(added.lines.join("\n"), /^cli-lines\s+dev\s+active\s+confirmed \d+  chainjobs\.watch\.record$/)
        for (const [command, said] of [["pause", "paused"], ["resume", "resumed"]] as const) {
          const done = yield* chainjobs("--token", ops, "watchers", command, "cli-lines")
          assert.deepStrictEqual(done.lines, [`cli-lines ${said}`])
        }
        const lag = yield* chainjobs("--token", alice, "watchers", "lag", "dev-activity")
        assert.isTrue(Exit.isSuccess(lag.exit), failure(lag.exit))
        assert.match(lag.lines.join("\n"), /^dev-activity  head \d+  confirmed \d+  processed \d+  reorgs \d+$/)
        const removed = yield* chainjobs("--token", ops, "watchers", "remove", "cli-lines")
        assert.deepStrictEqual(removed.lines, ["cli-lines removed"])
      }))

    it.effect("a refused or impossible call fails with a WatchCliError: the status and the server's message, bad --spec JSON, no token, no server", () =>
      Effect.gen(function*() {
        const notAdmin = yield* chainjobs("--token", alice, "watchers", "pause", "dev-activity")
        assert.match(failure(notAdmin.exit), /^WatchCliError: 403: /)
        assert.deepStrictEqual(notAdmin.lines, [])
        const unknown = yield* chainjobs("--token", alice, "watchers", "lag", "no-such-watcher")
        assert.match(failure(unknown.exit), /^WatchCliError: 404: .*no-such-watcher/)
        const noToken = yield* chainjobs("watchers", "list")
        assert.match(failure(noToken.exit), /^WatchCliError: 401: /)
        const badSpec = yield* chainjobs("--token", ops, "watchers", "add", "--spec", "{name")
        assert.strictEqual(failure(badSpec.exit), "WatchCliError: --spec is not JSON")
        const lines: Array<string> = []
        const capture = { ...globalThis.console, log: (...parts: Array<unknown>) => lines.push(parts.join(" ")) }
        const unreachable = yield* Cli.run(["--url", "http://127.0.0.1:9", "--token", alice, "watchers", "list"]).pipe(
          Effect.provideService(Console.Console, capture),
          Effect.provide(NodeServices.layer),
          Effect.exit
        )
        assert.match(failure(unreachable), /^WatchCliError: cannot reach http:\/\/127\.0\.0\.1:9: /)
      }))

    it.effect("balance prints the amount, what is pending and where it was read; --asset all a line per asset; --max-age-millis reads the chain again", () =>
      Effect.gen(function*() {
        const account = DevChain.accounts[17]!.address.toLowerCase()
        const first = yield* chainjobs("--token", alice, "balance", "dev", account)
        assert.isTrue(Exit.isSuccess(first.exit), failure(first.exit))
        assert.deepStrictEqual(first.lines, [`${seeded}  (pending in 0, out 0; read from the chain)`])
        const cached = yield* chainjobs("--token", alice, "balance", "dev", account)
        assert.match(cached.lines.join("\n"), new RegExp(`^${seeded}  \\(pending in 0, out 0; cached \\d+ ms ago\\)$`))
        const reread = yield* chainjobs("--token", alice, "balance", "dev", account, "--max-age-millis", "0")
        assert.deepStrictEqual(reread.lines, [`${seeded}  (pending in 0, out 0; read from the chain)`])
        const all = yield* chainjobs("--token", alice, "balance", "dev", account, "--asset", "all")
        assert.isTrue(Exit.isSuccess(all.exit), failure(all.exit))
        const native = new RegExp(`^native  ${seeded}  \\(pending in 0, out 0; (cached \\d+ ms ago|read from the chain)\\)$`)
        assert.isTrue(all.lines.join("\n").split("\n").some((line) => native.test(line)), JSON.stringify(all.lines))
      }))

    it.effect("balances prints a line per cached balance and, when more are left, the cursor of the next page", () =>
      Effect.gen(function*() {
        const accounts = [18, 19].map((index) => DevChain.accounts[index]!.address.toLowerCase())
        for (const account of accounts) yield* chainjobs("--token", alice, "balance", "dev", account)
        const page = yield* chainjobs("--token", alice, "balances", "--chain", "dev", "--account", accounts[0]!, "--stale", "false")
        assert.deepStrictEqual(page.lines, [
          ["dev".padEnd(12), accounts[0]!.padEnd(44), "native".padEnd(10), seeded.padStart(28)].join("  ")
        ])
        const first = yield* chainjobs("--token", alice, "balances", "--chain", "dev", "--limit", "1")
        assert.strictEqual(first.lines.length, 2, JSON.stringify(first.lines))
        assert.match(first.lines[1]!, /^next: --cursor \S+$/)
        const cursor = first.lines[1]!.slice("next: --cursor ".length)
        const second = yield* chainjobs("--token", alice, "balances", "--chain", "dev", "--limit", "1", "--cursor", cursor)
        assert.notDeepEqual(second.lines[0], first.lines[0])
        assert.isTrue(second.lines[0]!.startsWith("dev"), JSON.stringify(second.lines))
      }))
  })
})
