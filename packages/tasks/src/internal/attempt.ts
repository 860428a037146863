/**
 * The attempt runner: runs one task from its start to its recorded outcome.
 * Each attempt marks the task running, writes that durably and runs the
 * handler in a scope of its own under the kind's timeout; failures are retried
 * on the kind's schedule (never timeouts, missed heartbeats or interruptions;
 * defects only when the policy asks); the ending (see `stop.ts`) is settled
 * and handed to `Completions`, which records it and then releases the task.
 */
import { Cause, Context, Duration, Effect, Exit, Fiber, Scope } from "effect"
import { TaskAborted } from "../TaskError.ts"
import { TaskContext } from "../TaskContext.ts"
import type { TaskInfo } from "../TaskInfo.ts"
import type { ResolvedPolicy } from "../TaskPolicy.ts"
import type { Completions } from "./completions.ts"
import { KindTaskContext, LiveTaskContext, type Shared } from "./context.ts"
import type { Entry } from "./entry.ts"
import { runNow, writeNow } from "./immediate.ts"
import { ending } from "./stop.ts"

/** Marks a defect as retryable while a kind's retry policy asks for defect retries. */
class RetryableDefect {
  readonly defect: unknown
  constructor(defect: unknown) {
    this.defect = defect
  }
}

/**
 * The services a task's fiber runs with: its kind's, and its `TaskContext`. `addUnsafe` (by the keys' strings): the
 * same overlay as `Context.add`, without its curried wrapper's arguments object per call.
 */
const servicesOf = (entry: Entry, live: LiveTaskContext): Context.Context<TaskContext> =>
  Context.addUnsafe<never, TaskContext, LiveTaskContext>(entry.registered.context, TaskContext.key, live)

/** A task's retries: its kind's, capped by its submission's. */
type Retry = NonNullable<ResolvedPolicy["retry"]>

/** Starts tasks as fibers and records their outcomes. */
export interface Runner {
  /**
   * Forks the task's fiber; when it has recorded its outcome, `released` gets
   * the entry. A task inserted running at submission (`entry.insertedRunning`)
   * begins its first attempt with that stored record: it is not written again.
   * `at`: the time its first attempt begins, when the caller knows it without
   * reading the clock (a task recorded at once starts in the call that made
   * it, at its creation time: see `Tasks`), else the clock is read.
   */
  readonly start: (entry: Entry, at?: number) => void
}

/**
 * A runner over the supervisor's store and publisher; `completions` writes
 * each task's outcome and releases the task (frees what it held here).
 */
export const makeRunner = (shared: Shared, completions: Completions): Runner => {
  const { store, now, publisher } = shared

  /**
   * Marks an attempt begun now (`at`, when the caller read the clock for it already): running (or the running record
   * it was inserted with started) and told. Returns the running record to write before the handler runs, or
   * undefined when it is stored already.
   */
  const mark = (entry: Entry, retry: boolean, at?: number): TaskInfo | undefined => {
    if (retry) publisher.publish(entry, "Retrying")
    let info: TaskInfo | undefined
    if (!retry && entry.insertedRunning) entry.startInserted(at ?? now())
    else info = entry.markRunning(now(), retry)
    publisher.publish(entry, "Started")
    return info
  }

  /**
   * The handler's run as an attempt: `effect` (the handler's Effect) under the kind's timeout, defects made
   * retryable when `defects`, after the running record's write (`info`) unless it is stored already. `scoped`: the
   * attempt gets a scope of its own (retried kinds); otherwise the task fiber's scope serves, closed when the
   * attempt ends.
   */
  const attempt = (
    entry: Entry,
    info: TaskInfo | undefined,
    handled: Effect.Effect<unknown, unknown, Scope.Scope>,
    scoped: boolean,
    defects: boolean
  ): Effect.Effect<unknown, unknown, Scope.Scope> => {
    // A handler's finalizers run when its attempt ends.
    let effect = scoped ? Effect.scoped(handled) : handled
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
    if (defects) effect = Effect.catchDefect(effect, (defect) => Effect.fail(new RetryableDefect(defect)))
    return info === undefined ? effect : Effect.andThen(Effect.orDie(store.update(info)), effect)
  }

  /** One attempt of a retried kind, begun when the effect runs. */
  const attemptOnce = (entry: Entry, typed: KindTaskContext, retry: boolean, defects: boolean): Effect.Effect<unknown, unknown> =>
    Effect.suspend(() => {
      const info = mark(entry, retry)
      // a handler that throws when called dies in its attempt, as one whose Effect dies: retried as such
      const handled = Effect.suspend(() => entry.registered.handler(entry.payload, typed) as Effect.Effect<unknown, unknown, Scope.Scope>)
      return attempt(entry, info, handled, true, defects) as Effect.Effect<unknown, unknown>
    })

  /**
   * The attempts of a kind with a retry policy (`retry`, the task's: read once for all its attempts), each with a
   * scope of its own, retried on its schedule.
   */
  const attempts = (entry: Entry, typed: KindTaskContext, retry: Retry): Effect.Effect<unknown, unknown> => {
    const defects = retry.defects === true
    let first = true
    const doNotRetry = retry.doNotRetry ?? []
    return Effect.suspend(() => {
      const isRetry = !first
      first = false
      return attemptOnce(entry, typed, isRetry, defects)
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
  const run = (entry: Entry, typed: KindTaskContext, retry: Retry): Effect.Effect<void> =>
    Effect.uninterruptibleMask((restore) =>
      // made in the fiber, so that a throw while making them (the retry policy read) is the run's defect
      Effect.flatMap(Effect.exit(restore(Effect.suspend(() => attempts(entry, typed, retry)))), (exit) => finish(entry, exit))
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
  const finishCurrent = (exit: Exit.Exit<unknown, unknown>): Effect.Effect<void> | undefined => {
    const services = (Fiber.getCurrent() as Fiber.Fiber<unknown, unknown>).context as Context.Context<TaskContext | Scope.Scope>
    const rest = closeAndFinish(
      (Context.get(services, TaskContext) as LiveTaskContext).entry,
      Context.get(services, Scope.Scope) as Scope.Closeable,
      exit
    )
    // Nothing left to run (the memory store: written and released in the call): the fiber ends with the attempt's
    // exit at once, with no step after (`onExitPrimitive` takes undefined for that) instead of one to run a done Effect.
    return Exit.isExit(rest) && Exit.isSuccess(rest) ? undefined : rest
  }

  /**
   * What the fiber of every one-attempt task runs: the attempt `start` left in the fiber's task context, taken once,
   * then `finishCurrent`. One Effect for all of them: the frame it pushes on each fiber's stack is this object, not
   * one made per task (48 heap bytes an idle task held).
   */
  const runCurrent: Effect.Effect<void> = Effect.onExitPrimitive(
    Effect.suspend(() => {
      const live = Context.get((Fiber.getCurrent() as Fiber.Fiber<unknown, unknown>).context as Context.Context<TaskContext>, TaskContext) as LiveTaskContext
      const pending = live.pendingAttempt!
      live.pendingAttempt = undefined
      return pending as Effect.Effect<unknown, unknown>
    }),
    finishCurrent
  ) as Effect.Effect<void>

  /**
   * Settles a task that has no fiber with `exit` and completes it: what completing still has to run goes in a fiber
   * of its own that `entry.fiber` does not name (no task fiber is left to interrupt; an interrupt or the shutdown
   * waits for its final record, as for any task's): over the memory store only a refused final write tried again;
   * over a store with `updateAll` nothing (its batch writer writes and releases); over a store whose `update` is an
   * Effect without `updateAll` (a wrapped write) the final write itself.
   */
  const finishApart = (entry: Entry, exit: Exit.Exit<unknown, unknown>): void => {
    const rest = finish(entry, exit)
    if (!Exit.isExit(rest)) Effect.runForkWith(entry.registered.context)(rest)
  }

  /** `store.update` done at once, if the store does its writes so (see `immediate`). */
  const updateNow = writeNow(store.update)

  /**
   * Ends at once, with no task fiber, the one attempt of a task whose handler gave an `Exit` (it was done when called:
   * nothing to time out, interrupt or finalize) — once its running record, if it still has one to write, is written
   * at once too (only a store whose update is done at once can; else false, and the attempt runs in a fiber). Any
   * store whose running record is stored already (inserted running) takes this path: its final write is completed
   * apart (below).
   */
  const doneAtOnce = (entry: Entry, info: TaskInfo | undefined, handled: unknown): boolean => {
    if (!Exit.isExit(handled)) return false
    let exit: Exit.Exit<unknown, unknown> = handled
    if (info !== undefined) {
      if (updateNow === undefined) return false
      // as `Effect.orDie(store.update(info))` before the handler's run would end it
      const written = runNow(updateNow, info)
      if (Exit.isFailure(written)) exit = Exit.die(Cause.squash(written.cause))
    }
    finishApart(entry, exit)
    return true
  }

  return {
    start: (entry, at) => {
      // Everything up to the fork runs in the caller (a kind's policy read, its handler called): a throw there ends
      // the task at once as a defect naming it — else it would stay running with no fiber (never finished, its
      // waiters, its kind's next dispatch and the shutdown waiting for it).
      let live: LiveTaskContext
      let retry: Retry | undefined
      let info: TaskInfo | undefined
      let handled: unknown
      try {
        live = new LiveTaskContext(entry, shared)
        const typed = new KindTaskContext(live, entry.registered.codec)
        retry = entry.retry
        if (retry !== undefined) {
          entry.fiber = Effect.runForkWith(servicesOf(entry, live))(run(entry, typed, retry))
          return
        }
        // The common case, kept lean (an idle task holds little): one attempt, begun at once, in the
        // fiber's own scope; finish runs uninterruptibly once the attempt has ended, however it ended.
        info = mark(entry, false, at)
        handled = entry.registered.handler(entry.payload, typed)
      } catch (defect) {
        finishApart(entry, Exit.die(defect))
        return
      }
      if (doneAtOnce(entry, info, handled)) return
      // the task's context is its attempt's scope too (see `AttemptScope`)
      const scoped = Context.addUnsafe<TaskContext, Scope.Scope, Scope.Closeable>(servicesOf(entry, live), Scope.Scope.key, live)
      live.pendingAttempt = attempt(entry, info, handled as Effect.Effect<unknown, unknown, Scope.Scope>, false, false)
      entry.fiber = Effect.runForkWith(scoped)(runCurrent)
    }
  }
}
