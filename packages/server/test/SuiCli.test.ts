import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Layer } from "effect"
import * as SuiApi from "../src/SuiApi.ts"
import * as SuiCli from "../src/SuiCli.ts"
import { runCli } from "./cli.ts"
import { baseUrl, testServer } from "./http.ts"
import * as SuiStandIn from "../../sui/test/SuiStandIn.ts"

/** Runs `chainjobs ...args` in process, capturing what it prints. */
const chainjobs = (...args: Array<string>) => runCli(args)

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

  it.live("each refusal says what was wrong: the scheme, the URL, the header's form and name", () =>
    Effect.gen(function*() {
      const node = yield* SuiStandIn.make()
      for (const [args, endpoint, detail] of [
        [["--endpoint", "ftp://127.0.0.1/"], "ftp://127.0.0.1/", "the endpoint must be an http(s) URL"],
        [["--endpoint", "not a url"], "not a url", "the endpoint is not a URL"],
        [["--endpoint", node.url, "--header", "no-colon"], node.url, `--header "no-colon" is not name:value`],
        [["--endpoint", node.url, "--header", ": no-name"], node.url, `--header ": no-name" is not name:value`],
        [["--endpoint", node.url, "--header", "bad name:value"], node.url, `--header "bad name:value" is not name:value`],
        [["--endpoint", node.url, "--header", "x-ok: 1", "--header", "x(bad):value"], node.url, `--header "x(bad):value" is not name:value`]
      ] as const) {
        const { exit } = yield* chainjobs("sui", "check", ...args)
        assert.include(failureMessage(exit), `SuiCliError: sui check of ${endpoint}: ${detail}`, args.join(" "))
      }
      assert.strictEqual(node.requests.length, 0)
      // an https endpoint is a URL of the right scheme: it is asked (and here, with no TLS there, does not answer)
      const https = failureMessage((yield* chainjobs("sui", "check", "--endpoint", "https://127.0.0.1:9/")).exit)
      assert.include(https, "sui check of https://127.0.0.1:9/")
      assert.notInclude(https, "must be an http(s) URL")
    }).pipe(Effect.scoped))

  it.live("a header's name and value are sent trimmed", () =>
    Effect.gen(function*() {
      const node = yield* SuiStandIn.make()
      node.addCheckpoint([])
      const { exit } = yield* chainjobs("sui", "check", "--endpoint", node.url, "--header", "  x-api-key :  spaced-key  ")
      assert.isTrue(Exit.isSuccess(exit), Exit.isFailure(exit) ? Cause.pretty(exit.cause) : "")
      assert.isTrue(node.requests.length >= 2 && node.requests.every((request) => request.apiKey === "spaced-key"), JSON.stringify(node.requests))
    }).pipe(Effect.scoped))

  it("a check's line names the network of a known chain identifier only", () => {
    const result = { endpoint: "http://node", chainIdentifier: "35834a8a", latestCheckpoint: 7, latencyMillis: 3 } as const
    assert.strictEqual(SuiCli.describeCheck(result as any), "http://node  chain 35834a8a (mainnet)  checkpoint 7  3 ms")
    assert.strictEqual(SuiCli.describeCheck({ ...result, chainIdentifier: "0badc0de" } as any), "http://node  chain 0badc0de  checkpoint 7  3 ms")
  })

  it("an unknown network's refusal lists the configured ones, or none", () => {
    assert.strictEqual(
      new SuiApi.SuiNetworkNotFound({ network: "nope", configured: ["a", "b"] }).message,
      `no Sui network "nope" is configured (configured: a, b)`
    )
    assert.strictEqual(new SuiApi.SuiNetworkNotFound({ network: "nope", configured: [] }).message, `no Sui network "nope" is configured (configured: none)`)
  })

  it.live("--network asks the service: an unknown network, a network that does not answer and a service that cannot be reached each fail saying so", () =>
    Effect.gen(function*() {
      const context = yield* Layer.build(testServer({ suiNetworks: [{ name: "sui-dead", endpoints: [{ url: "http://127.0.0.1:9" }] }] }))
      const base = yield* Effect.provide(baseUrl, context)
      const unknown = failureMessage((yield* chainjobs("--url", base, "sui", "check", "--network", "nope")).exit)
      assert.include(unknown, `sui check of nope: no Sui network "nope" is configured (configured: sui-dead)`)
      const dead = failureMessage((yield* chainjobs("--url", base, "sui", "check", "--network", "sui-dead")).exit)
      assert.include(dead, "sui check of sui-dead: Sui network sui-dead did not answer: ")
      const noServer = failureMessage((yield* chainjobs("--url", "http://127.0.0.1:9", "sui", "check", "--network", "sui-dead")).exit)
      assert.include(noServer, "sui check of sui-dead: cannot reach the server at http://127.0.0.1:9: ")
    }).pipe(Effect.scoped), { timeout: 60_000 })

  it.live("neither --endpoint nor --network, or both, is refused before anything is called, the message naming no endpoint", () =>
    Effect.gen(function*() {
      const expected = "sui check of -: give either --endpoint <url> or --network <name>"
      assert.include(failureMessage((yield* chainjobs("--url", "http://127.0.0.1:9", "sui", "check")).exit), expected)
      const both = yield* chainjobs("sui", "check", "--endpoint", "http://127.0.0.1:9", "--network", "sui-dead")
      assert.include(failureMessage(both.exit), expected)
    }))
})
