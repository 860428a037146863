/**
 * The attempt runner: runs one task from its start to its recorded outcome.
 * Each attempt marks the task running, writes that durably and runs the
 * handler in a scope of its own under the kind's timeout; failures are retried
 * on the kind's schedule (never timeouts, missed heartbeats or interruptions;
 * defects only when the policy asks); the ending (see `stop.ts`) is settled
 * and handed to `Completions`, which records it and then releases the task.
 */
import { Context, Duration, Effect, type Exit, Fiber, Scope } from "effect"
import { TaskAborted } from "../TaskError.ts"
import { TaskContext } from "../TaskContext.ts"
import type { TaskInfo } from "../TaskInfo.ts"
import type { Completions } from "./completions.ts"
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

/** Starts tasks as fibers and records their outcomes. */
export interface Runner {
  /**
   * Forks the task's fiber; when it has recorded its outcome, `released` gets
   * the entry. A task inserted running at submission (`entry.insertedRunning`)
   * begins its first attempt with that stored record: it is not written again.
   */
  readonly start: (entry: Entry) => void
}

/**
 * A runner over the supervisor's store and publisher; `completions` writes
 * each task's outcome and releases the task (frees what it held here).
 */
export const makeRunner = (shared: Shared, completions: Completions): Runner => {
  const { store, now, publisher } = shared

  /**
   * Begins an attempt now: marks it running (or starts the running record it
   * was inserted with), tells, and returns the handler's run under the kind's
   * timeout, after the running record's write unless it is stored already.
   * `scoped`: the attempt gets a scope of its own (retried kinds); otherwise
   * the task fiber's scope serves, closed when the attempt ends.
   */
  const begin = (
    entry: Entry,
    typed: KindTaskContext,
    retry: boolean,
    scoped: boolean
  ): Effect.Effect<unknown, unknown, Scope.Scope> => {
    const { handler } = entry.registered
    if (retry) publisher.publish(entry, "Retrying")
    let info: TaskInfo | undefined
    if (!retry && entry.insertedRunning) entry.startInserted(now())
    else info = entry.markRunning(now(), retry)
    publisher.publish(entry, "Started")
    // A handler's finalizers run when its attempt ends.
    let effect = handler(entry.payload, typed) as Effect.Effect<unknown, unknown, Scope.Scope>
    if (scoped) effect = Effect.scoped(effect)
    const timeoutMillis = entry.timeoutMillis
    if (timeoutMillis !== undefined) {
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
    if (entry.retry?.defects === true) {
      effect = Effect.catchDefect(effect, (defect) => Effect.fail(new RetryableDefect(defect)))
    }
    return info === undefined ? effect : Effect.andThen(Effect.orDie(store.update(info)), effect)
  }

  /** One attempt of a retried kind, begun when the effect runs. */
  const attemptOnce = (entry: Entry, typed: KindTaskContext, retry: boolean): Effect.Effect<unknown, unknown> =>
    Effect.suspend(() => begin(entry, typed, retry, true) as Effect.Effect<unknown, unknown>)

  /** The attempts of a kind with a retry policy: each with a scope of its own, retried on the kind's schedule. */
  const attempts = (entry: Entry, typed: KindTaskContext): Effect.Effect<unknown, unknown> => {
    const retry = entry.retry!
    let first = true
    const doNotRetry = retry.doNotRetry ?? []
    return Effect.suspend(() => {
      const isRetry = !first
      first = false
      return attemptOnce(entry, typed, isRetry)
    }).pipe(
      Effect.onError(() =>
        Effect.sync(() => {
          entry.backOff()
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

  /**
   * Settles a task's outcome now and hands it to `completions`, which records it and then releases the task;
   * returns what the task's fiber must still run for that. Called where the run has ended, never ahead of time.
   */
  const finish = (entry: Entry, exit: Exit.Exit<unknown, unknown>): Effect.Effect<void> => {
    const { kind, codec } = entry.registered
    entry.settle(codec.outcome(ending(exit, entry.stoppedBy, kind.policy, entry.heartbeatTimeoutMillis)), now())
    return completions.complete(entry)
  }

  /** The run of a retried kind: its attempts, then its outcome recorded whatever happens. */
  const run = (entry: Entry, typed: KindTaskContext): Effect.Effect<void> =>
    Effect.uninterruptibleMask((restore) =>
      Effect.flatMap(Effect.exit(restore(attempts(entry, typed))), (exit) => finish(entry, exit))
    )

  /** After the one attempt of a kind without retries: its scope closes (finalizers run), then the outcome is recorded. */
  const closeAndFinish = (entry: Entry, scope: Scope.Closeable, exit: Exit.Exit<unknown, unknown>): Effect.Effect<void> => {
    const closing = Scope.closeUnsafe(scope, exit)
    // settled only once the finalizers ran
    return closing === undefined ? finish(entry, exit) : Effect.andThen(closing, Effect.suspend(() => finish(entry, exit)))
  }

  /**
   * The end of a one-attempt task, one function for every task: the task's
   * entry and scope are read from its fiber's services, so an idle task holds
   * no closure (nor field) of its own for them. It runs as the fiber's own
   * continuation, so the current fiber is the task's: read directly, not
   * through a `contextWith` step (one Effect node and one closure less per task).
   */
  const finishCurrent = (exit: Exit.Exit<unknown, unknown>): Effect.Effect<void> => {
    const services = (Fiber.getCurrent() as Fiber.Fiber<unknown, unknown>).context as Context.Context<TaskContext | Scope.Scope>
    return closeAndFinish(
      (Context.get(services, TaskContext) as LiveTaskContext).entry,
      Context.get(services, Scope.Scope) as Scope.Closeable,
      exit
    )
  }

  return {
    start: (entry) => {
      const live = new LiveTaskContext(entry, shared)
      const typed = new KindTaskContext(live, entry.registered.codec)
      // `addUnsafe` (by the keys' strings): the same overlays as `Context.add`, without its curried wrapper's
      // arguments object per call.
      const services = Context.addUnsafe<never, TaskContext, LiveTaskContext>(entry.registered.context, TaskContext.key, live)
      if (entry.retry !== undefined) {
        entry.fiber = Effect.runForkWith(services)(run(entry, typed))
        return
      }
      // The common case, kept lean (an idle task holds little): one attempt, begun at once, in the
      // fiber's own scope; finish runs uninterruptibly once the attempt has ended, however it ended.
      const scoped = Context.addUnsafe<TaskContext, Scope.Scope, Scope.Closeable>(services, Scope.Scope.key, Scope.makeUnsafe())
      entry.fiber = Effect.runForkWith(scoped)(Effect.onExit(begin(entry, typed, false, false), finishCurrent))
    }
  }
}
