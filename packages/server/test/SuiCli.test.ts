import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Console, Effect, Exit } from "effect"
import * as Cli from "../src/Cli.ts"
import * as SuiStandIn from "../../sui/test/SuiStandIn.ts"

/** Runs `chainjobs ...args` in process, capturing what it prints. */
const chainjobs = (...args: Array<string>) =>
  Effect.gen(function*() {
    const lines: Array<string> = []
    const capture = { ...globalThis.console, log: (...parts: Array<unknown>) => lines.push(parts.join(" ")) }
    const exit = yield* Cli.run(args).pipe(
      Effect.provideService(Console.Console, capture),
      Effect.provide(NodeServices.layer),
      Effect.exit
    )
    return { exit, lines }
  })

const failureMessage = (exit: Exit.Exit<unknown, unknown>): string => {
  assert.isTrue(Exit.isFailure(exit))
  return Exit.isFailure(exit) ? Cause.pretty(exit.cause) : ""
}

describe("chainjobs sui check", () => {
  it.live("checks a Sui node from here: endpoint, chain identifier and network, latest checkpoint, latency; headers sent", () =>
    Effect.gen(function*() {
      const node = yield* SuiStandIn.make()
      node.addCheckpoint([])
      const { exit, lines } = yield* chainjobs("sui", "check", "--endpoint", node.url, "--header", "x-api-key: cli-key")
      assert.isTrue(Exit.isSuccess(exit))
      assert.match(lines.join("\n"), new RegExp(`^${node.url}  chain 4c78adac \\(testnet\\)  checkpoint ${SuiStandIn.firstCheckpoint + 1}  \\d+ ms$`))
      assert.isTrue(node.requests.length >= 2 && node.requests.every((request) => request.apiKey === "cli-key"))
      const json = yield* chainjobs("sui", "check", "--endpoint", node.url, "--json")
      assert.deepInclude(JSON.parse(json.lines.join("\n")), { endpoint: node.url, chainIdentifier: "4c78adac", latestCheckpoint: SuiStandIn.firstCheckpoint + 1 })
    }).pipe(Effect.scoped))

  it.live("an endpoint that does not answer fails naming it and the cause", () =>
    Effect.gen(function*() {
      const node = yield* SuiStandIn.make()
      // every request answered 503: the retries and the breaker give up
      node.inject(...Array.from({ length: 200 }, () => "503" as const))
      const { exit } = yield* chainjobs("sui", "check", "--endpoint", node.url)
      const message = failureMessage(exit)
      assert.include(message, `sui check of ${node.url}`)
      assert.match(message, /503|unavailable|Unavailable/)
    }).pipe(Effect.scoped))

  it.live("a bad endpoint or header is refused before anything is sent", () =>
    Effect.gen(function*() {
      const node = yield* SuiStandIn.make()
      for (const args of [
        ["--endpoint", "ftp://127.0.0.1/"],
        ["--endpoint", "not a url"],
        ["--endpoint", node.url, "--header", "no-colon"],
        ["--endpoint", node.url, "--header", "bad name:value"]
      ]) {
        const { exit } = yield* chainjobs("sui", "check", ...args)
        assert.include(failureMessage(exit), "sui check of")
      }
      assert.strictEqual(node.requests.length, 0)
    }).pipe(Effect.scoped))
})
