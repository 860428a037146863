/**
 * An endpoint's limits as a chain client meets them, on a real Hardhat node
 * behind the fault proxy: a JSON-RPC batch spends one token of the rate
 * budget per call and waits once the budget is spent; a 5xx moves an attempt
 * on to the next endpoint even with no retries; and 429 answers pause an
 * endpoint without tripping its circuit.
 */
import { DevChain } from "@chainjobs/devchain"
import { assert, layer } from "@effect/vitest"
import { Context, Effect, Fiber, Layer, Schedule } from "effect"
import { CircuitBreaker, RateLimiter } from "effect/persistence"
import * as EvmClient from "../src/EvmClient.ts"
import * as FaultProxy from "./FaultProxy.ts"
import { client, devChainConfig } from "./fixtures.ts"

/** Polls (on the real clock) until the condition holds: for waiting on a real server. */
const eventually = (condition: () => boolean) =>
  Effect.suspend(() => condition() ? Effect.void : Effect.fail("not yet")).pipe(
    Effect.retry({ schedule: Schedule.spaced("10 millis") }), // until it holds: the test's timeout bounds the wait
    Effect.orDie
  )

/** What the rate limiter's store was asked: the tokens of each request for the budget, and whether it got them. */
interface Consumption {
  readonly tokens: number
  readonly granted: boolean
}

/**
 * The memory rate-limiter store, noting each token-bucket request (the calls
 * go through to it unchanged), for a client of its own.
 */
const recordingClient = (config: Parameters<typeof EvmClient.make>[0]) =>
  Effect.gen(function*() {
    const consumed: Array<Consumption> = []
    const stores = yield* Layer.build(Layer.mergeAll(RateLimiter.layerStoreMemory, CircuitBreaker.layerStoreMemory()))
    const memory = Context.get(stores, RateLimiter.RateLimiterStore)
    const store = RateLimiter.RateLimiterStore.of({
      ...memory,
      tokenBucket: (options) =>
        Effect.tap(memory.tokenBucket(options), ([remaining]) =>
          Effect.sync(() => consumed.push({ tokens: options.tokens, granted: remaining >= 0 })))
    })
    const limiter = yield* Layer.build(RateLimiter.layer.pipe(Layer.provide(Layer.succeed(RateLimiter.RateLimiterStore, store))))
    const evm = yield* EvmClient.make(config).pipe(Effect.provideContext(Context.merge(stores, limiter)))
    return { evm, consumed }
  })

const blockNumbers = (count: number) =>
  Array.from({ length: count }, () => ({ method: "eth_blockNumber", params: [] as ReadonlyArray<unknown> }))

layer(DevChain.layer(), { excludeTestServices: true, timeout: "60 seconds" })("an endpoint's limits", (it) => {
  it.effect("a batch of n calls spends n tokens of the rate budget, and the next call waits for a token", () =>
    Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      const proxy = yield* FaultProxy.make(chain.url)
      const batch = 5
      // A budget of exactly the endpoint's chain id question and one batch, refilled only after an hour: what follows
      // the batch has to wait.
      const { consumed, evm } = yield* recordingClient(devChainConfig(
        [{ url: proxy.url, rateLimit: { limit: batch + 1, window: "1 hour" } }],
        // no request time limit: a batch timed out on a loaded machine is sent again, and waits an hour for tokens
        { batchSize: batch, requestTimeout: "1 hour" }
      ))
      const results = yield* evm.batch(blockNumbers(batch))
      assert.strictEqual(results.length, batch)
      assert.strictEqual(proxy.counts.requests, 1, "one HTTP request for the batch")
      // the question's token (the proxy forwards the question uncounted), then the batch's
      assert.deepStrictEqual(consumed, [{ tokens: 1, granted: true }, { tokens: batch, granted: true }])

      const next = yield* Effect.forkChild(evm.request("eth_blockNumber"))
      yield* eventually(() => consumed.length > 2 || next.pollUnsafe() !== undefined)
      assert.isUndefined(next.pollUnsafe(), "the call after a spent budget did not wait")
      assert.deepStrictEqual(consumed[2], { tokens: 1, granted: false })
      assert.strictEqual(proxy.counts.requests, 1, "nothing reached the endpoint over its budget")
      yield* Fiber.interrupt(next)
    }))

  it.effect("a call waiting for a token asks the store again when one may be there, not over and over", () =>
    Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      // a token a second, and none left after the first call. A window much longer than a call takes even on a loaded
      // machine: a call refused near the end of a short one (a 200 ms window, a call 190 ms after the first) had its
      // token within a millisecond, so a wait of 1 ms (retryAfter lost) looked the same as the right wait
      const { consumed, evm } = yield* recordingClient(devChainConfig([{ url: chain.url, rateLimit: { limit: 1, window: "1 second" } }]))
      // Calls one after another until one is refused: on a loaded machine a call may come a whole window after the
      // one before it and find a fresh token (bounded: back to back, one soon comes within the window).
      for (let calls = 0; calls < 20 && consumed.every((item) => item.granted); calls++) yield* evm.request("eth_blockNumber")
      const refused = consumed.findIndex((item) => !item.granted)
      assert.isTrue(refused > 0, `no call was refused in 20: ${JSON.stringify(consumed)}`)
      // the refused call slept until the next token (a timer may wake a moment early: one more refusal), and got it
      const refusals = consumed.slice(refused).filter((item) => !item.granted).length
      assert.isTrue(refusals >= 1 && refusals <= 2, `${refusals} refusals`)
      assert.deepStrictEqual([consumed[0]?.granted, consumed.at(-1)?.granted], [true, true])
    }))

  it.effect("with no retries, one attempt moves on to the next endpoint after a 5xx", () =>
    Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      const failing = yield* FaultProxy.make(chain.url, { serverError: 1 })
      const healthy = yield* FaultProxy.make(chain.url)
      const evm = yield* client(devChainConfig([failing.url, healthy.url], { retry: { times: 0 } }))
      const head = yield* evm.request("eth_blockNumber")
      assert.strictEqual(typeof head, "string")
      assert.strictEqual(failing.counts.serverError, 1)
      assert.strictEqual(healthy.counts.forwarded, 1)
    }))

  it.effect("429 answers, more than trip a circuit, leave it closed", () =>
    Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      const failures = 3
      const limited = yield* FaultProxy.make(chain.url, { rateLimited: 1, retryAfterSeconds: 0 })
      const evm = yield* client(devChainConfig(
        [{ url: limited.url, rateLimitedPause: "1 millis" }],
        { retry: { times: 0 }, breaker: { failures, openDuration: "1 hour" } }
      ))
      for (let i = 0; i < 2 * failures; i++) {
        const error = yield* Effect.flip(evm.request("eth_blockNumber"))
        assert.strictEqual(error.reason._tag, "RateLimited")
      }
      assert.strictEqual(limited.counts.rateLimited, 2 * failures, "every request reached the endpoint")
      const [health] = yield* evm.health
      assert.strictEqual(health.circuit, "Closed")
      // Once the endpoint answers again, it is used: an open circuit would have turned it away for an hour.
      limited.set({ rateLimited: 0 })
      assert.strictEqual(typeof (yield* evm.request("eth_blockNumber")), "string")
    }))
})
