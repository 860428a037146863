/**
 * Where a status read on a new connection spent its time, for
 * `bench/load.ts`: the probe's view of each read (`_load-probe.ts`: its
 * request, `connect`, first byte of the response) joined, by the client's
 * port, with the service's (`_load-trace.ts`: accept, request parsed,
 * response written), both on the machine's clock. Each joined read splits
 * into `connectToAccept` (the connection complete in the kernel, not yet
 * taken by the service: its accept queue, or a handshake finished late),
 * `acceptToParsed`, `parsedToFinish` and `finishToHead` (the response on
 * its way back to the probe, and the probe's own turn).
 *
 * A slow read is then placed against what the service did meanwhile
 * (`explain`): the garbage collections inside it (the service's `gc`
 * performance entries), and its main thread's time on a processor and
 * waiting in a run queue for one over the span of `schedstat` samples
 * around it (`bench/load.ts` reads them from `/proc` every 10 ms) — a read
 * that waited while the thread waited for a processor measures the machine;
 * one that waited while the thread ran, its work; one that waited while the
 * thread did neither (asleep in its poll), neither of them.
 */
import type { ProbeRead } from "./_load-probe.ts"
import type { Collection } from "./_load-stalls.ts"
import { collectedIn } from "./_load-stalls.ts"
import type { TracedRead } from "./_load-trace.ts"

/** One read's phases (ms), at its `connect` (ms on the machine's clock). */
export interface ReadPhases {
  readonly at: number
  readonly connectToAccept: number
  readonly acceptToParsed: number
  readonly parsedToFinish: number
  readonly finishToHead: number
}

/**
 * The probe's reads joined with the service's traces: for each read, the
 * trace of its port accepted closest to its `connect` (a port comes back
 * after thousands of connections, so the time decides). Reads with no trace
 * within `windowMillis` are left out.
 */
export const joinReads = (
  probed: ReadonlyArray<ProbeRead>,
  traced: ReadonlyArray<TracedRead>,
  windowMillis = 60_000
): Array<ReadPhases> => {
  const byPort = new Map<number, Array<TracedRead>>()
  for (const read of traced) {
    const same = byPort.get(read.port)
    if (same === undefined) byPort.set(read.port, [read])
    else same.push(read)
  }
  const joined: Array<ReadPhases> = []
  for (const read of probed) {
    let best: TracedRead | undefined
    for (const candidate of byPort.get(read.port) ?? []) {
      const distance = Math.abs(candidate.accept - read.connect)
      if (distance <= windowMillis && (best === undefined || distance < Math.abs(best.accept - read.connect))) best = candidate
    }
    // A time the trace could not take is NaN there, null once through JSON: a phase that needs it is NaN too.
    if (best === undefined) continue
    const time = (t: number | null) => t ?? Number.NaN
    joined.push({
      at: read.connect,
      connectToAccept: time(best.accept) - read.connect,
      acceptToParsed: time(best.parsed) - time(best.accept),
      parsedToFinish: time(best.finish) - time(best.parsed),
      finishToHead: read.head - time(best.finish)
    })
  }
  return joined
}

/** The service's main thread's scheduling totals (`schedstat`: on a processor, waiting for one; ms) at `at` (machine clock, ms). */
export interface SchedPoint {
  readonly at: number
  readonly runMs: number
  readonly waitMs: number
}

/** A read placed against the service: its phases, its whole time, and what the service did meanwhile. */
export interface ExplainedRead extends ReadPhases {
  /** From the probe's `connect` to its first byte (ms). */
  readonly total: number
  /** Garbage collection inside it (ms): every kind, and major (mark-compact). */
  readonly gcMs: number
  readonly majorGcMs: number
  /** The `schedstat` samples' span around it (ms; NaN without a sample on each side), and the thread's time in it on a processor and waiting for one (ms). */
  readonly spanMs: number
  readonly runMs: number
  readonly waitMs: number
}

/**
 * `read` with the collections inside it (`collections` on the machine's
 * clock) and the main thread's run and wait over the narrowest span of
 * `points` (sorted by `at`) that holds it: the last sample at or before its
 * `connect`, the first at or after its first byte.
 */
export const explain = (read: ReadPhases, collections: ReadonlyArray<Collection>, points: ReadonlyArray<SchedPoint>): ExplainedRead => {
  const total = read.connectToAccept + read.acceptToParsed + read.parsedToFinish + read.finishToHead
  const end = read.at + total
  const gc = collectedIn(read.at, end, collections)
  let before: SchedPoint | undefined
  let after: SchedPoint | undefined
  for (const point of points) {
    if (point.at <= read.at) before = point
    if (point.at >= end) {
      after = point
      break
    }
  }
  const spanned = before !== undefined && after !== undefined
  return {
    ...read,
    total,
    gcMs: gc.all,
    majorGcMs: gc.major,
    spanMs: spanned ? after!.at - before!.at : Number.NaN,
    runMs: spanned ? after!.runMs - before!.runMs : Number.NaN,
    waitMs: spanned ? after!.waitMs - before!.waitMs : Number.NaN
  }
}
