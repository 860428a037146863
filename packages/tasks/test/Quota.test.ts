import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Schema } from "effect"
import { TestClock } from "effect/testing"
import * as Quota from "../src/Quota.ts"

const Limit = Schema.Int.check(Schema.isBetween({ minimum: 2, maximum: 200 }))
/** How many periods the window is longer than one millisecond per token (windows from 1 ms a token to 20 ms a token). */
const MillisPerToken = Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 20 }))
/** Each request's lateness, as a fraction of the jitter a paced client may have. */
const Lateness = Schema.Array(Schema.Finite.check(Schema.isBetween({ minimum: 0, maximum: 0.99 }))).check(
  Schema.isMinLength(1)
)

describe("Quota", () => {
  it.effect.prop(
    "a client pacing itself at the limit is never refused, however its requests jitter late within the bucket's slack",
    { limit: Limit, millisPerToken: MillisPerToken, lateness: Lateness },
    ({ lateness, limit, millisPerToken }) =>
      Effect.gen(function*() {
        const windowMillis = limit * millisPerToken
        const quota = Quota.make({ limit, window: Duration.millis(windowMillis) })
        const period = windowMillis / limit
        // Request i is due at i periods and may come up to (limit - 1) periods late, less the clock's 1 ms granularity.
        const slack = Math.max(0, (limit - 1) * period - 1)
        const requests = 3 * limit
        let last = 0
        for (let i = 0; i < requests; i++) {
          const at = Math.max(last, Math.floor(i * period + lateness[i % lateness.length] * slack))
          last = at
          yield* TestClock.setTime(at)
          const taken = yield* quota.take("client")
          if (taken._tag !== "Granted") return false
        }
        return true
      })
  )

  it.effect.prop(
    "past a full bucket a request is refused with the wait for the next token, and a refund gives the token back",
    { limit: Limit, millisPerToken: MillisPerToken },
    ({ limit, millisPerToken }) =>
      Effect.gen(function*() {
        const quota = Quota.make({ limit, window: Duration.millis(limit * millisPerToken) })
        for (let i = 0; i < limit; i++) assert.strictEqual((yield* quota.take("burst"))._tag, "Granted")
        const refused = yield* quota.take("burst")
        assert.deepStrictEqual(refused, { _tag: "Refused", retryAfterMillis: millisPerToken })
        // another key has a bucket of its own
        assert.strictEqual((yield* quota.take("other"))._tag, "Granted")
        yield* quota.refund("burst")
        assert.strictEqual((yield* quota.take("burst"))._tag, "Granted")
        yield* TestClock.adjust(Duration.millis(millisPerToken))
        assert.strictEqual((yield* quota.take("burst"))._tag, "Granted")
        assert.strictEqual((yield* quota.take("burst"))._tag, "Refused")
      })
  )

  it.effect.prop(
    "a bucket of `burst` tokens lets that many through at once, then holds to the rate",
    { limit: Limit, millisPerToken: MillisPerToken, extra: Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 400 })) },
    ({ extra, limit, millisPerToken }) =>
      Effect.gen(function*() {
        const burst = limit + extra
        const quota = Quota.make({ limit, window: Duration.millis(limit * millisPerToken), burst })
        for (let i = 0; i < burst; i++) assert.strictEqual((yield* quota.take("client"))._tag, "Granted")
        assert.strictEqual((yield* quota.take("client"))._tag, "Refused")
        yield* TestClock.adjust(Duration.millis(millisPerToken))
        assert.strictEqual((yield* quota.take("client"))._tag, "Granted")
        assert.strictEqual((yield* quota.take("client"))._tag, "Refused")
      })
  )

  it.effect.prop(
    "part of a token refilled shortens the wait by as much; a clock that steps back takes no tokens away",
    { limit: Limit, millisPerToken: MillisPerToken.check(Schema.isGreaterThan(1)), after: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 19 })) },
    ({ after, limit, millisPerToken }) =>
      Effect.gen(function*() {
        if (after >= millisPerToken) return
        const quota = Quota.make({ limit, window: Duration.millis(limit * millisPerToken) })
        yield* TestClock.setTime(10_000)
        for (let i = 0; i < limit; i++) yield* quota.take("client")
        yield* TestClock.setTime(10_000 + after)
        const waitAfter = (taken: Quota.Taken) => {
          assert.strictEqual(taken._tag, "Refused")
          // the refill is fractional: its rounding may add a millisecond
          const wait = (taken as Extract<Quota.Taken, { _tag: "Refused" }>).retryAfterMillis
          assert.include([millisPerToken - after, millisPerToken - after + 1], wait)
        }
        waitAfter(yield* quota.take("client"))
        // back in time: the bucket keeps what it had, and refills from where it was
        yield* quota.refund("client")
        yield* TestClock.setTime(5_000)
        assert.strictEqual((yield* quota.take("client"))._tag, "Granted")
        yield* TestClock.setTime(10_000 + after)
        waitAfter(yield* quota.take("client"))
      })
  )
})
