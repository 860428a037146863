/**
 * `streamSlots`, the per-connection counter behind `maxStreamsPerConnection`,
 * on its own: a slot is held while its stream runs and given back as it ends,
 * the count of a connection with streams still open stays exact when one of
 * them ends, and a connection whose streams have all ended is forgotten; a
 * limit that is not a whole number of at least 1 is refused, naming the setting.
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Stream } from "effect"
import { Rpc } from "effect/rpc"
import { StreamSlots } from "@chainjobs/tasks"
import { TooManyStreams } from "../src/TaskRpcError.ts"
import { streamSlots } from "../src/TaskRpcServer.ts"

/** A stream that holds its slot until `release` is completed, then ends. */
const held = (slots: Effect.Success<ReturnType<typeof streamSlots>>, client: Rpc.ServerClient) =>
  Effect.gen(function*() {
    const release = yield* Deferred.make<void>()
    const started = yield* Deferred.make<void>()
    const fiber = yield* Effect.forkChild(Stream.runDrain(slots.limited(
      client,
      Stream.fromEffect(Effect.andThen(Deferred.succeed(started, undefined), Deferred.await(release)))
    )))
    yield* Deferred.await(started)
    return { end: Effect.andThen(Deferred.succeed(release, undefined), Fiber.join(fiber)) }
  })

/** The failure of a stream refused its slot, if it is refused. */
const refusal = (slots: Effect.Success<ReturnType<typeof streamSlots>>, client: Rpc.ServerClient) =>
  Effect.map(Effect.exit(Stream.runDrain(slots.limited(client, Stream.make(1)))), (exit) =>
    Exit.isFailure(exit) ? exit.cause : undefined)

describe("streamSlots", () => {
  it.effect("keeps an exact count of a connection whose streams end one at a time, and forgets it once none is open", () =>
    Effect.gen(function*() {
      const slots = yield* streamSlots(2)
      const one = new Rpc.ServerClient(1)
      const other = new Rpc.ServerClient(2)
      const first = yield* held(slots, one)
      const second = yield* held(slots, one)
      const elsewhere = yield* held(slots, other)
      assert.strictEqual(slots.connections(), 2)
      // One of two ended: the connection still holds one slot, so it has room for one more, not two.
      yield* first.end
      assert.strictEqual(slots.connections(), 2)
      const third = yield* held(slots, one)
      const refused = yield* refusal(slots, one)
      assert.isDefined(refused)
      assert.deepStrictEqual(
        refused!.reasons.map((reason) => reason._tag === "Fail" ? reason.error : reason),
        [new TooManyStreams({ limit: 2, open: 2 })]
      )
      yield* second.end
      yield* third.end
      // Every stream of connection 1 ended: it is forgotten; connection 2 still holds its slot.
      assert.strictEqual(slots.connections(), 1)
      yield* elsewhere.end
      assert.strictEqual(slots.connections(), 0)
    }))

  it.effect("gives the slot of a stream that completes at once back, every time", () =>
    Effect.gen(function*() {
      const slots = yield* streamSlots(1)
      const client = new Rpc.ServerClient(7)
      for (let round = 0; round < 3; round++) {
        assert.isUndefined(yield* refusal(slots, client))
        assert.strictEqual(slots.connections(), 0)
      }
    }))

  it.effect("refuses a limit that is not a whole number of at least 1 with InvalidSlotLimit naming maxStreamsPerConnection", () =>
    Effect.gen(function*() {
      for (const limit of [0, -1, 1.5, Number.NaN]) {
        const made = yield* Effect.exit(streamSlots(limit))
        assert.deepStrictEqual(made, Exit.fail(new StreamSlots.InvalidSlotLimit({ setting: "maxStreamsPerConnection", limit })))
      }
    }))
})
