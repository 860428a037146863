/**
 * A scheduler for tests that see where a fiber runs: Effect's own
 * (`MixedScheduler`), whose tasks say while they run that they do
 * (`inTask`). Code resumed inside an I/O callback (a worker thread's reply,
 * a socket's message) runs outside any task, out of reach of a scheduler
 * that bounds each turn's work (the service's `TurnScheduler`); code that
 * yields first runs in one.
 */
import { Scheduler } from "effect"

/** Effect's own scheduler, whose tasks say while they run that they do (`inTask`). */
export class TaskMarking implements Scheduler.Scheduler {
  readonly executionMode = "async" as const
  /** Whether one of its tasks is running now. */
  inTask = false
  private readonly own = new Scheduler.MixedScheduler()
  shouldYield(fiber: Parameters<Scheduler.Scheduler["shouldYield"]>[0]): boolean {
    return this.own.shouldYield(fiber)
  }
  makeDispatcher(): Scheduler.SchedulerDispatcher {
    const own = this.own.makeDispatcher()
    return {
      scheduleTask: (task, priority) =>
        own.scheduleTask(() => {
          this.inTask = true
          try {
            task()
          } finally {
            this.inTask = false
          }
        }, priority),
      flush: () => own.flush()
    }
  }
}
