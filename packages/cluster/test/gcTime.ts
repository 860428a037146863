/**
 * The main thread's garbage-collection pauses in this process, summed: what the cluster bench prints beside a burst's
 * CPU per task (a runner's, `runner.ts`, and the single process's, `bench/cluster.ts`), since the two sides' CPU differs
 * as much in collection as in code run.
 */
import { PerformanceObserver } from "node:perf_hooks"

/** Milliseconds of collection pauses seen so far (from the first `gcMillis` call on). */
let total = 0
let observer: PerformanceObserver | undefined

/**
 * Milliseconds the main thread has spent in garbage-collection pauses since this process first asked: read twice around
 * a burst. The observer starts at the first call; its entries arrive a moment after each pause, so a pause in a
 * burst's last milliseconds may count in the next reading.
 */
export const gcMillis = (): number => {
  if (observer === undefined) {
    observer = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) total += entry.duration
    })
    observer.observe({ entryTypes: ["gc"] })
  }
  return total
}
