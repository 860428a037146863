/**
 * The attempt runner: runs one task from its start to its recorded outcome.
 * Each attempt marks the task running, writes that durably and runs the
 * handler in a scope of its own under the kind's timeout; failures are retried
 * on the kind's schedule (never timeouts, missed heartbeats or interruptions;
 * defects only when the policy asks); the ending (see `stop.ts`) is recorded
 * with a few retries of the write before the task is released.
 */
import { Context, Duration, Effect, Exit, Schedule, type Scope } from "effect"
import { TaskAborted } from "../TaskError.ts"
import { TaskContext } from "../TaskContext.ts"
import { KindTaskContext, LiveTaskContext, type Shared } from "./context.ts"
import type { Entry } from "./entry.ts"
import { ending } from "./stop.ts"

/** Marks a defect as retryable while a kind's retry policy asks for defect retries. */
class RetryableDefect {
  readonly defect: unknown
  constructor(defect: unknown) {
    this.defect = defect
  }
}

/** How often the final record of a task is written again before the failure is only logged. */
const finalWriteRetries = Schedule.exponential("100 millis").pipe(Schedule.upTo({ times: 5 }))

/** Starts tasks as fibers and records their outcomes. */
export interface Runner {
  /**
   * Forks the task's fiber; when it has recorded its outcome, `released` gets
   * the entry. `recordedAt`: the first attempt's running record, begun at that
   * time, is already stored (the task was inserted so at submission), so it
   * is not written again.
   */
  readonly start: (entry: Entry, recordedAt?: number) => void
}

/** A runner over the supervisor's store and publisher; `released` frees what the task held once it ended here. */
export const makeRunner = (shared: Shared, released: (entry: Entry) => void): Runner => {
  const { store, now, publisher } = shared

  /** One attempt: mark running and write it (unless `recordedAt` says it is stored), run the handler under the kind's timeout. */
  const attemptOnce = (
    entry: Entry,
    typed: KindTaskContext,
    retry: boolean,
    recordedAt: number | undefined
  ): Effect.Effect<unknown, unknown> =>
    Effect.suspend(() => {
      const { kind, handler } = entry.registered
      const policy = kind.policy
      if (retry) publisher.publish(entry, "Retrying")
      const info = entry.markRunning(recordedAt ?? now(), retry)
      publisher.publish(entry, "Started")
      // Each attempt gets a scope of its own: a handler's finalizers run when the attempt ends.
      let effect = Effect.scoped(handler(entry.payload, typed) as Effect.Effect<unknown, unknown, Scope.Scope>)
      if (policy.timeoutMillis !== undefined) {
        const timeoutMillis = policy.timeoutMillis
        effect = Effect.timeoutOrElse(effect, {
          duration: timeoutMillis,
          orElse: () =>
            Effect.fail(
              new TaskAborted({
                id: entry.id,
                reason: "timeout",
                detail: `timed out after ${Duration.format(Duration.millis(timeoutMillis))}`
              })
            )
        })
      }
      if (policy.retry?.defects === true) {
        effect = Effect.catchDefect(effect, (defect) => Effect.fail(new RetryableDefect(defect)))
      }
      return recordedAt !== undefined ? effect : Effect.andThen(Effect.orDie(store.update(info)), effect)
    })

  const attempts = (entry: Entry, typed: KindTaskContext, recordedAt: number | undefined): Effect.Effect<unknown, unknown> => {
    const retry = entry.registered.kind.policy.retry
    if (retry === undefined) return attemptOnce(entry, typed, false, recordedAt)
    let first = true
    const doNotRetry = retry.doNotRetry ?? []
    return Effect.suspend(() => {
      const isRetry = !first
      first = false
      return attemptOnce(entry, typed, isRetry, isRetry ? undefined : recordedAt)
    }).pipe(
      Effect.onError(() =>
        Effect.sync(() => {
          entry.backingOff = true
        })
      ),
      Effect.retry({
        schedule: retry.schedule,
        while: (error: unknown) =>
          !(error instanceof TaskAborted) &&
          !(typeof error === "object" && error !== null && "_tag" in error && doNotRetry.includes(String(error._tag)))
      }),
      Effect.catchIf(
        (error): error is RetryableDefect => error instanceof RetryableDefect,
        (error) => Effect.die(error.defect)
      )
    )
  }

  /** Records a task's outcome (retrying the write a few times), then releases it. */
  const finish = (entry: Entry, exit: Exit.Exit<unknown, unknown>): Effect.Effect<void> =>
    Effect.suspend(() => {
      const { kind, codec } = entry.registered
      const write = store.update(entry.settle(codec.outcome(ending(exit, entry.stoppedBy, kind.policy)), now()))
      // retried only once it failed: a retry schedule costs an allocation per task otherwise
      return Effect.flatMap(Effect.exit(Effect.catch(write, () => Effect.retry(write, finalWriteRetries))), (written) => {
        released(entry)
        return Exit.isSuccess(written)
          ? Effect.void
          : Effect.logError("chainjobs: could not record the outcome of task", entry.id, written.cause)
      })
    })

  const run = (entry: Entry, typed: KindTaskContext, recordedAt: number | undefined): Effect.Effect<void> =>
    Effect.uninterruptibleMask((restore) =>
      Effect.flatMap(Effect.exit(restore(attempts(entry, typed, recordedAt))), (exit) => finish(entry, exit))
    )

  return {
    start: (entry, recordedAt) => {
      const live = new LiveTaskContext(entry, shared)
      const context = Context.add(entry.registered.context, TaskContext, live)
      entry.fiber = Effect.runForkWith(context)(run(entry, new KindTaskContext(live, entry.registered.codec), recordedAt))
    }
  }
}
