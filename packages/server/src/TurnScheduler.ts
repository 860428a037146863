/**
 * The service's Effect scheduler: the work fibers schedule (a fiber forked,
 * a `yieldNow`, a queue waking its takers) runs from one `setImmediate` per
 * turn of the event loop for all fibers, at most `budgetMillis` of it per
 * turn, the rest in the next turns.
 *
 * Effect's own scheduler (`MixedScheduler`) gives every fiber a dispatcher
 * with a `setImmediate` of its own, and Node runs every callback queued
 * before a check phase in that phase: a burst that wakes a thousand fibers
 * (every watcher of the changes a slice of the feed published) ran them all
 * in one turn, and the loop could not accept a connection or read a request
 * until they had all run — a new connection's status read waited behind the
 * whole burst. Here a turn runs the fibers that were ready when it began, in
 * the order they became ready, until the budget is spent; the others wait
 * for the next turn, after the loop has polled its sockets. Work scheduled
 * during a turn waits for the next one, as with `MixedScheduler`, so a
 * `yieldNow` still lets the loop poll.
 *
 * Each fiber keeps a dispatcher of its own (its tasks by priority, and
 * `flush` runs only its own, as `Effect.runSync` needs): only the timer and
 * the run queue are shared.
 *
 * What a turn's tasks leave for after it counts against the budget too:
 * a write to an HTTP response or a socket is corked and sent from a
 * `process.nextTick` callback after the turn (Node's `writev`, a system
 * call per socket, the service's largest single cost under load), and a
 * feed's publish delivered inside a task writes to a hundred sockets. A
 * `nextTick` queued at the turn's end runs after those, and the time
 * between is the turn's tail; each task of the next turn is charged the
 * tail's share per task of the turn before (`chargeMillis`), so that a turn
 * and its tail together keep to about the budget, not the turn alone.
 *
 * The budget bounds only the work scheduled here: a fiber resumed by an
 * I/O callback or a timer (a `Deferred` completed there, a store's reply, a
 * feed waking its readers) runs inside that callback. So under sustained
 * overload the run queue can grow without bound while every turn keeps to
 * its budget: `backlog` says how long work waited for its turn (the
 * service's `/metrics`: `chainjobs_scheduler_wait_seconds_max` and
 * `chainjobs_scheduler_ready_fibers`), the sign that the service is short of
 * CPU rather than slow in one place.
 *
 * A task that throws (Effect's fibers do not: a defect ends their fiber, but
 * a task is any callback scheduled here) does not cut the turn: the other
 * fibers' tasks of that turn still run, and the error is thrown afterwards
 * from a microtask of its own, where the process's `uncaughtException`
 * handling sees it, as it would from Effect's own scheduler. Before, it
 * escaped the turn, and the tasks of every fiber taken into that turn and
 * not yet run were lost: those fibers never ran again.
 *
 * @since 0.1.0
 */
import { Config, Effect, Scheduler, Schema } from "effect"
import type { Fiber } from "effect"

/**
 * How long a turn runs scheduled fiber work, at most (ms), unless the service is told otherwise. Short, so that the
 * loop polls its sockets often: under the full load mix (hundreds of new connections a second) nearly every turn has
 * a connection waiting to be accepted or read, and a new connection's status read waits through about two turns.
 * Against 8 ms, in four quiet 5-minute runs of that mix, the status p99 over every new-connection read was 71 and 68
 * ms against 91 and 123, for about 3% more CPU per task (packages/server/README.md).
 */
export const defaultBudgetMillis = 2

/** The budget per turn (ms) from `CHAINJOBS_TURN_BUDGET_MS`: a number of at least 0 (0: Effect's own scheduler). */
export const budgetConfig: Config.Config<number> = Config.schema(
  Schema.Finite.check(Schema.isGreaterThanOrEqualTo(0)),
  "CHAINJOBS_TURN_BUDGET_MS"
).pipe(Config.withDefault(defaultBudgetMillis))

/** Throws `error` from a microtask of its own: the process's `uncaughtException` handling sees it, and the turn goes on. */
const throwLater = (error: unknown): void =>
  queueMicrotask(() => {
    throw error
  })

/** One fiber's scheduled tasks, by priority (lower first), each priority's in the order scheduled. */
class FiberDispatcher implements Scheduler.SchedulerDispatcher {
  private buckets: Array<[priority: number, tasks: Array<() => void>]> = []
  /** Tasks of an earlier run that its turn's budget left, run first next time. */
  private carried: Array<() => void> = []
  /** Whether it waits in the run queue. */
  queued = false
  /** When it joined the run queue (`performance.now()`), or when a turn's budget cut it and put it back. */
  since = 0
  private readonly turns: Turns
  constructor(turns: Turns) {
    this.turns = turns
  }

  scheduleTask(task: () => void, priority: number): void {
    const buckets = this.buckets
    let index = 0
    while (index < buckets.length && buckets[index][0] < priority) index++
    if (index < buckets.length && buckets[index][0] === priority) buckets[index][1].push(task)
    else buckets.splice(index, 0, [priority, [task]])
    if (!this.queued) {
      this.queued = true
      this.turns.ready(this)
    }
  }

  /**
   * Runs the tasks scheduled before it began (those they schedule wait for
   * the next run) until `deadline` (a `performance.now()` time) has passed;
   * whether some are left. A task that throws is reported (`throwLater`) and
   * the run goes on.
   */
  run(deadline: number): boolean {
    const tasks = this.carried
    for (const [, scheduled] of this.buckets) for (const task of scheduled) tasks.push(task)
    this.buckets = []
    this.carried = []
    const turns = this.turns
    for (let i = 0; i < tasks.length; i++) {
      try {
        tasks[i]()
      } catch (error) {
        throwLater(error)
      }
      turns.ran++
      if (i + 1 < tasks.length && turns.spent() >= deadline) {
        this.carried = tasks.slice(i + 1)
        return true
      }
    }
    return false
  }

  flush(): void {
    while (this.buckets.length > 0 || this.carried.length > 0) this.run(Number.POSITIVE_INFINITY)
  }
}

/**
 * The tail's share per task a turn is charged (ms), from the turn before: its tail (the time from its end to a
 * `nextTick` queued then, which runs after the corked writes its tasks queued) over the tasks it ran.
 */
const chargeOf = (tailMillis: number, tasks: number): number => tasks === 0 ? 0 : tailMillis / tasks

/** The run queue of every fiber's dispatcher, run a budget's worth per turn. */
class Turns {
  private queue: Array<FiberDispatcher> = []
  private scheduled = false
  /** The longest a dispatcher waited in the queue for its turn (ms), since `backlog` last looked. */
  private longestWait = 0
  /** Tasks run in the current turn (and by `flush`es, which no budget bounds). */
  ran = 0
  /** What each task of this turn is charged for the writes it leaves for after the turn (ms; `chargeOf`). */
  private chargeMillis = 0
  /** When the last turn ended, and how many tasks it ran: its tail is measured from there. */
  private endedAt = 0
  private endedTasks = 0
  private readonly budgetMillis: number
  constructor(budgetMillis: number) {
    this.budgetMillis = budgetMillis
  }

  /** Queues a dispatcher with tasks to run, in a coming turn. */
  ready(dispatcher: FiberDispatcher): void {
    dispatcher.since = performance.now()
    this.queue.push(dispatcher)
    this.schedule()
  }

  /** The longest wait for a turn since the last look (ms), and the dispatchers queued now. */
  backlog(): { readonly waitMillis: number; readonly ready: number } {
    const waitMillis = this.longestWait
    this.longestWait = 0
    return { waitMillis, ready: this.queue.length }
  }

  /** The time this turn has spent, with its tasks' writes still to come charged (`performance.now()` plus the charge). */
  spent(): number {
    return performance.now() + this.ran * this.chargeMillis
  }

  /** Runs after the writes the last turn left (a `nextTick` queued at its end): their time per task is the next charge. */
  private readonly tailEnded = (): void => {
    this.chargeMillis = chargeOf(performance.now() - this.endedAt, this.endedTasks)
  }

  private schedule(): void {
    if (this.scheduled || this.queue.length === 0) return
    this.scheduled = true
    setImmediate(this.turn)
  }

  /**
   * One turn: the dispatchers ready when it began, in order, until the
   * budget is spent; what is left of them goes first next turn.
   */
  private readonly turn = (): void => {
    this.scheduled = false
    const batch = this.queue
    this.queue = []
    const started = performance.now()
    // The queue is in the order its dispatchers joined it, but for the one a budget cut, which goes back first with the
    // time it was cut: the longest wait is the first's or, after such a one, the second's.
    const oldest = batch.length > 1 ? Math.min(batch[0].since, batch[1].since) : batch.length > 0 ? batch[0].since : started
    if (started - oldest > this.longestWait) this.longestWait = started - oldest
    const deadline = started + this.budgetMillis
    this.ran = 0
    for (let i = 0; i < batch.length; i++) {
      const dispatcher = batch[i]
      dispatcher.queued = false
      const unfinished = dispatcher.run(deadline)
      if (unfinished || this.spent() >= deadline) {
        const left = batch.slice(i + 1)
        // A dispatcher its tasks queued again already waits at the end of the queue; one the budget cut waits first.
        if (unfinished && !dispatcher.queued) {
          // Its wait starts now: the time it ran in this turn was no wait (it read up to a budget high).
          dispatcher.queued = true
          dispatcher.since = performance.now()
          left.unshift(dispatcher)
        }
        this.queue = left.concat(this.queue)
        break
      }
    }
    this.schedule()
    this.endedAt = performance.now()
    this.endedTasks = this.ran
    this.ran = 0
    process.nextTick(this.tailEnded)
  }
}

/** A scheduler running at most `budgetMillis` of fiber work per turn of the event loop (see the module's note). */
export class TurnScheduler implements Scheduler.Scheduler {
  readonly executionMode = "async" as const
  private readonly turns: Turns
  // When a fiber yields mid-run is Effect's own rule (its operation budget): only where its work runs changes.
  private readonly own = new Scheduler.MixedScheduler()
  constructor(budgetMillis: number) {
    this.turns = new Turns(budgetMillis)
  }
  shouldYield(fiber: Fiber.Fiber<unknown, unknown>): boolean {
    return this.own.shouldYield(fiber)
  }
  makeDispatcher(): Scheduler.SchedulerDispatcher {
    return new FiberDispatcher(this.turns)
  }
  /**
   * The longest any fiber's work waited for its turn since the previous
   * call (seconds; it starts again from 0), and how many fibers have work
   * waiting now.
   */
  backlog(): { readonly waitSeconds: number; readonly readyFibers: number } {
    const { ready, waitMillis } = this.turns.backlog()
    return { waitSeconds: waitMillis / 1000, readyFibers: ready }
  }
}

/** A `TurnScheduler` with the given budget per turn (ms). */
export const make = (budgetMillis: number = defaultBudgetMillis): TurnScheduler => new TurnScheduler(budgetMillis)

/**
 * Runs `effect` on a scheduler with the budget `CHAINJOBS_TURN_BUDGET_MS`
 * sets (`defaultBudgetMillis` when unset), or on Effect's own when it is 0;
 * a value that is not a number of at least 0 fails with the `ConfigError`
 * naming the variable, before anything runs.
 */
export const install = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | Config.ConfigError, R> =>
  Effect.gen(function*() {
    const budget = yield* budgetConfig
    return yield* (budget === 0 ? effect : Effect.provideService(effect, Scheduler.Scheduler, make(budget)))
  })
