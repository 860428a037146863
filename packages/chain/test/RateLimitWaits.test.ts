/**
 * An endpoint's rate limit, as the requests waiting for it see it, told by
 * what reaches a scripted endpoint and in which order, never by how long
 * anything took: requests interrupted while they wait leave the budget to
 * the next ones (reserving it, a hundred of them would hold the next
 * request far past the test's timeout), and a batch waiting for its tokens
 * is sent before the single calls made after it.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { client, devChainConfig } from "./fixtures.ts"
import * as ScriptedNode from "./ScriptedNode.ts"

/** Answers every call with its first parameter. */
const echo: ScriptedNode.Script = (calls, batch) => {
  const answers = calls.map((call) => ScriptedNode.result(call, call.params[0]))
  return { body: batch ? answers : answers[0] }
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, index) => from + index)

describe("waiting for an endpoint's rate limit", () => {
  it.live("requests interrupted while they wait leave the budget to the next ones", () =>
    Effect.gen(function*() {
      const node = yield* ScriptedNode.make(echo)
      // 2 requests a second: a token every 500 ms
      const evm = yield* client(devChainConfig([{ url: node.url, rateLimit: { limit: 2, window: "1 second" } }]))
      const waiting = yield* Effect.forEach(range(1, 102), (index) => Effect.forkChild(evm.request("echo", [index])))
      while (node.requests() < 2) yield* Effect.sleep("10 millis")
      yield* Effect.forEach(waiting, Fiber.interrupt)
      // the next token, not the 100 the interrupted requests would have reserved (50 s, past the test's timeout)
      assert.strictEqual(yield* evm.request("echo", ["next"]), "next")
    }), 20_000)

  it.live("a batch waiting for its tokens is sent before the single calls made after it", () =>
    Effect.gen(function*() {
      const node = yield* ScriptedNode.make(echo)
      // a token every 100 ms, 4 at most
      const evm = yield* client(devChainConfig([{ url: node.url, rateLimit: { limit: 4, window: "400 millis" } }]))
      const calls = range(1, 4).map((index) => ({ method: "echo", params: [index] }))
      yield* evm.batch(calls)
      const batch = yield* Effect.forkChild(evm.batch(calls))
      // a single call every 50 ms would take each token as it comes
      const singles = yield* Effect.forkChild(
        Effect.forEach(range(1, 30), (index) => Effect.andThen(Effect.sleep("50 millis"), Effect.forkChild(evm.request("echo", [index]))))
      )
      assert.deepStrictEqual(yield* Fiber.join(batch), [1, 2, 3, 4])
      yield* Fiber.interrupt(singles)
      assert.deepStrictEqual(node.batches.slice(0, 2), [true, true], "the endpoint's second request is the waiting batch")
    }), 20_000)
})
