/**
 * An interrupted call gives its request up: the SDK call is handed the
 * abort signal, so a request the node never answers is closed when its
 * caller stops waiting, not left open until the request's own time limit.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import * as SuiAdapter from "../src/SuiAdapter.ts"
import * as SuiCheck from "../src/SuiCheck.ts"
import * as SuiStandIn from "./SuiStandIn.ts"

/**
 * Runs `call` until the node holds the request that stalls (the `at`-th),
 * interrupts it, and waits for the node to see that request closed. The
 * request's own time limit is ten minutes: a request left open would hold
 * the test to vitest's bound.
 */
const interruptStalled = <A, E>(node: SuiStandIn.StandIn, call: Effect.Effect<A, E>, at: number) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.forkChild(call)
    while (node.requests.length < at || node.openRequests() === 0) yield* Effect.sleep("5 millis")
    yield* Fiber.interrupt(fiber)
    while (node.openRequests() > 0) yield* Effect.sleep("5 millis")
    assert.strictEqual(node.requests.length, at)
  })

describe("an interrupted call", () => {
  it.live("the head's request is closed", () =>
    Effect.gen(function*() {
      const node = yield* SuiStandIn.make()
      const adapter = SuiAdapter.make(yield* SuiStandIn.clientWith("10 minutes", node.url))
      node.inject("stall")
      yield* interruptStalled(node, adapter.head, 1)
    }).pipe(Effect.scoped))

  it.live("a connection check's request is closed, the chain identifier's or the latest checkpoint's", () =>
    Effect.gen(function*() {
      for (const at of [1, 2]) {
        const node = yield* SuiStandIn.make()
        const client = yield* SuiStandIn.clientWith("10 minutes", node.url)
        node.inject(...(at === 1 ? ["stall" as const] : ["none" as const, "stall" as const]))
        yield* interruptStalled(node, SuiCheck.check(client, node.url), at)
      }
    }).pipe(Effect.scoped))
})
