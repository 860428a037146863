/**
 * `StreamSlots`, the counted slots behind `TaskAccess`' `maxEventStreams` and
 * `maxTaskStreams` and the RPC server's `maxStreamsPerConnection`, on its
 * own: any interleaving of takes (in a scope, or `enter`ed and `leave`n) and
 * releases by several holders admits a take exactly while its holder holds
 * fewer than the limit, never lets one hold more, counts each refusal of
 * `take` in `refused` (an `enter` turned away counts none), and ends with no
 * holder once every slot is given back;
 * a limit that is not a whole number of at least 1 is refused at construction.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Metric, Schema, Scope } from "effect"
import * as StreamSlots from "../src/StreamSlots.ts"

/** The refusal the slots under test give: the holder and how many it held. */
class Refused extends Schema.TaggedError<Refused>("test/StreamSlots/Refused")("Refused", {
  holder: Schema.String,
  open: Schema.Number
}) {}

/** The refusals counted under `name` so far. */
const refusedCount = (name: string) =>
  Effect.map(Metric.value(Metric.withAttributes(StreamSlots.refused, { limit: name })), (state) => state.count)

let made = 0

describe("StreamSlots", () => {
  it.effect.prop(
    "any interleaving of takes and releases admits a take exactly while its holder holds fewer than the limit, and ends at 0",
    {
      limit: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 4 })),
      steps: Schema.Array(Schema.Struct({
        who: Schema.Literals(["a", "b", "c"]),
        /**
         * `take` a slot in a scope, or `enter` one; `release` one of the holder's (the `pick`th, modulo how many it
         * holds: its scope closed, or the one entered left).
         */
        op: Schema.Literals(["take", "take", "enter", "release"]),
        pick: Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 7 }))
      })).check(Schema.isMaxLength(40))
    },
    ({ limit, steps }) =>
      Effect.gen(function*() {
        const name = `prop-${made++}`
        const slots = yield* StreamSlots.make({
          setting: "limit",
          name,
          limit,
          refuse: (holder: string, open) => new Refused({ holder, open })
        })
        /** Each holder's slots, as the effect that gives one back. */
        const held: Record<string, Array<Effect.Effect<void>>> = { a: [], b: [], c: [] }
        let refusals = 0
        for (const { op, pick, who } of steps) {
          const mine = held[who]
          if (op === "release") {
            if (mine.length === 0) continue
            const [release] = mine.splice(pick % mine.length, 1)
            yield* release
          } else if (op === "enter") {
            assert.strictEqual(slots.enter(who), mine.length < limit, `${who} holds ${mine.length} of ${limit}`)
            if (mine.length < limit) mine.push(Effect.sync(() => slots.leave(who)))
          } else {
            const scope = yield* Scope.make()
            const exit = yield* Effect.exit(Scope.provide(slots.take(who), scope))
            if (mine.length < limit) {
              assert.isTrue(Exit.isSuccess(exit), `${who} holds ${mine.length} of ${limit}: admitted`)
              mine.push(Scope.close(scope, Exit.void))
            } else {
              assert.deepStrictEqual(exit, Exit.fail(new Refused({ holder: who, open: limit })))
              refusals++
              yield* Scope.close(scope, Exit.void)
            }
          }
          for (const holder of ["a", "b", "c"]) {
            assert.strictEqual(slots.held(holder), held[holder].length)
            assert.isAtMost(slots.held(holder), limit)
          }
          assert.strictEqual(slots.holders(), Object.values(held).filter((scopes) => scopes.length > 0).length)
        }
        assert.strictEqual(yield* refusedCount(name), refusals)
        for (const release of [...held.a, ...held.b, ...held.c]) yield* release
        assert.strictEqual(slots.holders(), 0)
        assert.strictEqual(slots.held("a") + slots.held("b") + slots.held("c"), 0)
      }),
    { timeout: 60_000, arbitrary: { runs: 60 } }
  )

  it.effect("a slot whose scope closes by interruption is given back", () =>
    Effect.gen(function*() {
      const slots = yield* StreamSlots.make({ setting: "limit", name: "interrupted", limit: 1, refuse: (holder: string, open) => new Refused({ holder, open }) })
      const scope = yield* Scope.make()
      yield* Scope.provide(slots.take("a"), scope)
      assert.strictEqual(slots.held("a"), 1)
      yield* Scope.close(scope, Exit.interrupt())
      assert.strictEqual(slots.held("a"), 0)
      assert.isTrue(Exit.isSuccess(yield* Effect.exit(Effect.scoped(slots.take("a")))))
    }))

  /** `make` under `limit`: the slots, or the refusal of the limit. */
  const making = (limit: number) =>
    Effect.exit(StreamSlots.make({ setting: "maxEventStreams", name: "invalid", limit, refuse: (holder: string, open) => new Refused({ holder, open }) }))

  it("a refused limit that is not a number is shown by what it is: a string quoted, a function, an array or an object by its kind", () => {
    const shown = (limit: unknown) => new StreamSlots.InvalidSlotLimit({ setting: "maxEventStreams", limit }).message
    const prefix = "maxEventStreams must be a whole number of at least 1, not "
    assert.strictEqual(shown("5"), `${prefix}"5"`)
    assert.strictEqual(shown(""), `${prefix}""`)
    assert.strictEqual(shown(() => 5), `${prefix}a function`)
    assert.strictEqual(shown([5]), `${prefix}an array`)
    assert.strictEqual(shown({ valueOf: () => 5 }), `${prefix}an object`)
    assert.strictEqual(shown(null), `${prefix}null`)
    assert.strictEqual(shown(undefined), `${prefix}undefined`)
    assert.strictEqual(shown(5n), `${prefix}5`)
  })

  it.effect("a limit that is not a whole number of at least 1 is refused at construction, naming the setting and the value", () =>
    Effect.gen(function*() {
      for (const limit of [0, -0, -1, 0.5, 1.5, 999.999, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 2 ** 53]) {
        assert.deepStrictEqual(yield* making(limit), Exit.fail(new StreamSlots.InvalidSlotLimit({ setting: "maxEventStreams", limit })))
        const error = new StreamSlots.InvalidSlotLimit({ setting: "maxEventStreams", limit })
        assert.strictEqual(error.message, `maxEventStreams must be a whole number of at least 1, not ${limit}`)
      }
      for (const limit of [1, 2, 1000, Number.MAX_SAFE_INTEGER]) {
        const exit = yield* making(limit)
        assert.isTrue(Exit.isSuccess(exit) && exit.value.limit === limit, `${limit} is a limit`)
      }
    }))

  it.effect.prop(
    "any number is taken as a limit exactly when it is a whole number of at least 1",
    { limit: Schema.Number },
    ({ limit }) =>
      Effect.map(making(limit), (exit) => {
        const whole = Number.isSafeInteger(limit) && limit >= 1
        assert.strictEqual(Exit.isSuccess(exit), whole, `${limit}`)
        if (!whole) assert.deepStrictEqual(exit, Exit.fail(new StreamSlots.InvalidSlotLimit({ setting: "maxEventStreams", limit })))
      }),
    { timeout: 60_000 }
  )
})
