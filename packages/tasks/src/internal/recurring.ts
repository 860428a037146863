/**
 * Recurring submissions and daemons, built on the supervisor's own API: each
 * run is an ordinary task. Their driving fibers live in the supervisor's
 * scope, so they stop when it shuts down.
 */
import { Clock, Duration, Effect, Exit, Fiber, Option, type Scope } from "effect"
import type * as Task from "../Task.ts"
import { isTerminal } from "../TaskInfo.ts"
import type { Daemon, DaemonOptions, Recurring, ScheduleOptions, Tasks } from "../TaskSupervisor.ts"

/** Submits `kind` on every tick of `schedule`, honouring the overlap policy. */
export const schedule = <K extends Task.Any>(
  tasks: Tasks["Service"],
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
  tasks: Tasks["Service"],
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
