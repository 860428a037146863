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
 */
import type { ProbeRead } from "./_load-probe.ts"
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
