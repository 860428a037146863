/**
 * Configured chain and Sui endpoints as the client options they become
 * (`endpointOptions`, `limitOptions`): every field given carried over in its
 * unit, none made up when absent; and the name rule between chains, the dev
 * chain and Sui networks.
 */
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Duration, Effect, Exit } from "effect"
import * as ServerConfig from "../src/ServerConfig.ts"

const loadFrom = (env: Record<string, string>) =>
  Effect.exit(Effect.provideService(ServerConfig.load, ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env })))

const millis = (duration: Duration.Input | undefined) => duration === undefined ? undefined : Duration.toMillis(Duration.fromInputUnsafe(duration))

describe("endpoint and limit options", () => {
  it.effect.prop(
    "every field of an endpoint setting is carried over, durations in milliseconds; an absent one is left out",
    {
      maxConnections: ServerConfig.EndpointSetting.fields.maxConnections,
      rateLimit: ServerConfig.EndpointSetting.fields.rateLimit,
      headers: ServerConfig.EndpointSetting.fields.headers
    },
    ({ headers, maxConnections, rateLimit }) =>
      Effect.sync(() => {
        const setting = {
          url: "https://node.example/rpc",
          ...(maxConnections === undefined ? {} : { maxConnections }),
          ...(rateLimit === undefined ? {} : { rateLimit }),
          ...(headers === undefined ? {} : { headers })
        }
        const options = ServerConfig.endpointOptions(setting)
        assert.strictEqual(options.url, setting.url)
        assert.strictEqual("maxConnections" in options, maxConnections !== undefined)
        assert.strictEqual("rateLimit" in options, rateLimit !== undefined)
        assert.strictEqual("headers" in options, headers !== undefined)
        if ("maxConnections" in options) assert.strictEqual(options.maxConnections, maxConnections)
        if ("headers" in options) assert.deepStrictEqual(options.headers, headers)
        if ("rateLimit" in options && rateLimit !== undefined) {
          assert.strictEqual(options.rateLimit.limit, rateLimit.limit)
          assert.strictEqual(millis(options.rateLimit.window), rateLimit.windowMillis)
        }
      })
  )

  it("a request timeout and breaker settings become durations; absent ones are left out", () => {
    const full = ServerConfig.limitOptions({ requestTimeoutMillis: 2500, breaker: { failures: 3, openDurationMillis: 7000 } })
    assert.strictEqual(millis(full.requestTimeout), 2500)
    assert.strictEqual(full.breaker.failures, 3)
    assert.strictEqual(millis(full.breaker.openDuration), 7000)
    const none = ServerConfig.limitOptions({})
    assert.deepStrictEqual(none, { breaker: {} })
    const some = ServerConfig.limitOptions({ breaker: { openDurationMillis: 10 } })
    assert.deepStrictEqual(Object.keys(some.breaker), ["openDuration"])
    assert.isFalse("requestTimeout" in some)
  })
})

describe("chain and Sui network names", () => {
  it.effect("with the dev chain off and no chains, a Sui network may be named dev; with it on, it may not", () =>
    Effect.gen(function*() {
      const network = JSON.stringify([{ name: "dev", endpoints: [{ url: "http://127.0.0.1:1" }] }])
      const off = yield* loadFrom({ CHAINJOBS_DEV_CHAIN: "false", CHAINJOBS_SUI_NETWORKS: network })
      assert.isTrue(Exit.isSuccess(off))
      const on = yield* loadFrom({ CHAINJOBS_DEV_CHAIN: "true", CHAINJOBS_SUI_NETWORKS: network })
      assert.isTrue(Exit.isFailure(on))
      // chains configured: the dev chain does not start, so "dev" is free unless a chain takes it
      const chains = JSON.stringify([{ name: "main", chainId: 1, endpoints: [{ url: "http://127.0.0.1:1" }] }])
      const withChains = yield* loadFrom({ CHAINJOBS_DEV_CHAIN: "true", CHAINJOBS_CHAINS: chains, CHAINJOBS_SUI_NETWORKS: network })
      assert.isTrue(Exit.isSuccess(withChains))
    }))

  it.effect("the refusal names the variable and the name given twice", () =>
    Effect.gen(function*() {
      const exit = yield* loadFrom({
        CHAINJOBS_SUI_NETWORKS: JSON.stringify([
          { name: "sui-a", endpoints: [{ url: "http://x" }] },
          { name: "sui-b", endpoints: [{ url: "http://y" }] },
          { name: "sui-a", endpoints: [{ url: "http://z" }] }
        ])
      })
      assert.isTrue(Exit.isFailure(exit))
      const reason = Exit.isFailure(exit) ? exit.cause.reasons.find((r) => r._tag === "Fail") : undefined
      const message = reason?._tag === "Fail" ? reason.error.message : ""
      assert.strictEqual(message, "invalid configuration: CHAINJOBS_SUI_NETWORKS: \"sui-a\" names a chain or another Sui network already")
    }))
})
