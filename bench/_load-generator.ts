/**
 * The load generator of `bench/load.ts`, run in a process of its own so its
 * work does not count against the service. Given a base URL and a mix (as
 * JSON in argv[2]), it keeps up, for `durationSeconds`:
 *
 * - submissions of one-second `demo-scan` tasks at `rate` per second (paced,
 *   over a keep-alive pool);
 * - `statusRate` status reads per second on one open connection and as many
 *   on a new connection each (`GET /api/tasks/{id}`), timed here and, the
 *   same reads again, by the status probe (`_load-probe.ts`), a process of
 *   its own that does nothing else;
 * - `sseTask` watchers of single tasks, each a new connection per task
 *   (`/api/tasks/{id}/events`, the newest task, until it finishes);
 * - `sseAll` readers of `/api/events` (reconnecting with `Last-Event-ID`);
 * - `wsWatch` WebSocket clients looping RPC `Watch` over the newest tasks,
 *   and `wsAll` WebSocket clients on `WatchChanges` (`WatchAll` with event ids,
 *   resumed after the last change read when dropped).
 *
 * Every `intervalSeconds` it prints one JSON line with what happened in the
 * interval (the probe's figures and its own longest event-loop delay
 * included); it closes everything and exits when the time is up.
 */
import { fork } from "node:child_process"
import { Agent, get, type IncomingMessage, request } from "node:http"
import { monitorEventLoopDelay } from "node:perf_hooks"
import type { ProbeReport } from "./_load-probe.ts"
import { type Quantiles, quantiles } from "./_measure.ts"

/** The mix a run keeps up. */
export interface Mix {
  readonly durationSeconds: number
  readonly intervalSeconds: number
  readonly rate: number
  readonly taskMillis: number
  readonly statusRate: number
  readonly sseTask: number
  readonly sseAll: number
  readonly wsWatch: number
  readonly wsAll: number
}

/** One interval's report. */
export interface IntervalReport {
  readonly t: number
  readonly sent: number
  readonly acked: number
  readonly errors: Record<string, number>
  readonly submit: Quantiles
  readonly statusNew: Quantiles
  readonly statusOpen: Quantiles
  readonly lag: Record<StreamKind, Quantiles>
  readonly dropped: number
  readonly resets: number
  /** Requests sent again because the kept-alive socket they went out on had just been closed by the server. */
  readonly staleSockets: number
  /** The generator's own longest event-loop delay in the interval (ms): its latencies include it. */
  readonly loopMax: number
  /** The same status reads by the probe, a process doing nothing else (`_load-probe.ts`); absent if it did not answer. */
  readonly probe: ProbeReport | undefined
}

/** Stream kinds whose delivery lag is measured. */
export type StreamKind = "sseTask" | "sseAll" | "wsWatch" | "wsAll"


interface Record_ {
  readonly id: string
  readonly status: string
  readonly createdAt: number
  readonly startedAt: number | null
  readonly heartbeatAt: number | null
  readonly finishedAt: number | null
}

/** When a record was made: its latest timestamp (a change stamps one of them). */
const stampOf = (info: Record_) => Math.max(info.createdAt, info.startedAt ?? 0, info.heartbeatAt ?? 0, info.finishedAt ?? 0)

const [base, mixJson] = [process.argv[2], process.argv[3]]
const mix: Mix = JSON.parse(mixJson)
const wsBase = base.replace(/^http/, "ws")
const startedAt = Date.now()
const endsAt = startedAt + mix.durationSeconds * 1000
let running = true

// ---------------------------------------------------------------------------
// what an interval saw
// ---------------------------------------------------------------------------

let sent = 0
let acked = 0
let dropped = 0
let resets = 0
let staleSockets = 0
let errors: Record<string, number> = {}
let submitLatency: Array<number> = []
let statusNew: Array<number> = []
let statusOpen: Array<number> = []
let lag: Record<StreamKind, Array<number>> = { sseTask: [], sseAll: [], wsWatch: [], wsAll: [] }

const error = (kind: string) => {
  errors[kind] = (errors[kind] ?? 0) + 1
}

/** The probe's figures for the interval, asked for when the interval ends (undefined if it does not answer within 2 s). */
const probeReport = () =>
  new Promise<ProbeReport | undefined>((resolve) => {
    if (!probe.connected) return resolve(undefined)
    const timer = setTimeout(() => {
      probe.off("message", onMessage)
      resolve(undefined)
    }, 2000)
    const onMessage = (message: { report?: ProbeReport }) => {
      if (message.report === undefined) return
      clearTimeout(timer)
      probe.off("message", onMessage)
      resolve(message.report)
    }
    probe.on("message", onMessage)
    probe.send({ report: true })
  })

const report = async () => {
  const probed = probeReport()
  const line: IntervalReport = {
    t: Math.round((Date.now() - startedAt) / 1000),
    sent,
    acked,
    errors,
    submit: quantiles(submitLatency),
    statusNew: quantiles(statusNew),
    statusOpen: quantiles(statusOpen),
    lag: {
      sseTask: quantiles(lag.sseTask),
      sseAll: quantiles(lag.sseAll),
      wsWatch: quantiles(lag.wsWatch),
      wsAll: quantiles(lag.wsAll)
    },
    dropped,
    resets,
    staleSockets,
    loopMax: delay.max / 1e6,
    probe: undefined
  }
  delay.reset()
  sent = acked = dropped = resets = staleSockets = 0
  errors = {}
  submitLatency = []
  statusNew = []
  statusOpen = []
  lag = { sseTask: [], sseAll: [], wsWatch: [], wsAll: [] }
  process.stdout.write(`${JSON.stringify({ ...line, probe: await probed })}\n`)
}

const sleep = (millis: number) => new Promise<void>((wake) => setTimeout(wake, millis))

/** The generator's own event-loop delay: a late generator measures itself. */
const delay = monitorEventLoopDelay({ resolution: 10 })
delay.enable()

/** The status probe (`_load-probe.ts`), told the newest task as it changes. */
const probe = fork(new URL("./_load-probe.ts", import.meta.url), [base, String(mix.statusRate)], { stdio: ["ignore", "inherit", "inherit", "ipc"] })
// A send to a probe that has just exited (its channel not yet seen closed) fails with EPIPE: its figures are then
// missing from the interval, which the report already allows; the generator must not die of it.
probe.on("error", (error) => process.stderr.write(`load generator: the status probe: ${error.message}\n`))
let probeTold: string | undefined
setInterval(() => {
  const id = newest()
  if (id !== undefined && id !== probeTold && probe.connected) probe.send({ newest: probeTold = id })
}, 50).unref()

/** The newest acknowledged tasks: what watchers follow. */
const recent: Array<string> = []
const newest = () => recent[recent.length - 1]

// ---------------------------------------------------------------------------
// HTTP requests
// ---------------------------------------------------------------------------

const pool = new Agent({ keepAlive: true, maxSockets: 64 })
const openConnection = new Agent({ keepAlive: true, maxSockets: 1 })
const requestTimeout = 60_000

/**
 * One request; resolves with the status and body, or rejects with an error kind. A request reset on a kept-alive
 * socket the server had just closed as idle (`reusedSocket` and `ECONNRESET`, the race Node's documentation
 * describes) is sent once more on a fresh one, and counted in `staleSockets`, not as an error.
 */
const call = (method: string, path: string, agent: Agent | false, body?: unknown, retried = false) =>
  new Promise<{ status: number; body: string }>((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body)
    const req = request(`${base}${path}`, {
      method,
      agent,
      headers: {
        ...(payload === undefined ? {} : { "content-type": "application/json", "content-length": Buffer.byteLength(payload) }),
        ...(agent === false ? { connection: "close" } : {})
      },
      timeout: requestTimeout
    }, (response) => {
      let text = ""
      response.setEncoding("utf8")
      response.on("data", (chunk: string) => text += chunk)
      response.on("end", () => resolve({ status: response.statusCode ?? 0, body: text }))
      response.on("error", (e: NodeJS.ErrnoException) => reject(e.code ?? "response-error"))
    })
    req.on("timeout", () => req.destroy(Object.assign(new Error("timeout"), { code: "timeout" })))
    req.on("error", (e: NodeJS.ErrnoException) => {
      if (req.reusedSocket && e.code === "ECONNRESET" && !retried) {
        staleSockets++
        call(method, path, agent, body, true).then(resolve, reject)
      } else reject(e.code ?? e.message)
    })
    req.end(payload)
  })

const payload = { fromBlock: 1, toBlock: 4, delayMillis: Math.max(0, Math.round(mix.taskMillis / 4)) }

/** Submissions not yet answered: the run waits for them before its last report. */
const inFlight = new Set<Promise<void>>()

const submitOne = async () => {
  sent++
  const started = performance.now()
  try {
    const reply = await call("POST", "/api/tasks/demo-scan", pool, payload)
    if (reply.status !== 202) return error(`submit-http-${reply.status}`)
    acked++
    submitLatency.push(performance.now() - started)
    recent.push(JSON.parse(reply.body).taskId)
    if (recent.length > 64) recent.shift()
  } catch (kind) {
    error(`submit-${kind}`)
  }
}

/** Paced submissions: each millisecond tick sends what is due, so the rate holds whatever the answers take. */
const submissions = async () => {
  let due = 0
  const begin = performance.now()
  while (running) {
    const target = Math.floor(((performance.now() - begin) / 1000) * mix.rate)
    while (due < target) {
      due++
      const submission = submitOne()
      inFlight.add(submission)
      void submission.finally(() => inFlight.delete(submission))
    }
    await sleep(5)
  }
}

const statusReads = async (agent: Agent | false, into: () => Array<number>) => {
  if (mix.statusRate <= 0) return
  while (running) {
    await sleep(1000 / mix.statusRate)
    const id = newest()
    if (id === undefined) continue
    const started = performance.now()
    try {
      const reply = await call("GET", `/api/tasks/${id}`, agent)
      if (reply.status !== 200) error(`status-http-${reply.status}`)
      else into().push(performance.now() - started)
    } catch (kind) {
      error(`status-${agent === false ? "new" : "open"}-${kind}`)
    }
  }
}

// ---------------------------------------------------------------------------
// server-sent events
// ---------------------------------------------------------------------------

interface SseEvent {
  readonly id: string | undefined
  readonly event: string
  readonly data: string
}

/** Splits a growing text into complete events, keeping the rest. */
class SseParser {
  buffer = ""
  push(chunk: string): Array<SseEvent> {
    this.buffer += chunk
    const end = this.buffer.lastIndexOf("\n\n")
    if (end < 0) return []
    const complete = this.buffer.slice(0, end)
    this.buffer = this.buffer.slice(end + 2)
    return complete.split("\n\n").flatMap((block) => {
      let id: string | undefined
      let event = "message"
      let data = ""
      for (const line of block.split("\n")) {
        if (line.startsWith("id: ")) id = line.slice(4)
        else if (line.startsWith("event: ")) event = line.slice(7)
        else if (line.startsWith("data: ")) data += line.slice(6)
      }
      return data === "" ? [] : [{ id, event, data }]
    })
  }
}

/** Opens an event stream and calls `onEvent` for each event; resolves when it ends. */
const followSse = (path: string, headers: Record<string, string>, agent: Agent | false, onEvent: (event: SseEvent) => void, kind: string) =>
  new Promise<void>((resolve) => {
    const req = get(`${base}${path}`, { agent, headers, timeout: requestTimeout }, (response: IncomingMessage) => {
      if (response.statusCode !== 200) {
        error(`${kind}-http-${response.statusCode}`)
        response.resume()
        response.on("end", resolve)
        return
      }
      req.setTimeout(0)
      const parser = new SseParser()
      response.setEncoding("utf8")
      response.on("data", (chunk: string) => {
        for (const event of parser.push(chunk)) onEvent(event)
      })
      response.on("end", resolve)
      response.on("error", (e: NodeJS.ErrnoException) => {
        if (running) error(`${kind}-${e.code ?? "response-error"}`)
        resolve()
      })
      streams.add(req)
      response.on("close", () => streams.delete(req))
    })
    req.on("timeout", () => req.destroy(Object.assign(new Error("timeout"), { code: "timeout" })))
    req.on("error", (e: NodeJS.ErrnoException) => {
      if (running) error(`${kind}-${e.code ?? e.message}`)
      resolve()
    })
  })

const streams = new Set<ReturnType<typeof get>>()

/** Follows the newest task to its end on a new connection, then the next, for as long as the run lasts. */
const sseTaskWatcher = async () => {
  while (running) {
    const id = newest()
    if (id === undefined) {
      await sleep(50)
      continue
    }
    let first = true
    await followSse(`/api/tasks/${id}/events`, { connection: "close" }, false, (event) => {
      // The first record is the task as it stands (not a change), so it has no delivery lag.
      if (!first) lag.sseTask.push(Date.now() - stampOf(JSON.parse(event.data)))
      first = false
    }, "sse-task")
  }
}

/** Reads `/api/events`, reconnecting with the last id when dropped or cut. */
const sseAllReader = async () => {
  let lastEventId: string | undefined
  while (running) {
    await followSse("/api/events", lastEventId === undefined ? {} : { "last-event-id": lastEventId }, false, (event) => {
      if (event.event === "message") {
        lastEventId = event.id
        lag.sseAll.push(Date.now() - stampOf(JSON.parse(event.data)))
      } else if (event.event === "dropped") dropped++
      else if (event.event === "reset") resets++
    }, "sse-all")
  }
}

// ---------------------------------------------------------------------------
// WebSocket RPC (the ndjson wire format of effect/rpc, spoken directly)
// ---------------------------------------------------------------------------

/** A WebSocket RPC client running one stream call at a time. */
const openSocket = () =>
  new Promise<WebSocket>((resolve, reject) => {
    const socket = new WebSocket(`${wsBase}/ws`)
    socket.onopen = () => resolve(socket)
    socket.onerror = () => reject("ws-connect-error")
    sockets.add(socket)
    socket.addEventListener("close", () => sockets.delete(socket))
  })

const sockets = new Set<WebSocket>()
let requestIds = 0

/**
 * Runs a streaming call on the socket; `onValue` for each value; resolves at its exit. A drop for falling behind is
 * counted as a drop, and as an error too unless the caller resumes (`resumable`).
 */
const streamCall = (socket: WebSocket, tag: string, payload: unknown, onValue: (value: any) => void, resumable = false) =>
  new Promise<void>((resolve) => {
    const id = String(++requestIds)
    let buffer = ""
    const onMessage = (message: MessageEvent) => {
      buffer += typeof message.data === "string" ? message.data : Buffer.from(message.data as ArrayBuffer).toString("utf8")
      const lines = buffer.split("\n")
      buffer = lines.pop() ?? ""
      for (const line of lines) {
        if (line === "") continue
        const frame = JSON.parse(line)
        if (frame.requestId !== id) continue
        if (frame._tag === "Chunk") {
          for (const value of frame.values) onValue(value)
          socket.send(`${JSON.stringify({ _tag: "Ack", requestId: id })}\n`)
        } else if (frame._tag === "Exit") {
          const drop = JSON.stringify(frame.exit).includes("SubscriberDropped")
          if (drop) dropped++
          if (frame.exit._tag !== "Success" && !(drop && resumable)) error(`${tag}-failure`)
          done()
        }
      }
    }
    const onClose = () => {
      if (running) error(`${tag}-closed`)
      done()
    }
    const done = () => {
      socket.removeEventListener("message", onMessage)
      socket.removeEventListener("close", onClose)
      resolve()
    }
    socket.addEventListener("message", onMessage)
    socket.addEventListener("close", onClose)
    socket.send(`${JSON.stringify({ _tag: "Request", id, tag, payload, headers: [] })}\n`)
  })

const wsWatcher = async () => {
  let socket: WebSocket | undefined
  while (running) {
    try {
      socket ??= await openSocket()
    } catch (kind) {
      error(String(kind))
      await sleep(200)
      continue
    }
    const id = newest()
    if (id === undefined) {
      await sleep(50)
      continue
    }
    let first = true
    await streamCall(socket, "Watch", { id }, (info) => {
      if (!first) lag.wsWatch.push(Date.now() - stampOf(info))
      first = false
    })
    if (socket.readyState !== WebSocket.OPEN) socket = undefined
  }
}

/** Reads `WatchChanges`, resubscribing after the last change it read when dropped or cut (as the typed client does). */
const wsAllReader = async () => {
  let after: string | undefined
  while (running) {
    let socket: WebSocket
    try {
      socket = await openSocket()
    } catch (kind) {
      error(String(kind))
      await sleep(200)
      continue
    }
    await streamCall(socket, "WatchChanges", after === undefined ? {} : { after }, (item) => {
      if (item._tag === "Reset") resets++
      else {
        after = item.eventId
        if (!("_tag" in item.event)) lag.wsAll.push(Date.now() - stampOf(item.event))
      }
    }, true)
    socket.close()
  }
}

// ---------------------------------------------------------------------------
// the run
// ---------------------------------------------------------------------------

const repeat = (count: number, loop: () => Promise<void>) => Array.from({ length: count }, () => loop())

const ticker = setInterval(report, mix.intervalSeconds * 1000)
const loops = [
  submissions(),
  statusReads(false, () => statusNew),
  statusReads(openConnection, () => statusOpen),
  ...repeat(mix.sseAll, sseAllReader),
  ...repeat(mix.wsAll, wsAllReader),
  ...repeat(mix.sseTask, sseTaskWatcher),
  ...repeat(mix.wsWatch, wsWatcher)
]
await sleep(endsAt - Date.now())
running = false
clearInterval(ticker)
// The last submissions are answered (or fail) before the last, partial interval is told.
await Promise.all(inFlight)
await report()
if (probe.connected) probe.send({ stop: true })
for (const req of streams) req.destroy()
for (const socket of sockets) socket.close()
await Promise.race([Promise.all(loops), sleep(5000)])
pool.destroy()
openConnection.destroy()
probe.kill()
process.exit(0)
