/**
 * A chain's configuration as data: every field not given takes the default
 * the module documents, nested groups (retry, breaker, logRange) merge field
 * by field, and each endpoint gets the endpoint defaults.
 */
import { assert, describe, it } from "@effect/vitest"
import { Duration } from "effect"
import * as ChainConfig from "../src/ChainConfig.ts"

const millis = (input: Duration.Input) => Duration.toMillis(Duration.fromInputUnsafe(input))

describe("ChainConfig", () => {
  it("fills in the documented defaults", () => {
    const config = ChainConfig.chain({ name: "mainnet", chainId: 1, endpoints: [{ url: "https://a.example" }] })
    assert.deepStrictEqual([config.name, config.chainId], ["mainnet", 1])
    assert.strictEqual(millis(config.requestTimeout), 10_000)
    assert.deepStrictEqual([config.retry.times, millis(config.retry.base), millis(config.retry.max)], [6, 100, 5_000])
    assert.deepStrictEqual([config.breaker.failures, millis(config.breaker.openDuration)], [5, 5_000])
    assert.strictEqual(millis(config.headTtl), 10_000)
    assert.deepStrictEqual([config.batchSize, config.batchConcurrency], [50, 4])
    assert.deepStrictEqual(config.logRange, { initial: 2000, min: 1, max: 10_000 })
    const [endpoint] = config.endpoints
    assert.strictEqual(endpoint!.url, "https://a.example")
    assert.strictEqual(endpoint!.maxConnections, 8)
    assert.deepStrictEqual(
      [millis(endpoint!.acquireTimeout), millis(endpoint!.idleTimeout), millis(endpoint!.rateLimitedPause)],
      [5_000, 30_000, 1_000]
    )
    assert.isUndefined(endpoint!.rateLimit)
    assert.deepStrictEqual(endpoint!.headers, {})
  })

  it("merges nested groups field by field and keeps what is given", () => {
    const config = ChainConfig.chain({
      name: "base",
      chainId: 8453,
      endpoints: [{ url: "https://a.example", maxConnections: 2, headers: { "x-api-key": "k" } }, { url: "https://b.example" }],
      batchSize: 10,
      retry: { times: 1 },
      breaker: { openDuration: "1 minute" },
      logRange: { max: 500 }
    })
    assert.deepStrictEqual([config.retry.times, millis(config.retry.base), millis(config.retry.max)], [1, 100, 5_000])
    assert.deepStrictEqual([config.breaker.failures, millis(config.breaker.openDuration)], [5, 60_000])
    assert.deepStrictEqual(config.logRange, { initial: 2000, min: 1, max: 500 })
    assert.deepStrictEqual([config.batchSize, config.batchConcurrency], [10, 4])
    assert.deepStrictEqual(config.endpoints.map((endpoint) => [endpoint.url, endpoint.maxConnections, endpoint.headers]), [
      ["https://a.example", 2, { "x-api-key": "k" }],
      ["https://b.example", 8, {}]
    ])
    assert.deepStrictEqual(ChainConfig.endpoint({ url: "https://c.example", rateLimit: { limit: 25, window: "1 second" } }).rateLimit, {
      limit: 25,
      window: "1 second"
    })
  })
})
