/**
 * A submission quota per key as a token bucket: each key holds up to `burst`
 * tokens (by default `limit`), refilled continuously at `limit` per
 * `window`, and a submission takes one. A client that paces itself at the
 * limit always finds a token (a fixed window refuses it whenever its timing
 * jitters across a window's boundary), and a burst of up to `burst` passes at
 * once after a pause.
 *
 * Buckets live in memory (one per key, e.g. per principal), so the quota is
 * per process. Time is the Effect `Clock`, so tests drive it with `TestClock`.
 *
 * @since 0.1.0
 */
import { Clock, Context, Duration, Effect } from "effect"

/** The rate of a quota: `limit` per `window`, with bursts of up to `burst`. */
export interface QuotaRate {
  /** Tokens per `window`. At least 1. */
  readonly limit: number
  /** The time in which `limit` tokens are refilled. */
  readonly window: Duration.Input
  /**
   * The most a bucket holds: how far a client may run ahead of the rate at
   * once, and so how long a stall (of the client, the network or the
   * server) the quota absorbs before it refuses a client that kept to the
   * rate on average. At least `limit`. Default: `limit` (one window's worth).
   */
  readonly burst?: number | undefined
}

/** What `take` found: a token, or how long until one is there. */
export type Taken =
  | { readonly _tag: "Granted" }
  | { readonly _tag: "Refused"; readonly retryAfterMillis: number }

/** A token bucket per key. */
export interface Quota {
  /** The rate the buckets are refilled at. */
  readonly rate: { readonly limit: number; readonly windowMillis: number; readonly burst: number }
  /** Takes one token from the key's bucket, or says how long until there is one. */
  take(key: string): Effect.Effect<Taken>
  /** Gives back a token taken for a request that then turned out invalid (it never exceeds the bucket's size). */
  refund(key: string): Effect.Effect<void>
}

interface Bucket {
  tokens: number
  at: number
}

/** Tolerance for the floating-point refill: a token 1e-9 short still counts. */
const epsilon = 1e-9

/** A quota of `rate`, with every bucket full at first. */
export const make = (rate: QuotaRate): Quota => {
  const limit = Math.max(1, rate.limit)
  const burst = Math.max(limit, rate.burst ?? limit)
  const windowMillis = Math.max(1, Duration.toMillis(Duration.fromInputUnsafe(rate.window)))
  const perMilli = limit / windowMillis
  const buckets = new Map<string, Bucket>()

  const refilled = (key: string, now: number): Bucket => {
    const bucket = buckets.get(key)
    if (bucket === undefined) {
      const full = { tokens: burst, at: now }
      buckets.set(key, full)
      return full
    }
    if (now > bucket.at) {
      bucket.tokens = Math.min(burst, bucket.tokens + (now - bucket.at) * perMilli)
      bucket.at = now
    }
    return bucket
  }

  return {
    rate: { limit, windowMillis, burst },
    take: (key) =>
      Effect.map(Clock.currentTimeMillis, (now): Taken => {
        const bucket = refilled(key, now)
        if (bucket.tokens + epsilon >= 1) {
          bucket.tokens = Math.max(0, bucket.tokens - 1)
          return { _tag: "Granted" }
        }
        return { _tag: "Refused", retryAfterMillis: Math.max(1, Math.ceil((1 - bucket.tokens) / perMilli)) }
      }),
    refund: (key) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        const bucket = refilled(key, now)
        bucket.tokens = Math.min(burst, bucket.tokens + 1)
      })
  }
}

/**
 * How the access facade makes its quota: in memory (`make`, per process) unless
 * the context gives another maker, e.g. a cluster's, whose buckets every
 * runner shares.
 */
export const Maker = Context.Reference<(rate: QuotaRate) => Quota>("@chainjobs/tasks/Quota/Maker", {
  defaultValue: () => make
})
