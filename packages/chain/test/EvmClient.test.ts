import { assert, layer } from "@effect/vitest"
import { Duration, Effect, Fiber, Layer, Metric, Schedule } from "effect"
import { CircuitBreaker, RateLimiter } from "effect/persistence"
import type { Hash } from "viem"
import { transferTopic } from "../src/AddressScan.ts"
import { DevChain } from "@chainjobs/devchain"
import * as ChainConfig from "../src/ChainConfig.ts"
import * as EvmClient from "../src/EvmClient.ts"
import * as FaultProxy from "./FaultProxy.ts"
import { client, devChainConfig, Seeded, seededChain } from "./fixtures.ts"

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, index) => from + index)

/** Polls (on the real clock) until the condition holds: for waiting on a real server. */
const eventually = (condition: () => boolean) =>
  Effect.suspend(() => condition() ? Effect.void : Effect.fail("not yet")).pipe(
    Effect.retry({ schedule: Schedule.spaced("10 millis") }), // until it holds: the test's timeout bounds the wait
    Effect.orDie
  )

layer(seededChain({ rounds: 20 }), { excludeTestServices: true, timeout: 120_000 })("EvmClient", (it) => {
  it.effect("reads blocks and receipts in batches, identical to one-by-one reads", () =>
    Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      const seeded = yield* Seeded
      const evm = yield* client(devChainConfig([chain.url], { batchSize: 7 }))
      const numbers = range(seeded.fromBlock, seeded.fromBlock + 30)
      const batched = yield* evm.getBlocks(numbers, { transactions: true })
      const single = yield* Effect.forEach(numbers, (number) => evm.getBlocks([number], { transactions: true }))
      assert.deepStrictEqual(batched, single.flat())
      assert.deepStrictEqual(batched.map((block) => Number(block.number)), numbers)
      const hashes = batched.flatMap((block) => block.transactions.map((tx) => (tx as { hash: Hash }).hash))
      const receipts = yield* evm.getReceipts(hashes)
      assert.deepStrictEqual(receipts.map((receipt) => receipt.transactionHash), hashes)
    }))

  it.effect("caches the head for its TTL", () =>
    Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      const cached = yield* client(devChainConfig([chain.url], { headTtl: "1 hour" }))
      const fresh = yield* client(devChainConfig([chain.url], { headTtl: 0 }))
      const before = yield* cached.head
      yield* fresh.request("hardhat_mine", ["0x2"])
      assert.strictEqual(yield* cached.head, before)
      assert.strictEqual(yield* fresh.head, before + 2)
    }))

  it.effect("sends an endpoint's configured headers (an API key) with every request", () =>
    Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      const proxy = yield* FaultProxy.make(chain.url, { requireHeaders: { "x-api-key": "k-123" } })
      const keyed = yield* client(devChainConfig([{ url: proxy.url, headers: { "x-api-key": "k-123" } }]))
      yield* keyed.request("net_version", [])
      assert.isAbove((yield* keyed.getBlocks([0, 1])).length, 0)
      assert.isAbove(proxy.counts.forwarded, 0)
      assert.strictEqual(proxy.counts.unauthorized, 0)
      // without the key the provider refuses every request
      const keyless = yield* client(devChainConfig([proxy.url], { retry: { times: 0 } }))
      yield* Effect.flip(keyless.request("net_version", []))
      assert.isAbove(proxy.counts.unauthorized, 0)
    }))

  it.effect("caches the head for 10 seconds by default", () =>
    Effect.sync(() => {
      assert.strictEqual(Duration.toMillis(Duration.fromInputUnsafe(ChainConfig.chainDefaults.headTtl)), 10_000)
      assert.strictEqual(Duration.toMillis(Duration.fromInputUnsafe(ChainConfig.chain({ name: "x", chainId: 1, endpoints: [] }).headTtl)), 10_000)
    }))

  it.effect("shrinks eth_getLogs ranges a node rejects and grows them back", () =>
    Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      const seeded = yield* Seeded
      const proxy = yield* FaultProxy.make(chain.url, { maxLogRange: 16 })
      const direct = yield* client(devChainConfig([chain.url]))
      const limited = yield* client(devChainConfig([proxy.url], { logRange: { initial: 1000, max: 1000 } }))
      const filter = { topics: [transferTopic], fromBlock: 0, toBlock: seeded.toBlock }
      const expected = yield* direct.getLogs(filter)
      assert.strictEqual(expected.length, seeded.activity.filter((item) => item.kind === "erc20").length)
      assert.deepStrictEqual(yield* limited.getLogs(filter), expected)
      assert.isAbove(proxy.counts.rangeRejected, 0)
      const shrunk = yield* limited.logRange
      assert.isAtMost(shrunk, 64)
      proxy.set({ maxLogRange: Number.POSITIVE_INFINITY })
      assert.deepStrictEqual(yield* limited.getLogs(filter), expected)
      assert.isAbove(yield* limited.logRange, shrunk * 2)
    }))

  it.effect("grows eth_getLogs ranges only after a request of the full range succeeded", () =>
    Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      const seeded = yield* Seeded
      const proxy = yield* FaultProxy.make(chain.url, { maxLogRange: 16 })
      const evm = yield* client(devChainConfig([proxy.url], { logRange: { initial: 16, max: 1024 } }))
      // short queries (4 blocks) prove nothing about 32 or more blocks
      for (let from = 0; from < 40; from += 4) yield* evm.getLogs({ topics: [transferTopic], fromBlock: from, toBlock: from + 3 })
      assert.strictEqual(yield* evm.logRange, 16)
      assert.strictEqual(proxy.counts.rangeRejected, 0)
      yield* evm.getLogs({ topics: [transferTopic], fromBlock: 0, toBlock: seeded.toBlock })
      // at most one rejection per 16 blocks (each attempt to grow), none of a size grown by short queries
      assert.isAtMost(proxy.counts.rangeRejected, Math.ceil((seeded.toBlock + 1) / 16))
    }))

  it.effect("against a fixed range limit, tries the range rejected again only after a run of accepted ones", () =>
    Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      const seeded = yield* Seeded
      const proxy = yield* FaultProxy.make(chain.url, { maxLogRange: 8 })
      const direct = yield* client(devChainConfig([chain.url]))
      const evm = yield* client(devChainConfig([proxy.url], { logRange: { initial: 8, max: 1024 } }))
      const filter = { topics: [transferTopic], fromBlock: 0, toBlock: seeded.toBlock }
      assert.deepStrictEqual(yield* evm.getLogs(filter), yield* direct.getLogs(filter))
      // doubling after every accepted range had every other query rejected (one per chunk of 8); now one in
      // `ceilingRetryAfter` + 1 at most, and the first
      const chunks = Math.ceil((seeded.toBlock + 1) / 8)
      assert.isAbove(proxy.counts.rangeRejected, 0)
      assert.isAtMost(proxy.counts.rangeRejected, Math.ceil(chunks / (EvmClient.ceilingRetryAfter + 1)) + 1, `of ${chunks} chunks`)
      assert.isAtMost(yield* evm.logRange, 16)
    }))

  it.effect("treats a JSON-RPC error that says the request budget is spent as a 429, not as a range too large", () =>
    Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      const seeded = yield* Seeded
      const throttled = yield* FaultProxy.make(chain.url, { rpcRateLimited: 0.3 }, 3)
      const direct = yield* client(devChainConfig([chain.url]))
      const evm = yield* client(devChainConfig([{ url: throttled.url, rateLimitedPause: "5 millis" }], {
        logRange: { initial: 1000, max: 1000 }
      }))
      const filter = { topics: [transferTopic], fromBlock: 0, toBlock: seeded.toBlock }
      for (let round = 0; round < 5; round++) assert.deepStrictEqual(yield* evm.getLogs(filter), yield* direct.getLogs(filter))
      assert.deepStrictEqual(yield* Effect.forEach(range(1, 10), () => evm.request("net_version")), range(1, 10).map(() => "31337"))
      assert.isAbove(throttled.counts.rpcRateLimited, 2)
      assert.strictEqual(yield* evm.logRange, 1000)
    }))

  it.effect("fails over to the next endpoint and opens the failing endpoint's circuit", () =>
    Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      const down = yield* FaultProxy.make(chain.url, { serverError: 1 })
      const evm = yield* client(devChainConfig([down.url, chain.url], { breaker: { failures: 3, openDuration: "1 hour" } }))
      const heads = yield* Effect.forEach(range(1, 10), () => evm.request("net_version"))
      assert.deepStrictEqual(new Set(heads), new Set(["31337"]))
      assert.strictEqual(down.counts.serverError, 3)
      const health = yield* evm.health
      assert.deepStrictEqual(health.map((endpoint) => endpoint.circuit), ["Open", "Closed"])
    }))

  it.effect("retries once an open circuit may close instead of giving up while it is open", () =>
    Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      const failing = yield* FaultProxy.make(chain.url, { serverError: 1 })
      const evm = yield* client(devChainConfig([failing.url], {
        retry: { times: 3, base: "5 millis", max: "20 millis" },
        breaker: { failures: 2, openDuration: "500 millis" }
      }))
      const request = yield* Effect.forkChild(evm.request("net_version"))
      yield* eventually(() => failing.counts.serverError === 2)
      failing.set({ serverError: 0 })
      assert.strictEqual(yield* Fiber.join(request), "31337")
      assert.strictEqual(failing.counts.forwarded, 1)
    }))

  it.effect("does not retry a node's own JSON-RPC error", () =>
    Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      const counting = yield* FaultProxy.make(chain.url)
      const evm = yield* client(devChainConfig([counting.url]))
      const error = yield* Effect.flip(evm.request("eth_noSuchMethod"))
      assert.strictEqual(error.reason._tag, "JsonRpc")
      assert.strictEqual(counting.counts.requests, 1)
    }))

  it.effect("moves off an endpoint that answers 429 for its Retry-After, without opening its circuit", () =>
    Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      const throttled = yield* FaultProxy.make(chain.url, { rateLimited: 1, retryAfterSeconds: 3600 })
      const evm = yield* client(devChainConfig([throttled.url, chain.url]))
      const answers = yield* Effect.forEach(range(1, 10), () => evm.request("net_version"))
      assert.deepStrictEqual(new Set(answers), new Set(["31337"]))
      assert.strictEqual(throttled.counts.rateLimited, 1)
      assert.deepStrictEqual((yield* evm.health).map((endpoint) => endpoint.circuit), ["Closed", "Closed"])
    }))

  it.effect("fails with PoolExhausted when no connection frees up in time, and an interrupted request frees its connection", () =>
    Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      const stalling = yield* FaultProxy.make(chain.url, { stall: 1 })
      const evm = yield* client(devChainConfig([{ url: stalling.url, maxConnections: 1, acquireTimeout: "50 millis" }], {
        requestTimeout: "5 seconds",
        retry: { times: 0 }
      }))
      // The only connection is held by a request the proxy stalls. Asked again until one lands there: on a starved
      // machine even the first connection can take past the 50 ms acquireTimeout (a PoolExhausted, counted a failure).
      const holder = yield* Effect.forkChild(Effect.forever(evm.request("net_version")))
      yield* eventually(() => stalling.counts.stall === 1)
      const failedBefore = (yield* evm.health)[0]!.failures
      const error = yield* Effect.flip(evm.request("net_version"))
      assert.strictEqual(error.reason._tag, "PoolExhausted")
      const [stats] = yield* evm.health
      assert.deepStrictEqual([stats!.inUse, stats!.max, stats!.utilization], [1, 1, 1])
      const metrics = (yield* Metric.snapshot).filter((metric) => metric.attributes?.endpoint === stalling.url)
      const state = (id: string) => metrics.find((metric) => metric.id === id)?.state as Record<string, number> | undefined
      assert.strictEqual(state("chainjobs_rpc_connections_in_use")?.value, 1)
      assert.strictEqual(state("chainjobs_rpc_pool_utilization")?.value, 1)
      // a wait is recorded for each connection borrowed: the endpoint's chain id question's and the holder's only
      assert.strictEqual(state("chainjobs_rpc_pool_wait_ms")?.count, 2)
      assert.strictEqual(state("chainjobs_rpc_failures")?.count, failedBefore + 1)
      // interrupting the stalled request aborts it and frees its connection
      yield* Fiber.interrupt(holder)
      assert.strictEqual((yield* evm.health)[0]!.inUse, 0)
      stalling.set({ stall: 0 })
      assert.strictEqual(yield* evm.request("net_version"), "31337")
    }), 30_000)

  it.effect("a request that found no free connection does not count for the endpoint's circuit", () =>
    Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      const stalling = yield* FaultProxy.make(chain.url, { stall: 1 })
      // the holder's request limit is the window in which the second request must find the connection taken: at
      // 150 ms, a loaded machine (load 42) let it time out first, and the second request got the connection
      const evm = yield* client(devChainConfig([{ url: stalling.url, maxConnections: 1, acquireTimeout: "20 millis" }], {
        requestTimeout: "1 second",
        retry: { times: 0 },
        breaker: { failures: 2, openDuration: "1 hour" }
      }))
      // each time: one request holds the only connection and times out, another finds none free meanwhile. On a
      // starved machine the holder's own connection can take past the 20 ms acquireTimeout (a PoolExhausted, which
      // the circuit ignores): it is asked again until the proxy holds it, or the wait for the stall never ends
      for (let round = 1; round <= 2; round++) {
        const holder = yield* Effect.forkChild(
          Effect.flip(evm.request("net_version")).pipe(Effect.repeat({ until: (error) => error.reason._tag !== "PoolExhausted" }))
        )
        yield* eventually(() => stalling.counts.stall === round)
        assert.strictEqual((yield* Effect.flip(evm.request("net_version"))).reason._tag, "PoolExhausted")
        assert.strictEqual((yield* Fiber.join(holder)).reason._tag, "Timeout")
      }
      // two timeouts in a row open the circuit: no answer came in between
      assert.deepStrictEqual((yield* evm.health).map((endpoint) => endpoint.circuit), ["Open"])
    }), 30_000)

  it.effect("moves to the next endpoint when one has no free connection, and fails with PoolExhausted only when none has", () =>
    Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      const stalling = yield* FaultProxy.make(chain.url, { stall: 1 })
      const spare = yield* FaultProxy.make(chain.url)
      const busy = { url: stalling.url, maxConnections: 1, acquireTimeout: "20 millis" } as const
      const evm = yield* client(devChainConfig([busy, { url: spare.url, maxConnections: 1, acquireTimeout: "20 millis" }], {
        requestTimeout: "5 seconds",
        retry: { times: 0 }
      }))
      const holder = yield* Effect.forkChild(evm.request("net_version"))
      yield* eventually(() => stalling.counts.stall === 1)
      assert.strictEqual(yield* evm.request("net_version"), "31337")
      assert.strictEqual(spare.counts.forwarded, 1)
      // with the spare's only connection held too, nothing is free
      spare.set({ stall: 1 })
      const second = yield* Effect.forkChild(evm.request("net_version"))
      yield* eventually(() => spare.counts.stall === 1)
      assert.strictEqual((yield* Effect.flip(evm.request("net_version"))).reason._tag, "PoolExhausted")
      yield* Fiber.interrupt(holder)
      yield* Fiber.interrupt(second)
    }))

  it.effect("holds requests back once the endpoint's rate limit is spent", () =>
    Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      const counting = yield* FaultProxy.make(chain.url)
      const evm = yield* client(devChainConfig([{ url: counting.url, rateLimit: { limit: 5, window: "1 minute" } }]))
      const fibers = yield* Effect.forEach(range(1, 8), () => Effect.forkChild(evm.request("net_version")))
      // the endpoint's eth_chainId question (not counted by the proxy) takes the first of the 5 tokens: 4 calls go
      yield* eventually(() => counting.counts.forwarded === 4)
      yield* Effect.sleep("200 millis")
      assert.strictEqual(counting.counts.requests, 4)
      yield* Effect.forEach(fibers, Fiber.interrupt)
    }))

  it.effect("lets requests through when the rate limiter's store fails", () =>
    Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      const broken = Effect.fail(
        new RateLimiter.RateLimiterError({ reason: new RateLimiter.RateLimitStoreError({ message: "store down" }) })
      )
      const store = RateLimiter.RateLimiterStore.of({
        fixedWindow: () => broken,
        tokenBucket: () => broken,
        adaptiveConsume: () => broken,
        adaptiveFeedback: () => broken
      })
      const stores = yield* Layer.build(Layer.mergeAll(
        RateLimiter.layer.pipe(Layer.provide(Layer.succeed(RateLimiter.RateLimiterStore, store))),
        CircuitBreaker.layerStoreMemory()
      ))
      const config = devChainConfig([{ url: chain.url, rateLimit: { limit: 1, window: "1 hour" } }])
      const evm = yield* EvmClient.make(config).pipe(Effect.provideContext(stores))
      assert.deepStrictEqual(yield* Effect.all([evm.request("net_version"), evm.request("net_version")]), ["31337", "31337"])
    }))

  it.effect("returns the same blocks through 429s, 5xx, stalls and garbled answers", () =>
    Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      const seeded = yield* Seeded
      const faulty = yield* FaultProxy.make(chain.url, { rateLimited: 0.1, serverError: 0.1, stall: 0.05, garble: 0.1 })
      const direct = yield* client(devChainConfig([chain.url]))
      // a third of its answers fail, and three in a row open the circuit (whose probe may fail again): 30 retries keep
      // a run of failures that spends them all improbable (10 did not, once, on a loaded machine: HTTP 502); its stalls
      // (each held to the 500 ms request timeout) and backoffs take past vitest's 5 s there too. While a half-open
      // circuit's probe stalls, the other batches wait for its verdict (they once failed as Unavailable at once and
      // spent their 30 retries within one stalled probe, at load 17-18); backoffs of up to 200 ms (not the default 50)
      // spread their retries after a probe fails
      const evm = yield* client(devChainConfig([faulty.url], { batchSize: 5, retry: { times: 30, max: "200 millis" } }))
      const numbers = range(seeded.fromBlock, seeded.toBlock)
      assert.deepStrictEqual(yield* evm.getBlocks(numbers), yield* direct.getBlocks(numbers))
      const { counts } = faulty
      assert.isTrue(counts.rateLimited > 0 && counts.serverError > 0 && counts.stall > 0 && counts.garble > 0)
    }), 60_000)
})
