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
 *
 * And the stalls of the service's event loop (`_load-stalls.ts`): a 10-ms
 * timer here that fires more than 50 ms late marks one, listed with the
 * garbage collection inside it (V8's `gc` performance entries). A stall is
 * listed once a second has passed since its end, so that the collections
 * inside it (reported asynchronously) are in; `clockOffset` turns its times
 * into the monotonic clock of a CPU profile (ms). Every collection itself is
 * listed too (`gcs`, on the machine's clock, in the line after V8 reported
 * it), so that a slow probe read is matched with the collections inside it
 * (`_load-timeline.ts`), stall or not.
 */
import { subscribe } from "node:diagnostics_channel"
import type { IncomingMessage } from "node:http"
import type { Socket } from "node:net"
import { constants, PerformanceObserver } from "node:perf_hooks"
import * as HiddenField from "../packages/tasks/src/HiddenField.ts"
import { type Collection, collectedIn, type Stall } from "./_load-stalls.ts"

/** One probe read's timeline in the service (ms on the machine's clock), keyed by the client's port. */
export interface TracedRead {
  readonly port: number
  readonly accept: number
  readonly parsed: number
  finish: number
}

/** Milliseconds on the machine's clock: the same in every process, to a fraction of a millisecond. */
const clock = () => performance.timeOrigin + performance.now()

/**
 * Each connection's accept time, and each probe read's start, kept on the socket and the request in hidden fields,
 * not in `WeakMap`s: a `WeakMap` entry per connection (hundreds a second under the load mix) was an ephemeron the
 * service's full collections had to settle — the measuring fed the very C-heap steps it measures (a heap snapshot
 * of the service: 1,055 live entries keyed by sockets and 7,664 dead ones in one table at the end of warm-up).
 */
const accepted = HiddenField.make<number>()
const started = HiddenField.make<{ readonly at: number; readonly read: TracedRead }>()
let samples = {
  acceptToRequest: [] as Array<number>,
  requestToFinish: [] as Array<number>,
  reads: [] as Array<TracedRead>,
  accepts: 0,
  acceptGapMax: 0,
  stalls: [] as Array<Stall>,
  gcs: [] as Array<Collection>
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

/** How late the loop-stall timer may fire before its wait counts as a stall (ms). */
const stallMillis = 50
/** The timer's period (ms). */
const tickMillis = 10
/** `performance.now()` plus this is the monotonic clock of `process.hrtime` and of V8's CPU profiles (ms). */
const clockOffset = Number(process.hrtime.bigint()) / 1e6 - performance.now()
/** The collections of the last 20 s, and the stalls not yet listed (their collections may not be reported yet). */
let collections: Array<Collection> = []
let pending: Array<{ readonly start: number; readonly end: number }> = []
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    const kind = (entry as { readonly detail?: { readonly kind?: number } }).detail?.kind
    const major = kind === constants.NODE_PERFORMANCE_GC_MAJOR
    collections.push({ start: entry.startTime, duration: entry.duration, major })
    samples.gcs.push({ start: performance.timeOrigin + entry.startTime, duration: entry.duration, major })
  }
}).observe({ entryTypes: ["gc"] })
let lastTick = performance.now()
setInterval(() => {
  const now = performance.now()
  if (now - lastTick > tickMillis + stallMillis) pending.push({ start: lastTick, end: now })
  lastTick = now
}, tickMillis).unref()

setInterval(() => {
  const now = performance.now()
  const ready = pending.filter((stall) => stall.end < now - 1000)
  pending = pending.filter((stall) => stall.end >= now - 1000)
  for (const { start, end } of ready) {
    const gc = collectedIn(start, end, collections)
    samples.stalls.push({ start, end, gcMs: gc.all, majorGcMs: gc.major })
  }
  collections = collections.filter((gc) => gc.start + gc.duration > now - 20_000)
  process.stdout.write(`load-trace ${JSON.stringify({ ...samples, clockOffset })}\n`)
  samples = { acceptToRequest: [], requestToFinish: [], reads: [], accepts: 0, acceptGapMax: 0, stalls: [], gcs: [] }
}, 10_000).unref()
