/**
 * A chain endpoint's settings as `CHAINJOBS_CHAINS` gives them, through to the chain configuration the service
 * builds (`Server.chainConfigs`): the pool size and request budget set are carried, and an endpoint that sets
 * none keeps the chain defaults (a pool of 8, no budget) rather than an empty value.
 */
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Duration, Effect } from "effect"
import { ChainConfig } from "@chainjobs/chain"
import * as Server from "../src/Server.ts"
import * as ServerConfig from "../src/ServerConfig.ts"

describe("chain endpoint settings", () => {
  it.effect("the pool size and budget set are carried; an endpoint that sets none keeps the defaults", () =>
    Effect.gen(function*() {
      const settings = yield* Effect.provideService(
        ServerConfig.load,
        ConfigProvider.ConfigProvider,
        ConfigProvider.fromEnv({
          env: {
            CHAINJOBS_CHAINS: JSON.stringify([{
              name: "mainnet",
              chainId: 1,
              endpoints: [
                { url: "https://a.example/rpc", maxConnections: 3, rateLimit: { limit: 20, windowMillis: 500 } },
                { url: "https://b.example/rpc" }
              ]
            }])
          }
        })
      )
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
})
