/**
 * A retry set up only once it is needed. `Effect.retry` builds its schedule's
 * state and wraps the attempt in a service overlay on every run, failed or
 * not; a remote read almost never fails, and a client reads once or twice per
 * task (`await`), so the set-up was paid for nothing on nearly every call.
 */
import { Cause, Effect, type Schedule } from "effect"

/**
 * `effect` retried by `policy` as `Effect.retry` would: the same attempts at
 * the same delays (the schedule is handed the first failure as its first
 * input), but the retry is only made once a first attempt has failed. A
 * defect or an interruption is not retried, as by `Effect.retry`. The failure
 * the schedule stops at is failed with its own `Cause` (its trace, spans and
 * annotations), where `Effect.retry` makes a new one of its error.
 */
export const retryAfterFailure = <A, E, R, B>(
  effect: Effect.Effect<A, E, R>,
  policy: Schedule.Schedule<B, E>
): Effect.Effect<A, E, R> =>
  Effect.catchCause(effect, (first) => {
    // what `Effect.retry` retries: a cause with a typed failure and no defect
    if (Cause.hasDies(first) || !Cause.hasFails(first)) return Effect.failCause(first)
    // The attempt that failed is replayed to the schedule once, then the effect runs again; `last` is the cause of the
    // latest failure, the one failed with when the schedule stops.
    let last = first
    let replay = true
    return Effect.retryOrElse(
      Effect.suspend(() => {
        if (!replay) return Effect.tapCause(effect, (cause) => Effect.sync(() => (last = cause)))
        replay = false
        return Effect.failCause(first)
      }),
      policy,
      () => Effect.failCause(last)
    )
  })
