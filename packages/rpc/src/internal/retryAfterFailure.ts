/**
 * A retry set up only once it is needed. `Effect.retry` builds its schedule's
 * state and wraps the attempt in a service overlay on every run, failed or
 * not; a remote read almost never fails, and a client reads once or twice per
 * task (`await`), so the set-up was paid for nothing on nearly every call.
 */
import { Effect, type Schedule } from "effect"

/**
 * `effect` retried by `policy` as `Effect.retry` would: the same attempts at
 * the same delays (the schedule is handed the first failure as its first
 * input), but the retry is only made once a first attempt has failed.
 */
export const retryAfterFailure = <A, E, R, B>(
  effect: Effect.Effect<A, E, R>,
  policy: Schedule.Schedule<B, E>
): Effect.Effect<A, E, R> =>
  Effect.catch(effect, (error) => {
    // The attempt that failed is replayed to the schedule once, then the effect runs again.
    let replay = true
    return Effect.retry(
      Effect.suspend(() => {
        if (!replay) return effect
        replay = false
        return Effect.fail(error)
      }),
      policy
    )
  })
