/**
 * Recurring submissions and daemons: a task kind submitted on a schedule
 * (cron, fixed spacing) with a chosen overlap rule, or kept running and
 * restarted with backoff when it ends, like a systemd service. Both are built
 * on the supervisor's public operations: each run is an ordinary task record.
 * `Tasks.schedule` and `Tasks.daemon` run them in the supervisor's scope, so
 * they stop when it shuts down; they are not persisted, so declare them at
 * start-up.
 *
 * @since 0.1.0
 */
import { Clock, Duration, Effect, Exit, Fiber, Option, type Schedule, type Scope } from "effect"
import type { TaskHandle } from "./TaskHandle.ts"
import { isTerminal, type TaskInfo } from "./TaskInfo.ts"
import type * as Task from "./TaskKind.ts"
import type { SubmitOptions } from "./TaskPolicy.ts"

/** How `Tasks.schedule` submits: on which ticks, and what a tick does while the previous run is unfinished. */
export interface ScheduleOptions {
  /** When to submit, e.g. `Schedule.cron("0 * * * *")` or `Schedule.spaced("5 minutes")`; the first run waits for the first tick. */
  readonly schedule: Schedule.Schedule<unknown, unknown, unknown>
  /** `skip` the tick (default), `queue` it behind the previous run, or `allow` both to run. */
  readonly overlap?: "skip" | "queue" | "allow" | undefined
  /** Options of every submission. */
  readonly submit?: SubmitOptions | undefined
}

/** How `Tasks.daemon` restarts its task. */
export interface DaemonOptions {
  /** The delays between restarts, e.g. `Schedule.exponential("1 second")`; when it ends, the daemon stops. */
  readonly restart: Schedule.Schedule<unknown, unknown, unknown>
  /** Restart on `failure` only (default), or `always` (any end but an interruption). */
  readonly restartOn?: "failure" | "always" | undefined
  /** A run that lasted this long starts `restart` over from its first delay. Default: 1 minute. */
  readonly resetAfter?: Duration.Input | undefined
  /** Options of every submission. */
  readonly submit?: SubmitOptions | undefined
}

/** A recurring submission: cancel it, or read the last task it submitted. */
export interface Recurring {
  /** Stops submitting; a run already submitted goes on. */
  readonly cancel: Effect.Effect<void>
  /** The id of the last task submitted, if any. */
  readonly lastTask: Effect.Effect<Option.Option<string>>
}

/** A daemon: a task kept running, restarted on the schedule when it ends. */
export interface Daemon {
  /** The id of the task currently standing for the daemon, if one was submitted. */
  readonly current: Effect.Effect<Option.Option<string>>
  /** How many times the daemon's task has been (re)started. */
  readonly starts: Effect.Effect<number>
  /** Stops restarting and interrupts the current task. */
  readonly stop: Effect.Effect<void>
}

/** The supervisor operations schedules and daemons are built on (the `Tasks` service has them all). */
export interface Submitter {
  /** Submits a task and returns its handle once it is recorded. */
  submit<K extends Task.Any>(
    kind: K,
    payload: Task.Payload<K>,
    options?: SubmitOptions
  ): Effect.Effect<TaskHandle<Task.Success<K>, Task.Error<K>>, unknown>
  /** A task's current record. */
  get(id: string): Effect.Effect<TaskInfo, unknown>
  /** Waits until a task has finished. */
  awaitInfo(id: string): Effect.Effect<TaskInfo, unknown>
  /** Interrupts a task and waits until it has stopped. */
  interrupt(id: string): Effect.Effect<void, unknown>
}

/** Submits `kind` on every tick of `schedule`, honouring the overlap policy. */
export const schedule = <K extends Task.Any>(
  tasks: Submitter,
  scope: Scope.Scope,
  kind: K,
  payload: Task.Payload<K>,
  options: ScheduleOptions
): Effect.Effect<Recurring> =>
  Effect.gen(function*() {
    const overlap = options.overlap ?? "skip"
    let last: Option.Option<string> = Option.none()
    const tick = Effect.gen(function*() {
      if (Option.isSome(last) && overlap !== "allow") {
        const previous = yield* Effect.option(tasks.get(last.value))
        if (Option.isSome(previous) && !isTerminal(previous.value.status)) {
          if (overlap === "skip") return
          yield* Effect.ignore(tasks.awaitInfo(last.value))
        }
      }
      const handle = yield* tasks.submit(kind, payload, options.submit)
      last = Option.some(handle.id)
    }).pipe(
      Effect.catchCause((cause) => Effect.logWarning(`chainjobs: recurring submission of "${kind.name}" failed`, cause))
    )
    const fiber = yield* Effect.forkIn(Effect.schedule(tick, options.schedule), scope)
    return {
      cancel: Fiber.interrupt(fiber),
      lastTask: Effect.sync(() => last)
    }
  })

/** Why one daemon run asks to be restarted. */
const restart = Symbol("restart")
/** A run that was healthy for `resetAfter`: restart with the schedule from its beginning. */
const restartFresh = Symbol("restartFresh")

/**
 * Keeps a task of `kind` running, resubmitting it on the `restart` schedule when it ends.
 * A run that lasted at least `resetAfter` starts the schedule over, so a daemon that
 * crashes once a week does not inherit the backoff of last week's crash loop.
 */
export const daemon = <K extends Task.Any>(
  tasks: Submitter,
  scope: Scope.Scope,
  kind: K,
  payload: Task.Payload<K>,
  options: DaemonOptions
): Effect.Effect<Daemon> =>
  Effect.gen(function*() {
    const resetAfter = Duration.toMillis(Duration.fromInputUnsafe(options.resetAfter ?? "1 minute"))
    let current: Option.Option<string> = Option.none()
    let starts = 0
    let fresh = false
    const runOnce = Effect.gen(function*() {
      const handle = yield* tasks.submit(kind, payload, options.submit)
      current = Option.some(handle.id)
      starts++
      const startedAt = yield* Clock.currentTimeMillis
      const exit = yield* handle.await
      if (Exit.isFailure(exit) && Exit.hasInterrupts(exit)) return
      if (Exit.isSuccess(exit) && options.restartOn !== "always") return
      const healthy = (yield* Clock.currentTimeMillis) - startedAt >= resetAfter
      return yield* Effect.fail(healthy ? restartFresh : restart)
    })
    // After a healthy run, a new cycle begins with the schedule's first delay.
    const attempt = Effect.suspend(() => {
      if (!fresh) return runOnce
      fresh = false
      return Effect.fail(restart)
    })
    const cycle = Effect.retry(attempt, { schedule: options.restart, while: (error) => error === restart })
    const loop: Effect.Effect<void, unknown> = Effect.catchIf(
      cycle,
      (error) => error === restartFresh,
      () =>
        Effect.suspend(() => {
          fresh = true
          return loop
        })
    )
    const fiber = yield* Effect.forkIn(
      loop.pipe(Effect.catchCause((cause) => Effect.logWarning(`chainjobs: daemon "${kind.name}" stopped`, cause))),
      scope
    )
    return {
      current: Effect.sync(() => current),
      starts: Effect.sync(() => starts),
      stop: Effect.gen(function*() {
        yield* Fiber.interrupt(fiber)
        if (Option.isSome(current)) yield* Effect.ignore(tasks.interrupt(current.value))
      })
    }
  })
