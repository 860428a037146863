import { assert, describe, layer } from "@effect/vitest"
import { Effect, Exit, Layer, Redacted } from "effect"
import { DevChain } from "@chainjobs/devchain"
import { chainjobs } from "./cli.ts"
import { request, testServer } from "./http.ts"

const alice = "alice-token"
/** Nothing listens on port 9 on 127.0.0.1: a request to it is refused at once. */
const dead = "http://127.0.0.1:9/"

/** The service with auth on and two chains: `dev` behind a dead endpoint then the dev chain, `down` with only a dead one. */
const server = Layer.unwrap(DevChain.DevChain.use((chain) =>
  Effect.succeed(testServer({
    authTokens: { alice: Redacted.make(alice) },
    chains: [
      {
        name: "dev",
        chainId: DevChain.chainId,
        endpoints: [{ url: dead }, { url: chain.url, rateLimit: { limit: 500, windowMillis: 1000 } }],
        breaker: { failures: 100 }
      },
      { name: "down", chainId: 1, endpoints: [{ url: dead }], requestTimeoutMillis: 200, breaker: { failures: 1, openDurationMillis: 50 } },
      // configured as chain 1, but its node is the dev chain
      { name: "other", chainId: 1, endpoints: [{ url: chain.url }] }
    ]
  }))
)).pipe(Layer.provideMerge(DevChain.layer()))

describe("ChainsApi", () => {
  layer(server, { excludeTestServices: true, timeout: "60 seconds" })("chains over REST and the CLI", (it) => {
    it.effect("a check reads the chain id and head through failover and reports each endpoint; unknown and unreachable chains are typed", () =>
      Effect.gen(function*() {
        assert.strictEqual((yield* request("GET", "/api/chains/dev/check")).status, 401)
        const checked = yield* request("GET", "/api/chains/dev/check", { token: alice })
        assert.strictEqual(checked.status, 200)
        assert.deepInclude(checked.body, { chain: "dev", chainId: DevChain.chainId, expectedChainId: DevChain.chainId, chainIdMatches: true })
        assert.isAtLeast(checked.body.head, 0)
        const [first, second] = checked.body.endpoints
        assert.strictEqual(first.url, dead)
        // the dead endpoint was tried first and failed; the dev chain answered
        assert.isAtLeast(first.failures, 1)
        assert.deepInclude(second, { failures: 0, rateLimit: { limit: 500, windowMillis: 1000 }, circuit: "Closed" })
        assert.isAtLeast(second.requests, 2)

        const unknown = yield* request("GET", "/api/chains/ropsten/check", { token: alice })
        assert.strictEqual(unknown.status, 404)
        assert.deepInclude(unknown.body, { _tag: "ChainNotFound", chain: "ropsten" })
        assert.sameMembers(unknown.body.configured, ["dev", "down", "other"])

        const down = yield* request("GET", "/api/chains/down/check", { token: alice })
        assert.strictEqual(down.status, 503)
        assert.strictEqual(down.body._tag, "ChainUnreachable")
        assert.strictEqual(down.body.chain, "down")

        const other = yield* request("GET", "/api/chains/other/check", { token: alice })
        assert.strictEqual(other.status, 503)
        assert.deepInclude(other.body, { _tag: "ChainUnreachable", chain: "other" })
        assert.deepInclude(other.body.reason, { _tag: "WrongChain", chain: "other", expected: 1, reported: String(DevChain.chainId) })
      }), { timeout: 30_000 })

    it.effect("GET /api/chains lists every chain's endpoints: pool, circuit, budget, requests", () =>
      Effect.gen(function*() {
        assert.strictEqual((yield* request("GET", "/api/chains")).status, 401)
        const listed = yield* request("GET", "/api/chains", { token: alice })
        assert.strictEqual(listed.status, 200)
        assert.sameMembers(listed.body.map((chain: any) => chain.chain), ["dev", "down", "other"])
        const dev = listed.body.find((chain: any) => chain.chain === "dev")
        assert.deepStrictEqual(Object.keys(dev.endpoints[1]).sort(), [
          "circuit", "failures", "idle", "inUse", "max", "pausedForMillis", "rateLimit", "requests", "url", "utilization", "waiting"
        ])
        assert.strictEqual(dev.endpoints[1].max, 8)
      }))

    it.effect("chainjobs chain check <chain> prints the check; chainjobs chains the endpoints; a bad chain fails naming it", () =>
      Effect.gen(function*() {
        const checked = yield* chainjobs("--token", alice, "chain", "check", "dev")
        assert.isTrue(Exit.isSuccess(checked.exit))
        assert.match(checked.lines[0]!, new RegExp(`^dev  chain id ${DevChain.chainId}  head \\d+  \\d+ ms$`))
        assert.match(checked.lines[2]!, /circuit Closed {2}pool \d+\/8 in use.*rate 500\/1000 ms.*\d+ requests, 0 failed$/)

        const json = yield* chainjobs("--token", alice, "chain", "check", "dev", "--json")
        assert.strictEqual(JSON.parse(json.lines.join("\n")).chainIdMatches, true)

        const listed = yield* chainjobs("--token", alice, "chains")
        assert.isTrue(Exit.isSuccess(listed.exit))
        assert.include(listed.lines, `dev  chain id ${DevChain.chainId}`)

        const unknown = yield* chainjobs("--token", alice, "chain", "check", "ropsten")
        assert.isTrue(Exit.isFailure(unknown.exit))
        assert.include(String(Exit.isFailure(unknown.exit) ? unknown.exit.cause : ""), "no chain \"ropsten\" is configured")

        const refused = yield* chainjobs("chain", "check", "dev")
        assert.isTrue(Exit.isFailure(refused.exit))

        // a node of another chain than the one configured is never used: the check fails naming both ids
        const mismatch = yield* chainjobs("--token", alice, "chain", "check", "other")
        assert.include(String(Exit.isFailure(mismatch.exit) ? mismatch.exit.cause : "succeeded"), `answers for chain id ${DevChain.chainId}, not other's 1`)
      }), 60_000)
  })
})
