/**
 * One endpoint's pool, budget, pause and metrics, on a scripted endpoint:
 * the counts and gauges it reports after requests and while one is in
 * flight, a connection kept for the
 * next request, a request that gets no answer failing with `Timeout`, a batch
 * larger than the whole rate budget, and the requests after a 429 held back
 * until the pause is over.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Layer, Logger, Metric, Schedule } from "effect"
import { RateLimiter } from "effect/persistence"
import { client, devChainConfig } from "./fixtures.ts"
import * as ScriptedNode from "./ScriptedNode.ts"

/** Answers every call with its first parameter. */
const echo: ScriptedNode.Script = (calls, batch) => {
  const answers = calls.map((call) => ScriptedNode.result(call, call.params[0]))
  return { body: batch ? answers : answers[0] }
}

/** The state of the endpoint's metric `id`. */
const metric = (url: string, id: string) =>
  Effect.map(Metric.snapshot, (metrics) =>
    metrics.find((metric) => metric.id === id && metric.attributes?.endpoint === url)?.state as Record<string, number> | undefined)

describe("an endpoint's pool", () => {
  it.live("counts requests (a batch once) and failures, and reports its pool as it stands after them", () =>
    Effect.gen(function*() {
      let seen = 0
      const node = yield* ScriptedNode.make((calls, batch) => ++seen === 3 ? { status: 500, body: "down" } : echo(calls, batch))
      const evm = yield* client(devChainConfig([{ url: node.url, maxConnections: 4 }], { retry: { times: 0 } }))
      yield* evm.request("echo", [1])
      yield* evm.batch([{ method: "echo", params: [2] }, { method: "echo", params: [3] }])
      yield* Effect.flip(evm.request("echo", [4]))
      const [health] = yield* evm.health
      // the endpoint's chain id question (answered by the node, not noted by it) counts as a request too
      assert.deepInclude(health, { url: node.url, inUse: 0, waiting: 0, max: 4, utilization: 0, requests: 4, failures: 1, rateLimit: null })
      // the connection stays open for the next request
      assert.strictEqual(health!.idle, 1)
      assert.strictEqual((yield* metric(node.url, "chainjobs_rpc_requests"))?.count, 4)
      assert.strictEqual((yield* metric(node.url, "chainjobs_rpc_failures"))?.count, 1)
      // a connection was free every time: the waits are recorded as (short) durations
      const waits = yield* metric(node.url, "chainjobs_rpc_pool_wait_ms")
      assert.strictEqual(waits?.count, 4)
      assert.isTrue(waits!.min >= 0 && waits!.max < 60_000, `waits of ${waits!.min}–${waits!.max} ms`)
      // a connection given back is reported free
      assert.strictEqual((yield* metric(node.url, "chainjobs_rpc_connections_in_use"))?.value, 0)
      assert.strictEqual((yield* metric(node.url, "chainjobs_rpc_pool_utilization"))?.value, 0)
    }))

  it.live("a request in flight holds one of its connections: in use, and the utilization its share of the most", () =>
    Effect.gen(function*() {
      let arrived = false
      const node = yield* ScriptedNode.make(() => {
        arrived = true
        return { body: null, stall: true }
      })
      const evm = yield* client(devChainConfig([{ url: node.url, maxConnections: 4 }], { requestTimeout: "1 hour", retry: { times: 0 } }))
      const pending = yield* Effect.forkChild(evm.request("eth_blockNumber"))
      yield* Effect.suspend(() => arrived ? Effect.void : Effect.fail("not yet")).pipe(
        Effect.retry({ schedule: Schedule.spaced("10 millis") }), // until it holds: the test's timeout bounds the wait
        Effect.orDie
      )
      assert.deepInclude((yield* evm.health)[0]!, { inUse: 1, max: 4, utilization: 0.25 })
      assert.strictEqual((yield* metric(node.url, "chainjobs_rpc_connections_in_use"))?.value, 1)
      assert.strictEqual((yield* metric(node.url, "chainjobs_rpc_pool_utilization"))?.value, 0.25)
      yield* Fiber.interrupt(pending)
      assert.deepInclude((yield* evm.health)[0]!, { inUse: 0, utilization: 0 })
      assert.strictEqual((yield* metric(node.url, "chainjobs_rpc_connections_in_use"))?.value, 0)
    }))

  it.live("a request without an answer within requestTimeout fails with Timeout, naming the limit", () =>
    Effect.gen(function*() {
      const node = yield* ScriptedNode.make(() => ({ body: null, stall: true }))
      const evm = yield* client(devChainConfig([node.url], { requestTimeout: "150 millis", retry: { times: 0 } }))
      const error = yield* Effect.flip(evm.request("eth_blockNumber"))
      assert.deepInclude(error.reason, { _tag: "Timeout", endpoint: node.url, millis: 150 })
      assert.strictEqual(error.message, `${node.url}: no answer within 150 ms`)
      assert.strictEqual((yield* evm.health)[0]!.inUse, 0)
    }))

  it.live("a batch of more calls than the whole rate budget takes the whole budget instead of waiting forever", () =>
    Effect.gen(function*() {
      const node = yield* ScriptedNode.make(echo)
      // the endpoint's chain id question takes a token first: the batch waits for the bucket to fill again (half a
      // second), then takes all of it; a batch asking for more than the bucket holds would wait forever
      const evm = yield* client(devChainConfig([{ url: node.url, rateLimit: { limit: 4, window: "2 seconds" } }], { batchSize: 10 }))
      const calls = Array.from({ length: 10 }, (_, index) => ({ method: "echo", params: [index] }))
      assert.deepStrictEqual(yield* evm.batch(calls), calls.map((_, index) => index))
      assert.deepInclude((yield* evm.health)[0]!, { rateLimit: { limit: 4, windowMillis: 2_000 } })
    }))

  it.live("after a 429 the endpoint's next request waits until its pause is over", () =>
    Effect.gen(function*() {
      const arrivals: Array<number> = []
      const node = yield* ScriptedNode.make((calls, batch) => {
        arrivals.push(Date.now())
        return arrivals.length === 1 ? { status: 429, headers: { "retry-after": "1" }, body: "slow down" } : echo(calls, batch)
      })
      const evm = yield* client(devChainConfig([node.url], { retry: { times: 0 } }))
      assert.strictEqual((yield* Effect.flip(evm.request("echo", [1]))).reason._tag, "RateLimited")
      assert.strictEqual(yield* evm.request("echo", [2]), 2)
      // the pause is a second; timers may fire a little early
      assert.isAtLeast(arrivals[1]! - arrivals[0]!, 950)
      assert.strictEqual((yield* evm.health)[0]!.pausedForMillis, 0)
    }))

  it.live("a rate limiter store that fails lets the request through, with a warning, rather than waiting as for a spent budget", () =>
    Effect.gen(function*() {
      const node = yield* ScriptedNode.make(echo)
      const down = () => Effect.fail(new RateLimiter.RateLimiterError({ reason: new RateLimiter.RateLimitStoreError({ message: "store down" }) }))
      const failingStore = RateLimiter.RateLimiterStore.of({ fixedWindow: down, tokenBucket: down, adaptiveConsume: down, adaptiveFeedback: down })
      const config = devChainConfig([{ url: node.url, rateLimit: { limit: 5, window: "1 second" } }], { retry: { times: 0 } })
      const evm = yield* client(config, Layer.succeed(RateLimiter.RateLimiterStore, failingStore))
      const warnings: Array<string> = []
      const capture = Logger.make<unknown, void>(({ logLevel, message }) => {
        if (logLevel === "Warn") warnings.push(String(Array.isArray(message) ? message[0] : message))
      })
      const answered = yield* evm.request("echo", ["0x7"]).pipe(Effect.provide(Logger.layer([capture])))
      assert.strictEqual(answered, "0x7")
      assert.strictEqual(node.requests(), 1)
      // once for the endpoint's chain id question, once for the call
      assert.deepStrictEqual(warnings, ["chainjobs: rate limiter store failed", "chainjobs: rate limiter store failed"])
    }))
})

