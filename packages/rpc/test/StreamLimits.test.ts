/**
 * The limits of open streams at rpc's door, on a real server and raw
 * WebSockets: a connection holds at most `maxStreamsPerConnection` streaming
 * calls (`Watch`, `WatchAll`, `WatchChanges`) open, and a principal at most
 * `maxEventStreams` all-tasks streams (`WatchAll`, `WatchChanges`) over all its
 * connections. The call past either fails alone with its typed error, the
 * connection stays usable, the other streams and principals are untouched, and
 * a stream that ends — interrupted, or its client gone — frees its slot at once.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Metric } from "effect"
import { StreamSlots } from "@chainjobs/tasks"
import { TooManyStreams } from "../src/TaskRpcError.ts"
import { serve } from "./localServer.ts"
import { chunkOf, type Client, errorOf, exitOf, flows, open } from "./rawClient.ts"

/** A task that runs until the test ends, for `Watch` streams that stay open. */
const submitHolder = (client: Client, id: string) =>
  Effect.promise(async () => {
    client.call(id, "Submit", { kind: "gated", payload: { gate: `hold-${id}` } })
    const exit = await client.answer(exitOf(id))
    assert.strictEqual(exit.exit._tag, "Success", JSON.stringify(exit))
    return exit.exit.value.id as string
  })

/** The refusals counted under `limit` (`chainjobs_streams_refused_total`, the process's registry: the server runs here). */
const refusedCount = (limit: string) =>
  Effect.map(Metric.value(Metric.withAttributes(StreamSlots.refused, { limit })), (state) => state.count)

describe("open streams at the door", () => {
  it.live("a connection holds at most maxStreamsPerConnection streaming calls: the next fails alone, the connection stays usable, an ended one frees its slot", () =>
    Effect.scoped(Effect.gen(function*() {
      const port = yield* serve({}, { maxStreamsPerConnection: 3 })
      const alice = yield* open(port, "alice-token")
      const task = yield* submitHolder(alice, "s")
      // Three streams of every sort open: a task's, and two all-tasks streams.
      alice.call("w1", "Watch", { id: task })
      alice.call("w2", "WatchAll")
      alice.call("w3", "WatchChanges", {})
      yield* Effect.promise(() => alice.answer(chunkOf("w1")))
      const before = yield* refusedCount("streams-per-connection")
      alice.call("w4", "Watch", { id: task })
      const refused = errorOf(yield* Effect.promise(() => alice.answer(exitOf("w4"))))
      assert.deepStrictEqual(refused, { _tag: "TooManyStreams", limit: 3, open: 3 })
      // Counted for the operator, as a connection's refusal.
      assert.strictEqual((yield* refusedCount("streams-per-connection")) - before, 1)
      // Its message, as the client's decoded error tells it, says what its fields say.
      assert.strictEqual(
        new TooManyStreams({ limit: refused.limit, open: refused.open }).message,
        "this connection has 3 streaming calls open and may hold at most 3; end one before starting another"
      )
      // The connection still answers, and its streams flow: a change of the task reaches the open `Watch`.
      alice.call("g", "Get", { id: task })
      const got = yield* Effect.promise(() => alice.answer(exitOf("g")))
      assert.strictEqual(got.exit._tag, "Success")
      assert.isFalse(alice.answers.some((line) => line.requestId === "w1" && line._tag === "Exit"), "w1 stays open")
      // Another connection of the same principal has slots of its own.
      const other = yield* open(port, "alice-token")
      other.call("o1", "Watch", { id: task })
      yield* Effect.promise(() => other.answer(chunkOf("o1")))
      // An interrupted stream frees its slot: the next call is admitted.
      alice.interrupt("w2")
      yield* Effect.promise(() => alice.answer(exitOf("w2")))
      alice.call("w5", "Watch", { id: task })
      yield* Effect.promise(() => alice.answer(chunkOf("w5")))
      assert.isUndefined(alice.answers.find(exitOf("w5")), "w5 is admitted and open")
      alice.vanish()
      other.vanish()
    })), 30_000)

  it.live("a principal holds at most maxEventStreams all-tasks streams over all its connections: the next is refused with TooManyEventStreams; other principals are untouched; a vanished client's slots come back", () =>
    Effect.scoped(Effect.gen(function*() {
      const port = yield* serve({ maxEventStreams: 2 })
      const first = yield* open(port, "alice-token")
      const second = yield* open(port, "alice-token")
      first.call("a1", "WatchChanges", {})
      second.call("a2", "WatchAll")
      assert.isTrue(yield* flows(second, "a2", "x1"))
      assert.isTrue(yield* flows(first, "a1", "x2"))
      second.call("a3", "WatchChanges", {})
      const refused = errorOf(yield* Effect.promise(() => second.answer(exitOf("a3"))))
      assert.deepStrictEqual(refused, {
        _tag: "TaskAccessError",
        reason: { _tag: "TooManyEventStreams", principal: "alice", limit: 2, open: 2 }
      })
      // A task stream is not an all-tasks stream: still admitted.
      const task = yield* submitHolder(second, "s")
      second.call("t", "Watch", { id: task })
      yield* Effect.promise(() => second.answer(chunkOf("t")))
      // Bob has slots of his own, and alice's open streams still carry her changes.
      const bob = yield* open(port, "bob-token")
      bob.call("b1", "WatchAll")
      assert.isTrue(yield* flows(bob, "b1", "y1"))
      bob.call("b2", "WatchChanges", {})
      assert.isTrue(yield* flows(bob, "b2", "y2"))
      // Alice's open streams flow on.
      const before = first.answers.filter(chunkOf("a1")).length
      assert.isTrue(yield* flows(second, "a2", "x3"))
      yield* Effect.promise(() => first.answer((line) => chunkOf("a1")(line) && first.answers.filter(chunkOf("a1")).length > before))
      // The first connection goes without a word: its slot comes back, and alice may open another.
      first.vanish()
      let admitted = false
      for (let attempt = 0; attempt < 100 && !admitted; attempt++) {
        second.call(`again${attempt}`, "WatchAll")
        admitted = yield* flows(second, `again${attempt}`, `z${attempt}`)
        if (!admitted) yield* Effect.sleep("20 millis")
      }
      assert.isTrue(admitted, "a slot came back after the client vanished")
      second.vanish()
      bob.vanish()
    })), 30_000)
})
