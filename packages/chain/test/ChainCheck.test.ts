import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { DevChain } from "@chainjobs/devchain"
import * as ChainCheck from "../src/ChainCheck.ts"
import * as FaultProxy from "./FaultProxy.ts"
import { client, devChainConfig } from "./fixtures.ts"

layer(DevChain.layer(), { excludeTestServices: true, timeout: 120_000 })("ChainCheck", (it) => {
  it.effect("reports the chain id, the head read now, and each endpoint's pool and circuit", () =>
    Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      const evm = yield* client(devChainConfig([chain.url, chain.url], { headTtl: "1 hour" }))
      const before = yield* evm.head
      yield* evm.request("hardhat_mine", ["0x2"])
      const started = Date.now()
      const result = yield* ChainCheck.check(evm)
      const took = Date.now() - started
      assert.deepInclude(result, { chain: "dev", chainId: DevChain.chainId, expectedChainId: DevChain.chainId, chainIdMatches: true })
      // the head cache still holds the old head; the check reads past it
      assert.strictEqual(result.head, before + 2)
      assert.isAtLeast(result.latencyMillis, 0)
      assert.isAtMost(result.latencyMillis, took, "the round trip is within the time the check took")
      assert.deepStrictEqual(result.endpoints.map((endpoint) => [endpoint.url, endpoint.circuit, endpoint.max]), [
        // one URL twice: told apart by their places
        [`${chain.url} #1`, "Closed", 8],
        [`${chain.url} #2`, "Closed", 8]
      ])
    }))

  it.effect("a node of another chain than the one configured fails the check with WrongChain, naming both ids; its endpoint counts the failure", () =>
    Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      const evm = yield* client({ ...devChainConfig([chain.url]), chainId: 1 })
      const error = yield* Effect.flip(ChainCheck.check(evm))
      assert.deepInclude(error.reason, { _tag: "WrongChain", expected: 1, reported: String(DevChain.chainId) })
      const { endpoints } = yield* ChainCheck.status(evm)
      assert.deepInclude(endpoints[0], { requests: 1, failures: 1 })
    }))

  it.effect("a chain that does not answer fails with its ChainRequestError", () =>
    Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      const proxy = yield* FaultProxy.make(chain.url, { requireHeaders: { "x-api-key": "k" } })
      const evm = yield* client(devChainConfig([proxy.url], { retry: { times: 0 } }))
      const error = yield* Effect.flip(ChainCheck.check(evm))
      assert.strictEqual(error._tag, "ChainRequestError")
    }))

  it.effect("status counts each endpoint's requests and failures, with its budget, as failover moved on", () =>
    Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      // the first endpoint answers 500 to everything: every call fails over to the second
      const broken = yield* FaultProxy.make(chain.url, { serverError: 1 })
      const evm = yield* client(devChainConfig([
        broken.url,
        { url: chain.url, rateLimit: { limit: 100, window: "1 second" } }
      ], { breaker: { failures: 100 } }))
      for (let index = 0; index < 3; index++) yield* evm.request("eth_blockNumber", [])
      const status = yield* ChainCheck.status(evm)
      assert.deepStrictEqual(
        status.endpoints.map((endpoint) => [endpoint.url, endpoint.requests, endpoint.failures, endpoint.rateLimit]),
        [
          // each endpoint's chain id question counts as a request (the proxy lets it through): then the broken one
          // failed the three calls, the second answered them
          [broken.url, 4, 3, null],
          [chain.url, 4, 0, { limit: 100, windowMillis: 1000 }]
        ]
      )
      assert.deepInclude(status, { chain: "dev", chainId: DevChain.chainId })
      assert.deepStrictEqual(status.endpoints.map((endpoint) => endpoint.pausedForMillis), [0, 0])
    }))
})
