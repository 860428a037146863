/**
 * Loaded into the service by `bench/load.ts` (`node --import`): times, inside
 * the service, each status read the probe sends on a new connection (marked
 * `x-load-probe: new`), from Node's diagnostics channels — `accept`, the
 * connection handed to JavaScript (`net.server.socket`); `request`, its
 * request parsed (`http.server.request.start`); `finish`, the response
 * written (`http.server.response.finish`). Every 10 s it prints one line,
 * `load-trace {…}`, with the interval's `acceptToRequest` and
 * `requestToFinish` in ms. The probe's own first-byte time less these two is
 * what the connection waited before the service accepted it (the kernel's
 * queue, while the event loop ran other work).
 *
 * The line also carries each such read's timeline on the machine's clock
 * (`performance.timeOrigin + performance.now()`, ms, which the probe reads
 * too) keyed by the client's port — `accept`, `parsed`, `finish` — so that
 * `bench/load.ts` joins it with the probe's `connect` and `head` of the same
 * connection and places the wait exactly (a read is listed in the interval
 * its response was written in); and, over every connection the
 * service accepted in the interval, their count and the longest gap between
 * two accepts (`acceptGapMax`, ms): a stall of accepting shows as a gap.
 */
import { subscribe } from "node:diagnostics_channel"
import type { IncomingMessage } from "node:http"
import type { Socket } from "node:net"

/** One probe read's timeline in the service (ms on the machine's clock), keyed by the client's port. */
export interface TracedRead {
  readonly port: number
  readonly accept: number
  readonly parsed: number
  finish: number
}

/** Milliseconds on the machine's clock: the same in every process, to a fraction of a millisecond. */
const clock = () => performance.timeOrigin + performance.now()

const accepted = new WeakMap<Socket, number>()
const started = new WeakMap<IncomingMessage, { readonly at: number; readonly read: TracedRead }>()
let samples = {
  acceptToRequest: [] as Array<number>,
  requestToFinish: [] as Array<number>,
  reads: [] as Array<TracedRead>,
  accepts: 0,
  acceptGapMax: 0
}
let lastAccept = Number.NaN

subscribe("net.server.socket", (message) => {
  const now = performance.now()
  accepted.set((message as { socket: Socket }).socket, now)
  samples.accepts++
  if (now - lastAccept > samples.acceptGapMax) samples.acceptGapMax = now - lastAccept
  lastAccept = now
})
subscribe("http.server.request.start", (message) => {
  const { request, socket } = message as { request: IncomingMessage; socket: Socket }
  if (request.headers["x-load-probe"] !== "new") return
  const now = performance.now()
  const at = accepted.get(socket)
  const read: TracedRead = {
    port: socket.remotePort ?? 0,
    accept: at === undefined ? Number.NaN : performance.timeOrigin + at,
    parsed: performance.timeOrigin + now,
    finish: Number.NaN
  }
  started.set(request, { at: now, read })
  if (at !== undefined) samples.acceptToRequest.push(now - at)
})
subscribe("http.server.response.finish", (message) => {
  const start = started.get((message as { request: IncomingMessage }).request)
  if (start === undefined) return
  start.read.finish = clock()
  // Listed once written, whole: a read listed at its start and written after its interval's line went out without
  // its `finish` (JSON's null for NaN, which the join took as 0: a "written -> first byte" of the whole clock).
  samples.reads.push(start.read)
  samples.requestToFinish.push(performance.now() - start.at)
})

setInterval(() => {
  process.stdout.write(`load-trace ${JSON.stringify(samples)}\n`)
  samples = { acceptToRequest: [], requestToFinish: [], reads: [], accepts: 0, acceptGapMax: 0 }
}, 10_000).unref()
