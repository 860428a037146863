import { assert, describe, it } from "@effect/vitest"
import { Clock, Duration, Effect, Schema } from "effect"
import * as Quota from "../src/Quota.ts"

/** A clock the test moves by assignment: `setTime` sets it, `adjust` moves it on. */
interface SetClock {
  readonly setTime: (millis: number) => void
  readonly adjust: (millis: number) => void
}

/**
 * Runs `body` with a clock it sets itself, from 0. The quota only reads the time (it never sleeps), so this is all
 * `TestClock` gave these properties, without its cost: a test clock layer built for each of a property's runs, and
 * a scheduler round trip (a fork and a yield) for each `setTime` — together most of this file's 4 s.
 */
const withSetClock = <A, E>(body: (clock: SetClock) => Effect.Effect<A, E>): Effect.Effect<A, E> =>
  Effect.suspend(() => {
    let now = 0
    const millis = () => now
    const nanos = () => BigInt(now) * 1_000_000n
    const clock: Clock.Clock = {
      currentTimeMillisUnsafe: millis,
      currentTimeMillis: Effect.sync(millis),
      currentTimeNanosUnsafe: nanos,
      currentTimeNanos: Effect.sync(nanos),
      monotonicTimeNanosUnsafe: nanos,
      monotonicTimeNanos: Effect.sync(nanos),
      sleep: () => Effect.die("the quota never sleeps")
    }
    const set: SetClock = { setTime: (millis) => void (now = millis), adjust: (millis) => void (now += millis) }
    return Effect.provideService(body(set), Clock.Clock, clock)
  })

const Limit = Schema.Int.check(Schema.isBetween({ minimum: 2, maximum: 200 }))
/** How many periods the window is longer than one millisecond per token (windows from 1 ms a token to 20 ms a token). */
const MillisPerToken = Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 20 }))
/** Each request's lateness, as a fraction of the jitter a paced client may have. */
const Lateness = Schema.Array(Schema.Finite.check(Schema.isBetween({ minimum: 0, maximum: 0.99 }))).check(
  Schema.isMinLength(1)
)

describe("Quota", () => {
  it.live.prop(
    "a client pacing itself at the limit is never refused, however its requests jitter late within the bucket's slack",
    { limit: Limit, millisPerToken: MillisPerToken, lateness: Lateness },
    ({ lateness, limit, millisPerToken }) =>
      withSetClock((clock) =>
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
            clock.setTime(at)
            const taken = yield* quota.take("client")
            if (taken._tag !== "Granted") return false
          }
          return true
        }))
  )

  it.live.prop(
    "past a full bucket a request is refused with the wait for the next token, and a refund gives the token back",
    { limit: Limit, millisPerToken: MillisPerToken },
    ({ limit, millisPerToken }) =>
      withSetClock((clock) =>
        Effect.gen(function*() {
          const quota = Quota.make({ limit, window: Duration.millis(limit * millisPerToken) })
          for (let i = 0; i < limit; i++) assert.strictEqual((yield* quota.take("burst"))._tag, "Granted")
          const refused = yield* quota.take("burst")
          assert.deepStrictEqual(refused, { _tag: "Refused", retryAfterMillis: millisPerToken })
          // another key has a bucket of its own
          assert.strictEqual((yield* quota.take("other"))._tag, "Granted")
          yield* quota.refund("burst")
          assert.strictEqual((yield* quota.take("burst"))._tag, "Granted")
          clock.adjust(millisPerToken)
          assert.strictEqual((yield* quota.take("burst"))._tag, "Granted")
          assert.strictEqual((yield* quota.take("burst"))._tag, "Refused")
        }))
  )

  it.live.prop(
    "a bucket of `burst` tokens lets that many through at once, then holds to the rate, and never holds more",
    { limit: Limit, millisPerToken: MillisPerToken, extra: Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 100 })) },
    ({ extra, limit, millisPerToken }) =>
      withSetClock((clock) =>
        Effect.gen(function*() {
          const burst = limit + extra
          const quota = Quota.make({ limit, window: Duration.millis(limit * millisPerToken), burst })
          for (let i = 0; i < burst; i++) assert.strictEqual((yield* quota.take("client"))._tag, "Granted")
          assert.strictEqual((yield* quota.take("client"))._tag, "Refused")
          clock.adjust(millisPerToken)
          assert.strictEqual((yield* quota.take("client"))._tag, "Granted")
          assert.strictEqual((yield* quota.take("client"))._tag, "Refused")
          // a pause long enough for twice `burst` tokens refills the bucket to `burst`, never beyond
          clock.adjust(2 * burst * millisPerToken)
          for (let i = 0; i < burst; i++) assert.strictEqual((yield* quota.take("client"))._tag, "Granted")
          assert.strictEqual((yield* quota.take("client"))._tag, "Refused")
        }))
  )

  it.live.prop(
    "part of a token refilled shortens the wait by as much; a clock that steps back takes no tokens away",
    { limit: Limit, millisPerToken: MillisPerToken.check(Schema.isGreaterThan(1)), part: Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 18 })) },
    ({ limit, millisPerToken, part }) =>
      withSetClock((clock) =>
        Effect.gen(function*() {
          // 1 to millisPerToken - 1 ms after the bucket ran dry (part of a token): every run checks one
          const after = 1 + (part % (millisPerToken - 1))
          const quota = Quota.make({ limit, window: Duration.millis(limit * millisPerToken) })
          clock.setTime(10_000)
          for (let i = 0; i < limit; i++) yield* quota.take("client")
          clock.setTime(10_000 + after)
          const waitAfter = (taken: Quota.Taken) => {
            assert.strictEqual(taken._tag, "Refused")
            // the refill is fractional: its rounding may add a millisecond
            const wait = (taken as Extract<Quota.Taken, { _tag: "Refused" }>).retryAfterMillis
            assert.include([millisPerToken - after, millisPerToken - after + 1], wait)
          }
          waitAfter(yield* quota.take("client"))
          // back in time: the bucket keeps what it had, and refills from where it was
          yield* quota.refund("client")
          clock.setTime(5_000)
          assert.strictEqual((yield* quota.take("client"))._tag, "Granted")
          clock.setTime(10_000 + after)
          waitAfter(yield* quota.take("client"))
        }))
  )
})
