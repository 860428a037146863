/**
 * The chain part of the command line as a user reads it: `chainjobs chains`
 * (a line per chain, one per endpoint), the endpoint and check lines, and
 * the typed `ChainCliError` of a server that cannot be reached; the
 * `ChainNotFound` refusal's message.
 */
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it, layer } from "@effect/vitest"
import { Console, Effect, Exit, Option } from "effect"
import * as ChainCli from "../src/ChainCli.ts"
import * as ChainsApi from "../src/ChainsApi.ts"
import * as Cli from "../src/Cli.ts"
import { chainjobs } from "./cli.ts"
import type { ChainSetting } from "../src/ServerConfig.ts"
import { testServer } from "./http.ts"

/** The message of the typed error a command line run ended with, or "" when it succeeded or died. */
const failure = (exit: Exit.Exit<unknown, unknown>): string => {
  if (Exit.isSuccess(exit)) return ""
  const error = Exit.findErrorOption(exit)
  return Option.isSome(error) ? `${(error.value as any)._tag}: ${(error.value as Error).message}` : ""
}

/** An endpoint as `/api/chains` reports it, idle, with no budget and no pause. */
const endpoint = {
  url: "http://node-a",
  inUse: 1,
  idle: 2,
  waiting: 3,
  max: 10,
  utilization: 0.1,
  circuit: "Closed",
  requests: 7,
  failures: 1,
  rateLimit: null,
  pausedForMillis: 0
}

describe("the chain command line", () => {
  it("an endpoint's line: URL, circuit, pool, budget (or none), the pause only while paused, requests and failures", () => {
    assert.strictEqual(
      ChainCli.describeEndpoint(endpoint),
      "  http://node-a  circuit Closed  pool 1/10 in use, 2 idle, 3 waiting  no rate limit  7 requests, 1 failed"
    )
    assert.strictEqual(
      ChainCli.describeEndpoint({ ...endpoint, circuit: "Open", rateLimit: { limit: 50, windowMillis: 1000 }, pausedForMillis: 1500 }),
      "  http://node-a  circuit Open  pool 1/10 in use, 2 idle, 3 waiting  rate 50/1000 ms  paused 1500 ms  7 requests, 1 failed"
    )
  })

  it("a check's lines: chain, id (and a mismatch with the configured one), head and latency, then each endpoint", () => {
    const result = { chain: "dev", chainId: 31337, expectedChainId: 31337, chainIdMatches: true, head: 42, latencyMillis: 12.6, endpoints: [endpoint] }
    assert.deepStrictEqual(ChainCli.describeCheck(result), [
      "dev  chain id 31337  head 42  13 ms",
      ChainCli.describeEndpoint(endpoint)
    ])
    assert.deepStrictEqual(ChainCli.describeCheck({ ...result, chainId: 1, chainIdMatches: false, endpoints: [] }), [
      "dev  chain id 1 (configured 31337: MISMATCH)  head 42  13 ms"
    ])
  })

  it("an unknown chain's refusal lists the configured ones, or none", () => {
    assert.strictEqual(new ChainsApi.ChainNotFound({ chain: "x", configured: ["a", "b"] }).message, `no chain "x" is configured (configured: a, b)`)
    assert.strictEqual(new ChainsApi.ChainNotFound({ chain: "x", configured: [] }).message, `no chain "x" is configured (configured: none)`)
  })

  it.live("a server that cannot be reached is a ChainCliError naming it", () =>
    Effect.gen(function*() {
      const lines: Array<string> = []
      const capture = { ...globalThis.console, log: (...parts: Array<unknown>) => lines.push(parts.join(" ")) }
      for (const args of [["chains"], ["chain", "check", "dev"]]) {
        const exit = yield* Cli.run(["--url", "http://127.0.0.1:9", ...args]).pipe(
          Effect.provideService(Console.Console, capture),
          Effect.provide(NodeServices.layer),
          Effect.exit
        )
        assert.match(failure(exit), /^ChainCliError: cannot reach the server at http:\/\/127\.0\.0\.1:9: /, args.join(" "))
      }
      assert.deepStrictEqual(lines, [])
    }))

  const chains: ReadonlyArray<ChainSetting> = [
    { name: "mainnet", chainId: 1, endpoints: [{ url: "http://127.0.0.1:9/a" }, { url: "http://127.0.0.1:9/b", rateLimit: { limit: 5, windowMillis: 1000 } }] },
    { name: "base", chainId: 8453, endpoints: [{ url: "http://127.0.0.1:9/c" }] }
  ]
  layer(testServer({ chains }), { excludeTestServices: true })("against a service with two chains", (it) => {
    it.effect("chains prints each chain, then a line per endpoint; --json the records", () =>
      Effect.gen(function*() {
        const listed = yield* chainjobs("chains")
        assert.isTrue(Exit.isSuccess(listed.exit), failure(listed.exit))
        assert.deepStrictEqual(listed.lines.map((line) => line.split("  circuit")[0]), [
          "mainnet  chain id 1",
          "  http://127.0.0.1:9/a",
          "  http://127.0.0.1:9/b",
          "base  chain id 8453",
          "  http://127.0.0.1:9/c"
        ])
        assert.include(listed.lines[2]!, "  rate 5/1000 ms  ")
        const json = yield* chainjobs("chains", "--json")
        assert.deepStrictEqual(JSON.parse(json.lines.join("\n")).map((chain: any) => [chain.chain, chain.chainId]), [["mainnet", 1], ["base", 8453]])
      }))
  })
})
