/**
 * A chain endpoint's settings as `CHAINJOBS_CHAINS` gives them, through to the chain configuration the service
 * builds (`Server.chainConfigs`): the pool size and request budget set are carried, and an endpoint that sets
 * none keeps the chain defaults (a pool of 8, no budget) rather than an empty value. A chain's `headTtlMillis`
 * is carried as its head cache's lifetime (0 included: no caching); a chain that sets none keeps the default.
 */
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Duration, Effect } from "effect"
import { ChainConfig } from "@chainjobs/chain"
import * as Server from "../src/Server.ts"
import * as ServerConfig from "../src/ServerConfig.ts"

/** The settings `ServerConfig.load` reads from `CHAINJOBS_CHAINS` set to `chains`. */
const loadChains = (chains: ReadonlyArray<unknown>) =>
  Effect.provideService(
    ServerConfig.load,
    ConfigProvider.ConfigProvider,
    ConfigProvider.fromEnv({ env: { CHAINJOBS_CHAINS: JSON.stringify(chains) } })
  )

describe("chain endpoint settings", () => {
  it.effect("the pool size and budget set are carried; an endpoint that sets none keeps the defaults", () =>
    Effect.gen(function*() {
      const settings = yield* loadChains([{
        name: "mainnet",
        chainId: 1,
        endpoints: [
          { url: "https://a.example/rpc", maxConnections: 3, rateLimit: { limit: 20, windowMillis: 500 } },
          { url: "https://b.example/rpc" }
        ]
      }])
      const [set, unset] = Server.chainConfigs(settings)[0]!.endpoints
      assert.strictEqual(set!.maxConnections, 3)
      assert.deepStrictEqual(
        { limit: set!.rateLimit?.limit, window: Duration.toMillis(Duration.fromInputUnsafe(set!.rateLimit!.window)) },
        { limit: 20, window: 500 }
      )
      assert.strictEqual(unset!.maxConnections, ChainConfig.endpointDefaults.maxConnections)
      assert.strictEqual(unset!.maxConnections, 8)
      assert.isUndefined(unset!.rateLimit)
    }))

  it.effect("a chain's headTtlMillis is its headTtl, 0 included; a chain that sets none keeps the default", () =>
    Effect.gen(function*() {
      const settings = yield* loadChains([
        { name: "uncached", chainId: 1, headTtlMillis: 0, endpoints: [{ url: "https://a.example/rpc" }] },
        { name: "cached", chainId: 10, headTtlMillis: 250, endpoints: [{ url: "https://b.example/rpc" }] },
        { name: "default", chainId: 137, endpoints: [{ url: "https://c.example/rpc" }] }
      ])
      const ttls = Server.chainConfigs(settings).map((chain) => Duration.toMillis(Duration.fromInputUnsafe(chain.headTtl)))
      assert.deepStrictEqual(ttls, [0, 250, Duration.toMillis(Duration.fromInputUnsafe(ChainConfig.chainDefaults.headTtl))])
      assert.strictEqual(ttls[2], 10_000)
    }))
})
