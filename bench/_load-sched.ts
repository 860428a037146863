/**
 * How the kernel's scheduler treated the service's main thread, for
 * `bench/load.ts`, read from Linux's `/proc` without asking the service:
 * its time on a processor, its time runnable but waiting for one (the run
 * queue: `schedstat`'s second field), and how often it was switched out while
 * still runnable (`nonvoluntary_ctxt_switches`: preempted).
 *
 * Why: on the shared two-core machine a late status read can be the service's
 * own work or the service waiting for a processor, and the event loop's delay
 * does not tell them apart. A trace of the scheduler during a full-mix run
 * (`perf sched record -a`, 5 s, session 21, load 12-15) found the main
 * thread preempted 2,462 times, 1,862 of them by the generator's processes
 * (the service's own thread had made 3,849 of their 8,553 wakeups: its
 * writes to their sockets), and waiting 0.55-0.65 s of each second.
 */
import { readFileSync } from "node:fs"

/** A thread's scheduling totals since it started. */
export interface ThreadSched {
  /** Time on a processor (ms). */
  readonly runMs: number
  /** Time runnable, waiting in a run queue (ms). */
  readonly waitMs: number
  /** Times switched out while runnable (preempted). */
  readonly preempted: number
}

/** The totals of thread `tid` of process `pid` (its main thread by default), or undefined once it is gone. */
export const threadSched = (pid: number, tid: number = pid): ThreadSched | undefined => {
  try {
    const [run, wait] = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ").map(Number)
    const preempted = /nonvoluntary_ctxt_switches:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/task/${tid}/status`, "utf8"))
    return { runMs: run / 1e6, waitMs: wait / 1e6, preempted: preempted === null ? Number.NaN : Number(preempted[1]) }
  } catch {
    return undefined
  }
}

/** What happened between two readings: `to` less `from` (NaN where either is missing). */
export const schedDelta = (from: ThreadSched | undefined, to: ThreadSched | undefined): ThreadSched =>
  from === undefined || to === undefined
    ? { runMs: Number.NaN, waitMs: Number.NaN, preempted: Number.NaN }
    : { runMs: to.runMs - from.runMs, waitMs: to.waitMs - from.waitMs, preempted: to.preempted - from.preempted }

/** The run and wait totals alone of thread `tid` of `pid` (one file read: cheap enough to take every 10 ms), or undefined once it is gone. */
export const runWait = (pid: number, tid: number = pid): { readonly runMs: number; readonly waitMs: number } | undefined => {
  try {
    const [run, wait] = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ").map(Number)
    return { runMs: run / 1e6, waitMs: wait / 1e6 }
  } catch {
    return undefined
  }
}
