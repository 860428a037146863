/**
 * The status probe of `bench/load.ts`: a process of its own, started by the
 * load generator and told the newest task over IPC, that reads
 * `GET /api/tasks/{id}` `statusRate` times a second on a new connection each
 * and as often on one open connection — and does nothing else, so its own
 * event loop is free when an answer arrives. The generator, busy with a
 * thousand watchers, times the same reads too; the two side by side say
 * whether a slow answer was the service's or the generator's.
 *
 * A read on a new connection is timed in phases: `connect` (request to the
 * socket's `connect`: the kernel's handshake, which a full accept queue
 * delays by a SYN retransmission, a second or more), `firstByte` (connect to
 * the response's head: the service accepting the connection, reading,
 * handling and writing — and the probe's own turn), and the whole read. The
 * probe's own event-loop delay (longest in the interval) is reported too: a
 * probe that was late itself says so.
 *
 * It says `{ ready: true }` once loaded and starts reading at `{ start:
 * true }`. Messages: `{ newest: id }` from the generator; `{ report: true }` asks for
 * the interval's figures, answered with a `ProbeReport` (and the samples
 * reset); `{ stop: true }` ends it.
 */
import { Agent, request } from "node:http"
import { monitorEventLoopDelay } from "node:perf_hooks"
import { type Quantiles, quantiles } from "./_measure.ts"

/** What the probe saw in one interval. */
export interface ProbeReport {
  /** Whole reads on a new connection each. */
  readonly statusNew: Quantiles
  /** Request to socket connected, on a new connection. */
  readonly connect: Quantiles
  /** Socket connected to the response's head, on a new connection. */
  readonly firstByte: Quantiles
  /** Whole reads on the one open connection. */
  readonly statusOpen: Quantiles
  /**
   * Each read on a new connection on the machine's clock (ms), keyed by its local port: the service traces the same
   * connection (`_load-trace.ts`), and the two timelines joined say where its time went.
   */
  readonly timeline: ReadonlyArray<ProbeRead>
  /** Every whole read's time (ms), new and open connection: the run's percentiles are taken over all of them. */
  readonly samples: { readonly statusNew: ReadonlyArray<number>; readonly statusOpen: ReadonlyArray<number> }
  /** The probe's own longest event-loop delay in the interval (ms). */
  readonly loopMax: number
  /** Failed reads, by kind. */
  readonly errors: Record<string, number>
}

/** A read on a new connection as the probe saw it (ms on the machine's clock): request, socket connected, response head. */
export interface ProbeRead {
  readonly port: number
  readonly start: number
  readonly connect: number
  readonly head: number
}

const run = (base: string, statusRate: number) => {
  const send = (message: unknown) => process.send?.(message)
  let newest: string | undefined
  let running = true
  const emptySamples = () => ({
    statusNew: [] as Array<number>,
    connect: [] as Array<number>,
    firstByte: [] as Array<number>,
    statusOpen: [] as Array<number>,
    timeline: [] as Array<ProbeRead>
  })
  let samples = emptySamples()
  let errors: Record<string, number> = {}
  const delay = monitorEventLoopDelay({ resolution: 10 })
  delay.enable()
  const openConnection = new Agent({ keepAlive: true, maxSockets: 1 })

  /** One read; resolves when it is timed or has failed (counted by kind). */
  const read = (agent: Agent | false) =>
    new Promise<void>((resolve) => {
      const id = newest
      if (id === undefined) return resolve()
      const started = performance.now()
      let connected = started
      let port = 0
      const req = request(`${base}/api/tasks/${id}`, {
        agent,
        // Marked for the service's trace (`_load-trace.ts`), which times it between accept, request and finish.
        headers: agent === false ? { connection: "close", "x-load-probe": "new" } : {},
        timeout: 60_000
      }, (response) => {
        const head = performance.now()
        response.resume()
        response.on("end", () => {
          const ended = performance.now()
          if (response.statusCode !== 200) errors[`http-${response.statusCode}`] = (errors[`http-${response.statusCode}`] ?? 0) + 1
          else if (agent === false) {
            samples.statusNew.push(ended - started)
            samples.connect.push(connected - started)
            samples.firstByte.push(head - connected)
            const origin = performance.timeOrigin
            samples.timeline.push({ port, start: origin + started, connect: origin + connected, head: origin + head })
          } else samples.statusOpen.push(ended - started)
          resolve()
        })
      })
      if (agent === false) req.once("socket", (socket) => socket.once("connect", () => {
        connected = performance.now()
        port = socket.localPort ?? 0
      }))
      req.on("timeout", () => req.destroy(Object.assign(new Error("timeout"), { code: "timeout" })))
      req.on("error", (e: NodeJS.ErrnoException) => {
        const kind = `${agent === false ? "new" : "open"}-${e.code ?? "error"}`
        errors[kind] = (errors[kind] ?? 0) + 1
        resolve()
      })
      req.end()
    })

  const loop = async (agent: Agent | false) => {
    while (running) {
      await new Promise((wake) => setTimeout(wake, 1000 / statusRate))
      if (running) await read(agent)
    }
  }

  process.on("message", (message: { newest?: string; report?: boolean; stop?: boolean }) => {
    if (message.newest !== undefined) newest = message.newest
    if (message.report === true) {
      const report: ProbeReport = {
        samples: { statusNew: [...samples.statusNew], statusOpen: [...samples.statusOpen] },
        statusNew: quantiles(samples.statusNew),
        connect: quantiles(samples.connect),
        firstByte: quantiles(samples.firstByte),
        statusOpen: quantiles(samples.statusOpen),
        timeline: samples.timeline,
        loopMax: delay.max / 1e6,
        errors
      }
      samples = emptySamples()
      errors = {}
      delay.reset()
      send({ report })
    }
    if (message.stop === true) {
      running = false
      openConnection.destroy()
      process.exit(0)
    }
  })
  // The generator gone (it exited, crashed or was killed): so is the probe.
  process.on("disconnect", () => process.exit(0))
  // Loaded: its reads start with the load (`start`), when every process of the generator is ready.
  let started = false
  process.on("message", (message: { start?: boolean }) => {
    if (message.start !== true || started) return
    started = true
    delay.reset()
    if (statusRate > 0) {
      void loop(false)
      void loop(openConnection)
    }
  })
  send({ ready: true })
}

// Started by the generator (`fork`): argv[2] the base URL, argv[3] reads per second of each kind.
if (process.send !== undefined) run(process.argv[2], Number(process.argv[3]))
