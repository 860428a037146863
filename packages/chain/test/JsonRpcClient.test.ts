/**
 * Failover and circuits across a network's endpoints, on scripted
 * endpoints: a node's own JSON-RPC error is its verdict (no other endpoint is
 * asked, and it proves the node healthy: its circuit stays closed); and an attempt
 * that found one endpoint without a free connection and another failing
 * reports the failure, which is retried (at once after a 429, whose pause
 * holds only its endpoint); a request that dies ends with its
 * own defect and leaves its circuit closed. The retries' waits on the test
 * clock: capped at `retry.max`, and past an open circuit's close.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Layer, Schedule } from "effect"
import { RateLimiter } from "effect/persistence"
import { TestClock } from "effect/testing"
import type * as EvmClient from "../src/EvmClient.ts"
import { client, devChainConfig } from "./fixtures.ts"
import * as ScriptedNode from "./ScriptedNode.ts"

/** Polls (on the real clock) until the condition holds. */
const eventually = (condition: () => boolean) =>
  Effect.suspend(() => condition() ? Effect.void : Effect.fail("not yet")).pipe(
    Effect.retry({ schedule: Schedule.spaced("10 millis") }), // until it holds: the test's timeout bounds the wait
    Effect.orDie
  )

/**
 * Moves the test clock on a millisecond at a time, with a millisecond of real time after each step for the
 * requests' real I/O, until `fiber` ends or `boundMillis` of the clock passed; the fiber's exit, if it ended.
 */
const untilEnded = <A, E>(fiber: Fiber.Fiber<A, E>, boundMillis: number) =>
  Effect.gen(function*() {
    for (let elapsed = 0; elapsed < boundMillis && fiber.pollUnsafe() === undefined; elapsed++) {
      yield* TestClock.adjust("1 millis")
      yield* TestClock.withLive(Effect.sleep("1 millis"))
    }
    return fiber.pollUnsafe()
  })

/** A node that answers its first request 503, then every other with `0x1`. */
const failingOnce = Effect.suspend(() => {
  let failed = false
  return ScriptedNode.make((calls) => {
    if (failed) return { body: ScriptedNode.result(calls[0]!, "0x1") }
    failed = true
    return { status: 503, body: "unavailable" }
  })
})

describe("JsonRpcClient's retry waits, on the test clock", () => {
  it.effect("a retry waits at most retry.max, however long the exponential backoff has grown", () =>
    Effect.gen(function*() {
      const node = yield* failingOnce
      // the backoff's first delay alone would be a minute: capped at 100 ms, the retry comes well within 2 s
      const evm = yield* client(devChainConfig([node.url], {
        requestTimeout: "1 hour",
        retry: { times: 1, base: "1 minute", max: "100 millis" }
      }))
      const exit = yield* untilEnded(yield* Effect.forkChild(evm.request("eth_blockNumber")), 2_000)
      assert.isDefined(exit, "the retry did not come within 2 s of the test clock, though retry.max is 100 ms")
      assert.deepStrictEqual(exit, Exit.succeed("0x1"))
      assert.strictEqual(node.requests(), 2)
    }))

  it.effect("with every circuit open, a retry waits until one may close, and a little more: it finds the circuit half-open", () =>
    Effect.gen(function*() {
      const node = yield* failingOnce
      // the first failure opens the circuit for 1 s; the next attempt finds it open (Unavailable, retryAfterMillis
      // about 990), and the one after must wait past its close: a retry before it would find it open again and end
      // the request, the retries spent
      const evm = yield* client(devChainConfig([node.url], {
        requestTimeout: "1 hour",
        retry: { times: 2, base: "10 millis", max: "10 millis" },
        breaker: { failures: 1, openDuration: "1 second" }
      }))
      const exit = yield* untilEnded(yield* Effect.forkChild(evm.request("eth_blockNumber")), 3_000)
      assert.deepStrictEqual(exit, Exit.succeed("0x1"), String(exit))
      assert.strictEqual(node.requests(), 2)
    }))
})

describe("JsonRpcClient failover and circuits", () => {
  it.live("a node's own JSON-RPC error is final: no other endpoint is asked, and its circuit stays closed", () =>
    Effect.gen(function*() {
      const refusing = yield* ScriptedNode.make((calls) => ({ body: ScriptedNode.error(calls[0]!.id, -32601, "the method does not exist") }))
      const spare = yield* ScriptedNode.make((calls) => ({ body: ScriptedNode.result(calls[0]!, "0x1") }))
      const evm = yield* client(devChainConfig([refusing.url, spare.url], { breaker: { failures: 2, openDuration: "1 hour" } }))
      for (let round = 0; round < 4; round++) {
        assert.deepInclude((yield* Effect.flip(evm.request("eth_noSuchMethod"))).reason, { _tag: "JsonRpc", code: -32601 })
      }
      assert.deepStrictEqual([refusing.requests(), spare.requests()], [4, 0])
      assert.deepStrictEqual((yield* evm.health).map((endpoint) => endpoint.circuit), ["Closed", "Closed"])
    }))

  it.live("an attempt that found no free connection on one endpoint and a failure on another fails as the failure, and is retried", () =>
    Effect.gen(function*() {
      const busy = yield* ScriptedNode.make(() => ({ body: null, stall: true }))
      // fails the next request when told to (after the holders are in place), answers any other
      let failNext = false
      const flaky = yield* ScriptedNode.make((calls) => {
        if (!failNext) return { body: ScriptedNode.result(calls[0]!, "0x2") }
        failNext = false
        return { status: 503, body: "unavailable" }
      })
      const endpoints = [{ url: busy.url, maxConnections: 1, acquireTimeout: "20 millis" }, { url: flaky.url }] as const
      // The busy endpoint's only connection is held by a request that never gets an answer. Asked again until one
      // lands there: on a starved machine even the first connection can take past the 20 ms acquireTimeout, and that
      // request then goes to the other endpoint, which answers it.
      const hold = (evm: EvmClient.EvmClient) => Effect.forkChild(Effect.forever(evm.request("eth_blockNumber")))
      const evm = yield* client(devChainConfig(endpoints, { requestTimeout: "1 hour", retry: { times: 1 } }))
      const holder = yield* hold(evm)
      yield* eventually(() => busy.requests() === 1)
      const answered = flaky.requests()
      failNext = true
      assert.strictEqual(yield* evm.request("eth_blockNumber"), "0x2")
      assert.strictEqual(flaky.requests() - answered, 2)
      const once = yield* client(devChainConfig(endpoints, { requestTimeout: "1 hour", retry: { times: 0 } }))
      const onceHolder = yield* hold(once)
      yield* eventually(() => busy.requests() === 2)
      failNext = true
      assert.deepInclude((yield* Effect.flip(once.request("eth_blockNumber"))).reason, { _tag: "HttpStatus", status: 503 })
      // the held requests are given up: a pool closes only once its connections are back
      yield* Fiber.interrupt(holder)
      yield* Fiber.interrupt(onceHolder)
    }))

  it.live("an endpoint paused by a 429 is asked last: the next request goes to the other endpoint first", () =>
    Effect.gen(function*() {
      // pauses its endpoint for 20 s with its first answer, then answers
      let refused = false
      const limited = yield* ScriptedNode.make((calls) => {
        if (refused) return { body: ScriptedNode.result(calls[0]!, "0x1") }
        refused = true
        return { status: 429, headers: { "retry-after": "20" }, body: "slow down" }
      })
      const spare = yield* ScriptedNode.make((calls) => ({ body: ScriptedNode.result(calls[0]!, "0x2") }))
      const evm = yield* client(devChainConfig([limited.url, spare.url], { requestTimeout: "1 hour", retry: { times: 0 } }))
      // the first request is refused by the first endpoint and answered by the other
      assert.strictEqual(yield* evm.request("eth_blockNumber"), "0x2")
      assert.deepStrictEqual([limited.requests(), spare.requests()], [1, 1])
      assert.isAbove((yield* evm.health)[0]!.pausedForMillis, 0)
      // the next ones go to the other endpoint, not to the paused one, whose request would wait out its 20 s pause
      // (the request timeout covers the post, not that wait): a request still waiting after 3 s is answered as held
      const next = evm.request("eth_blockNumber").pipe(
        Effect.timeoutOrElse({ duration: "3 seconds", orElse: () => Effect.succeed("held by the paused endpoint") })
      )
      assert.strictEqual(yield* next, "0x2")
      assert.strictEqual(yield* next, "0x2")
      assert.deepStrictEqual([limited.requests(), spare.requests()], [1, 3])
    }), 30_000)

  it.live("an attempt whose last endpoint answered 429 is retried without waiting out that endpoint's pause: the first is asked again at once", () =>
    Effect.gen(function*() {
      // refuses its first request (503), then answers
      let failed = false
      const flaky = yield* ScriptedNode.make((calls) => {
        if (failed) return { body: ScriptedNode.result(calls[0]!, "0x1") }
        failed = true
        return { status: 503, body: "unavailable" }
      })
      const limited = yield* ScriptedNode.make(() => ({ status: 429, headers: { "retry-after": "20" }, body: "slow down" }))
      const evm = yield* client(devChainConfig([flaky.url, limited.url], { requestTimeout: "1 hour", retry: { times: 1 } }))
      // the retry's wait is the backoff's (milliseconds), not the 20 s pause: a request still waiting after 3 s is held
      const answered = yield* evm.request("eth_blockNumber").pipe(
        Effect.timeoutOrElse({ duration: "3 seconds", orElse: () => Effect.succeed("held for the 429's pause") })
      )
      assert.strictEqual(answered, "0x1")
      assert.deepStrictEqual([flaky.requests(), limited.requests()], [2, 1])
    }), 30_000)

  it.live("while a half-open circuit's probe is in flight, another request waits for its verdict, spending no retry", () =>
    Effect.gen(function*() {
      // refuses the first request (opening the circuit), holds the answer to the next (the probe) until released
      let release = () => {}
      const released = new Promise<void>((resolve) => {
        release = resolve
      })
      let seen = 0
      const node = yield* ScriptedNode.make((calls) =>
        ++seen === 1
          ? { status: 503, body: calls.length }
          : { body: ScriptedNode.result(calls[0]!, "0x1"), ...(seen === 2 ? { after: released } : {}) }
      )
      const evm = yield* client(devChainConfig([node.url], {
        requestTimeout: "1 hour",
        retry: { times: 0 },
        breaker: { failures: 1, openDuration: "50 millis" }
      }))
      // released before the client closes (its pool waits for the probe's connection) however the test ends
      yield* Effect.addFinalizer(() => Effect.sync(release))
      assert.deepInclude((yield* Effect.flip(evm.request("eth_blockNumber"))).reason, { _tag: "HttpStatus", status: 503 })
      // once the circuit may close, the next request is its probe, held by the node
      yield* Effect.sleep("100 millis")
      const probe = yield* Effect.forkChild(evm.request("eth_blockNumber"))
      yield* eventually(() => node.requests() === 2)
      // another request meets the half-open circuit: with no retry to spend it would fail as Unavailable at once
      const other = yield* Effect.forkChild(Effect.exit(evm.request("eth_blockNumber")))
      yield* Effect.sleep("100 millis")
      assert.strictEqual(other.pollUnsafe(), undefined, `it ended while the probe was held: ${String(other.pollUnsafe())}`)
      release()
      assert.strictEqual(yield* Fiber.join(probe), "0x1")
      assert.deepStrictEqual(yield* Fiber.join(other), Exit.succeed("0x1"))
      assert.strictEqual(node.requests(), 3)
    }))

  it.live("a request that found no free connection does not break the streak of failures that opens the circuit", () =>
    Effect.gen(function*() {
      // refuses the first request, holds every later one (until the client's time limit)
      let seen = 0
      const node = yield* ScriptedNode.make((calls) => ++seen === 1 ? { status: 503, body: calls.length } : { body: null, stall: true })
      const evm = yield* client(devChainConfig([{ url: node.url, maxConnections: 1, acquireTimeout: "20 millis" }], {
        requestTimeout: "2 seconds",
        retry: { times: 0 },
        breaker: { failures: 2, openDuration: "1 hour" }
      }))
      // a failure, then a request the node holds until it times out, and meanwhile one that finds no free connection.
      // On a starved machine the first connection can take past the 20 ms acquireTimeout: the first request is asked
      // again until the node has it (a PoolExhausted before any failure leaves the streak at 0 either way).
      const refused = yield* Effect.flip(evm.request("eth_blockNumber")).pipe(
        Effect.repeat({ until: (error) => error.reason._tag !== "PoolExhausted" })
      )
      assert.deepInclude(refused.reason, { _tag: "HttpStatus", status: 503 })
      const held = yield* Effect.forkChild(Effect.flip(evm.request("eth_blockNumber")))
      yield* eventually(() => node.requests() === 2)
      assert.deepInclude((yield* Effect.flip(evm.request("eth_blockNumber"))).reason, { _tag: "PoolExhausted" })
      assert.deepInclude((yield* Fiber.join(held)).reason, { _tag: "Timeout" })
      // two failures in a row: the circuit is open
      assert.deepStrictEqual((yield* evm.health).map((endpoint) => endpoint.circuit), ["Open"])
    }), 30_000)

  it.live("a request that dies (its rate limiter's store has a defect) ends with that defect alone, and its circuit stays closed", () =>
    Effect.gen(function*() {
      const node = yield* ScriptedNode.make((calls) => ({ body: ScriptedNode.result(calls[0]!, "0x1") }))
      const defect = new Error("the store broke")
      const broken = () => Effect.die(defect)
      const store = RateLimiter.RateLimiterStore.of({ fixedWindow: broken, tokenBucket: broken, adaptiveConsume: broken, adaptiveFeedback: broken })
      const evm = yield* client(
        devChainConfig([{ url: node.url, rateLimit: { limit: 5, window: "1 second" } }], {
          retry: { times: 0 },
          breaker: { failures: 1, openDuration: "1 hour" }
        }),
        Layer.succeed(RateLimiter.RateLimiterStore, store)
      )
      for (let round = 0; round < 2; round++) {
        const exit = yield* Effect.exit(evm.request("eth_blockNumber"))
        // the breaker's classification of a cause without a failure adds no defect of its own
        const reasons = Exit.isFailure(exit) ? exit.cause.reasons : []
        assert.deepStrictEqual(reasons.map((reason) => reason._tag), ["Die"], String(exit))
        assert.strictEqual(reasons[0]?._tag === "Die" ? reasons[0].defect : undefined, defect)
      }
      assert.strictEqual(node.requests(), 0)
      assert.deepStrictEqual((yield* evm.health).map((endpoint) => endpoint.circuit), ["Closed"])
    }))
})

