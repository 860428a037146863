/**
 * One part of the load of `bench/load.ts`, a process of its own started by
 * the load generator (`_load-generator.ts`, `fork`), so that no one event
 * loop carries the whole mix: a part stalled by its own work is told apart
 * from a late service. Given a base URL and its share of the mix (JSON in
 * argv[3]; its name in argv[2]), it keeps up, until told to finish:
 *
 * - submissions of one-second `demo-scan` tasks at `rate` per second (paced,
 *   over a keep-alive pool), each acknowledged id told to the generator,
 *   which tells the other parts the newest;
 * - `statusRate` status reads per second on a new connection each, on a fixed
 *   pace whatever the answers take, and as many on one open connection, one
 *   at a time (`GET /api/tasks/{id}`);
 * - `sseTask` watchers of single tasks, each a new connection per task
 *   (`/api/tasks/{id}/events`, the newest task, until it finishes), read
 *   over a bare socket (`_load-sse.ts`), or over `node:http` when argv[5] is
 *   `http`;
 * - `sseAll` readers of `/api/events` (reconnecting with `Last-Event-ID`);
 * - `wsWatch` WebSocket clients looping RPC `Watch` over the newest tasks,
 *   and `wsAll` WebSocket clients on `WatchChanges` (`WatchAll` with event ids,
 *   resumed after the last change read when dropped).
 *
 * The part says `{ ready: true }` once loaded, and starts its clients when
 * the generator says `{ start: true }`. Messages from the generator:
 * `{ newest: id }`; `{ report: true }` asks for
 * what the part saw since the last report (a `PartReport`: every sample, its
 * own longest event-loop delay and CPU), answered and reset; `{ finish: true }`
 * stops the load, abandons the submissions still queued for a socket (never
 * sent: a starved service leaves thousands there, each of which would be
 * waited for; they leave the `sent` count), waits for those sent and still
 * unanswered, answers with the last report, closes every connection and
 * exits.
 */
import { Agent, type ClientRequest, get, type IncomingMessage, request } from "node:http"
import { monitorEventLoopDelay } from "node:perf_hooks"
import * as Sse from "./_load-sse.ts"
import * as Http from "./_load-http.ts"
import * as Ws from "./_load-ws.ts"

/** A part's share of the mix (each figure as in `Mix`: per second, or a number of clients). */
export interface PartMix {
  readonly rate: number
  readonly taskMillis: number
  readonly statusRate: number
  readonly sseTask: number
  readonly sseAll: number
  readonly wsWatch: number
  readonly wsAll: number
}

/** The event-stream client of the watchers: a bare socket (`_load-sse.ts`) or `node:http`'s `get`. */
export type SseClient = "net" | "http"

/** The WebSocket clients' client: a bare socket (`_load-ws.ts`) or the global `WebSocket` (undici's). */
export type WsClient = "net" | "undici"

/** The submissions' client: a pool of bare keep-alive sockets (`_load-http.ts`) or `node:http`'s agent. */
export type SubmitClient = "net" | "http"

/** Stream kinds whose delivery lag is measured. */
export type StreamKind = "sseTask" | "sseAll" | "wsWatch" | "wsAll"

/** What one part saw since its last report: counts, and every sample (ms) so that the generator can pool them. */
export interface PartReport {
  readonly name: string
  readonly sent: number
  readonly acked: number
  readonly errors: Record<string, number>
  readonly submit: ReadonlyArray<number>
  readonly statusNew: ReadonlyArray<number>
  readonly statusOpen: ReadonlyArray<number>
  readonly lag: Record<StreamKind, ReadonlyArray<number>>
  readonly dropped: number
  readonly resets: number
  /** Requests sent again because the kept-alive socket they went out on had just been closed by the server. */
  readonly staleSockets: number
  /** Submissions abandoned at the finish, still queued for a socket: never sent, so not in `sent` (only the last report). */
  readonly unsent: number
  /** The part's own longest event-loop delay since the last report (ms): its samples include up to this much of its own. */
  readonly loopMax: number
  /** The part's own CPU time since the last report (s, user + system). */
  readonly cpuSeconds: number
  /**
   * The part's work since the last report, what its CPU is divided by: `requests` answered (submissions and status
   * reads), `streams` opened (event streams, RPC stream calls), `frames` read (events, WebSocket messages).
   */
  readonly work: { readonly requests: number; readonly streams: number; readonly frames: number }
}

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

const [name, base, mixJson, clientName, wsClientName, submitClientName] = process.argv.slice(2)
const mix: PartMix = JSON.parse(mixJson)
/** Which client reads event streams: `net` (`_load-sse.ts`, the default) or `http` (`node:http`). */
const sseClient: SseClient = clientName === "http" ? "http" : "net"
/** Which client speaks WebSocket: `net` (`_load-ws.ts`, the default) or `undici` (the global `WebSocket`). */
const wsClient: WsClient = wsClientName === "undici" ? "undici" : "net"
/** Which client sends the submissions: `net` (`_load-http.ts`, the default) or `http` (`node:http`'s agent). */
const submitClient: SubmitClient = submitClientName === "http" ? "http" : "net"
const wsBase = base.replace(/^http/, "ws")
const { hostname, port } = new URL(base)
let running = true
/** Sends to the generator; a channel already closed (it is gone) is nothing to report to. */
const send = (message: unknown) => {
  if (process.connected) process.send?.(message)
}

/**
 * Sends to the generator and resolves once the channel has taken the whole message (at once if it is gone). A large
 * report (the `/api/events` readers' tens of thousands of samples) is written to the channel over several turns:
 * exiting before then lost it, and the generator saw the part exit without its last report.
 */
const sendAll = (message: unknown) =>
  new Promise<void>((sent) => {
    if (!process.connected || process.send === undefined) return sent()
    process.send(message, undefined, {}, () => sent())
  })

// ---------------------------------------------------------------------------
// what an interval saw
// ---------------------------------------------------------------------------

let sent = 0
let acked = 0
let dropped = 0
let resets = 0
let staleSockets = 0
let unsent = 0
/** Work done since the last report (`PartReport.work`). */
let requests = 0
let streamsOpened = 0
let frames = 0
let errors: Record<string, number> = {}
let submitLatency: Array<number> = []
let statusNew: Array<number> = []
let statusOpen: Array<number> = []
let lag: Record<StreamKind, Array<number>> = { sseTask: [], sseAll: [], wsWatch: [], wsAll: [] }

const error = (kind: string) => {
  errors[kind] = (errors[kind] ?? 0) + 1
}

/** The part's own event-loop delay: a late part measures itself. */
const delay = monitorEventLoopDelay({ resolution: 10 })
delay.enable()
let cpuBefore = process.cpuUsage()

/** What the part saw since the last report; the counts and samples start again. */
const report = (): PartReport => {
  const cpu = process.cpuUsage(cpuBefore)
  cpuBefore = process.cpuUsage()
  const line: PartReport = {
    name,
    sent,
    acked,
    errors,
    submit: submitLatency,
    statusNew,
    statusOpen,
    lag,
    dropped,
    resets,
    staleSockets,
    unsent,
    loopMax: delay.max / 1e6,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    work: { requests, streams: streamsOpened, frames }
  }
  delay.reset()
  sent = acked = dropped = resets = staleSockets = unsent = requests = streamsOpened = frames = 0
  errors = {}
  submitLatency = []
  statusNew = []
  statusOpen = []
  lag = { sseTask: [], sseAll: [], wsWatch: [], wsAll: [] }
  return line
}

const sleep = (millis: number) => new Promise<void>((wake) => setTimeout(wake, millis))

/** The newest acknowledged task, what watchers follow: this part's own submissions' or as the generator tells it. */
let newestId: string | undefined
const newest = () => newestId

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
/**
 * Submissions waiting in the pool's queue for a socket: not sent yet. A starved service leaves thousands there (the
 * pace holds whatever the answers take); the part's finish abandons them (`unsent`) rather than wait for each.
 */
const queued = new Set<ClientRequest>()

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
      response.on("end", () => {
        requests++
        resolve({ status: response.statusCode ?? 0, body: text })
      })
      response.on("error", (e: NodeJS.ErrnoException) => reject(e.code ?? "response-error"))
    })
    if (agent === pool) {
      queued.add(req)
      req.once("socket", () => queued.delete(req))
      req.once("close", () => queued.delete(req))
    }
    req.on("timeout", () => req.destroy(Object.assign(new Error("timeout"), { code: "timeout" })))
    req.on("error", (e: NodeJS.ErrnoException) => {
      if (req.reusedSocket && (e.code === "ECONNRESET" || e.code === "EPIPE") && !retried) {
        staleSockets++
        call(method, path, agent, body, true).then(resolve, reject)
      } else reject(e.code ?? e.message)
    })
    req.end(payload)
  })

const payload = { fromBlock: 1, toBlock: 4, delayMillis: Math.max(0, Math.round(mix.taskMillis / 4)) }
const payloadText = JSON.stringify(payload)

/** The submissions' pool of bare keep-alive connections (`_load-http.ts`), as many as `pool`'s, when `submitClient` is `net`. */
const submitPool = new Http.Pool(hostname, Number(port), 64, requestTimeout, () => staleSockets++)

/** Submissions not yet answered: the run waits for them before its last report. */
const inFlight = new Set<Promise<void>>()

const submitOne = async () => {
  sent++
  const started = performance.now()
  try {
    const reply = submitClient === "net" ? await submitPool.request("POST", "/api/tasks/demo-scan", payloadText) : await call("POST", "/api/tasks/demo-scan", pool, payload)
    if (submitClient === "net") requests++
    if (reply.status !== 202) return error(`submit-http-${reply.status}`)
    acked++
    submitLatency.push(performance.now() - started)
    newestId = JSON.parse(reply.body).taskId
  } catch (kind) {
    // Abandoned in the pool's queue at the finish: it never reached the service, so it was not sent.
    if (kind === "unsent") {
      sent--
      unsent++
    } else error(`submit-${kind}`)
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

/** One status read of the newest task, timed into `into()`; a failure counted by kind. */
const statusRead = async (agent: Agent | false, into: () => Array<number>) => {
  const id = newest()
  if (id === undefined) return
  const started = performance.now()
  try {
    const reply = await call("GET", `/api/tasks/${id}`, agent)
    if (reply.status !== 200) error(`status-http-${reply.status}`)
    else into().push(performance.now() - started)
  } catch (kind) {
    error(`status-${agent === false ? "new" : "open"}-${kind}`)
  }
}

/**
 * Status reads on a new connection each, `statusRate` a second on a fixed pace whatever the answers take: each read
 * starts when due (at once if the part was late), not after the one before has been answered, so a slow spell of
 * the service gets its share of reads. Waiting for each answer first (as before session 27) read less often while
 * reads were slow, and the slow spells weighed less in the p99 than they lasted.
 */
const pacedReads = async () => {
  if (mix.statusRate <= 0) return
  const begin = performance.now()
  for (let due = 1; running; due++) {
    const wait = begin + (due * 1000) / mix.statusRate - performance.now()
    if (wait > 0) await sleep(wait)
    if (running) void statusRead(false, () => statusNew)
  }
}

/**
 * Status reads on the one open connection: one at a time, as a kept-alive connection carries one request at a
 * time, each `1000 / statusRate` ms after the answer before (fewer a second while answers are slow).
 */
const openReads = async () => {
  if (mix.statusRate <= 0) return
  while (running) {
    await sleep(1000 / mix.statusRate)
    await statusRead(openConnection, () => statusOpen)
  }
}

// ---------------------------------------------------------------------------
// server-sent events
// ---------------------------------------------------------------------------

/** Follows an event stream over `node:http` (`--sse-client=http`), calling `onEvent` for each event; resolves when it ends. */
const followHttp = (path: string, headers: Record<string, string>, onEvent: (event: Sse.SseEvent) => void, kind: string) =>
  new Promise<void>((resolve) => {
    const req = get(`${base}${path}`, { agent: false, headers: { ...headers, connection: "close" }, timeout: requestTimeout }, (response: IncomingMessage) => {
      if (response.statusCode !== 200) {
        error(`${kind}-http-${response.statusCode}`)
        response.resume()
        response.on("end", resolve)
        return
      }
      req.setTimeout(0)
      const parser = new Sse.SseParser()
      response.setEncoding("utf8")
      response.on("data", (chunk: string) => {
        for (const event of parser.push(chunk)) onEvent(event)
      })
      response.on("end", resolve)
      response.on("error", (e: NodeJS.ErrnoException) => {
        if (running) error(`${kind}-${e.code ?? "response-error"}`)
        resolve()
      })
      const stream = { destroy: () => req.destroy() }
      streams.add(stream)
      response.on("close", () => streams.delete(stream))
    })
    req.on("timeout", () => req.destroy(Object.assign(new Error("timeout"), { code: "timeout" })))
    req.on("error", (e: NodeJS.ErrnoException) => {
      if (running) error(`${kind}-${e.code ?? e.message}`)
      resolve()
    })
  })


/** Follows an event stream on a new connection each, calling `onEvent` for each event; resolves when it ends. */
const followSse = async (path: string, headers: Record<string, string>, onEvent: (event: Sse.SseEvent) => void, kind: string) => {
  streamsOpened++
  const counted = (event: Sse.SseEvent) => {
    frames++
    onEvent(event)
  }
  if (sseClient === "http") return followHttp(path, headers, counted, kind)
  const stream = Sse.open(hostname, Number(port), path, headers, counted, requestTimeout)
  streams.add(stream)
  const outcome = await stream.done
  streams.delete(stream)
  if (outcome._tag === "status") error(`${kind}-http-${outcome.status}`)
  else if (outcome._tag === "error" && running) error(`${kind}-${outcome.code}`)
}

/** The event streams open now: destroyed when the part finishes. */
const streams = new Set<{ readonly destroy: () => void }>()

/** Follows the newest task to its end on a new connection, then the next, for as long as the run lasts. */
const sseTaskWatcher = async () => {
  while (running) {
    const id = newest()
    if (id === undefined) {
      await sleep(50)
      continue
    }
    let first = true
    await followSse(`/api/tasks/${id}/events`, {}, (event) => {
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
    await followSse("/api/events", lastEventId === undefined ? {} : { "last-event-id": lastEventId }, (event) => {
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

/**
 * A WebSocket as the RPC calls use it, over either client (`wsClient`): it runs one call at a time, so one listener
 * at a time hears its messages and its end.
 */
interface RpcSocket {
  readonly send: (text: string) => void
  readonly close: () => void
  readonly isOpen: () => boolean
  /** The running call's listener: each message's text, and the socket's end. */
  listener: { readonly onText: (text: string) => void; readonly onClose: () => void } | undefined
}

/** Opens a WebSocket RPC connection (`/ws`) with the part's WebSocket client; rejects with an error kind. */
const openSocket = async (): Promise<RpcSocket> => {
  if (wsClient === "undici") {
    const socket = new WebSocket(`${wsBase}/ws`)
    const rpc: RpcSocket = {
      send: (text) => socket.send(text),
      close: () => socket.close(),
      isOpen: () => socket.readyState === WebSocket.OPEN,
      listener: undefined
    }
    socket.addEventListener("message", (message: MessageEvent) =>
      rpc.listener?.onText(typeof message.data === "string" ? message.data : Buffer.from(message.data as ArrayBuffer).toString("utf8")))
    socket.addEventListener("close", () => {
      sockets.delete(rpc)
      rpc.listener?.onClose()
    })
    sockets.add(rpc)
    await new Promise<void>((resolve, reject) => {
      socket.onopen = () => resolve()
      socket.onerror = () => reject("ws-connect-error")
    })
    return rpc
  }
  let rpc: RpcSocket | undefined
  const connection = await Ws.open(hostname, Number(port), "/ws", {
    onText: (text) => rpc?.listener?.onText(text),
    onClose: () => {
      if (rpc === undefined) return
      sockets.delete(rpc)
      rpc.listener?.onClose()
    }
  }, requestTimeout)
  rpc = { send: connection.send, close: connection.close, isOpen: connection.isOpen, listener: undefined }
  sockets.add(rpc)
  return rpc
}

const sockets = new Set<RpcSocket>()
let requestIds = 0

/**
 * Runs a streaming call on the socket; `onValue` for each value; resolves at its exit. A drop for falling behind is
 * counted as a drop, and as an error too unless the caller resumes (`resumable`). A message may hold several ndjson
 * lines, and a line may go on in the next message.
 */
const streamCall = (socket: RpcSocket, tag: string, payload: unknown, onValue: (value: any) => void, resumable = false) =>
  new Promise<void>((resolve) => {
    const id = String(++requestIds)
    // The text of `{ _tag: "Ack", requestId: id }` as `JSON.stringify` writes it, made once per call.
    const ack = `{"_tag":"Ack","requestId":"${id}"}\n`
    let buffer = ""
    const onLine = (line: string) => {
      const frame = JSON.parse(line)
      if (frame.requestId !== id) return
      if (frame._tag === "Chunk") {
        for (const value of frame.values) onValue(value)
        socket.send(ack)
      } else if (frame._tag === "Exit") {
        const drop = JSON.stringify(frame.exit).includes("SubscriberDropped")
        if (drop) dropped++
        if (frame.exit._tag !== "Success" && !(drop && resumable)) error(`${tag}-failure`)
        done()
      }
    }
    const listener = {
      onText: (text: string) => {
        frames++
        const data = buffer === "" ? text : buffer + text
        let from = 0
        for (let end = data.indexOf("\n"); end >= 0; end = data.indexOf("\n", from)) {
          if (end > from) onLine(data.slice(from, end))
          from = end + 1
        }
        buffer = from === data.length ? "" : data.slice(from)
      },
      onClose: () => {
        if (running) error(`${tag}-closed`)
        done()
      }
    }
    const done = () => {
      if (socket.listener === listener) socket.listener = undefined
      resolve()
    }
    if (!socket.isOpen()) return listener.onClose()
    socket.listener = listener
    streamsOpened++
    socket.send(`${JSON.stringify({ _tag: "Request", id, tag, payload, headers: [] })}\n`)
  })

const wsWatcher = async () => {
  let socket: RpcSocket | undefined
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
    if (!socket.isOpen()) socket = undefined
  }
}

/** Reads `WatchChanges`, resubscribing after the last change it read when dropped or cut (as the typed client does). */
const wsAllReader = async () => {
  let after: string | undefined
  while (running) {
    let socket: RpcSocket
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

// A part that submits tells the generator its newest acknowledged task (at most every 50 ms), for the other parts.
let told: string | undefined
if (mix.rate > 0) {
  setInterval(() => {
    if (newestId !== undefined && newestId !== told) send({ newest: told = newestId })
  }, 50).unref()
}

/** The part's clients, started when the generator says `start` (once every part is ready). */
const loops: Array<Promise<void>> = []
const start = () => {
  // The part's own clock (CPU, event-loop delay) starts with its load, not with its process.
  report()
  loops.push(
    ...(mix.rate > 0 ? [submissions()] : []),
    pacedReads(),
    openReads(),
    ...repeat(mix.sseAll, sseAllReader),
    ...repeat(mix.wsAll, wsAllReader),
    ...repeat(mix.sseTask, sseTaskWatcher),
    ...repeat(mix.wsWatch, wsWatcher)
  )
}

/** Stops the load: the last submissions are answered (or fail) before the last report, then every connection closes. */
const finish = async () => {
  running = false
  for (const req of queued) req.destroy(Object.assign(new Error("unsent"), { code: "unsent" }))
  submitPool.abandonQueued("unsent")
  await Promise.all(inFlight)
  await sendAll({ report: report() })
  for (const req of streams) req.destroy()
  for (const socket of sockets) socket.close()
  await Promise.race([Promise.all(loops), sleep(5000)])
  pool.destroy()
  submitPool.destroy()
  openConnection.destroy()
  process.exit(0)
}

process.on("message", (message: { newest?: string; start?: boolean; report?: boolean; finish?: boolean }) => {
  if (message.start === true && loops.length === 0 && running) start()
  if (message.newest !== undefined && mix.rate === 0) newestId = message.newest
  if (message.report === true && running) send({ report: report() })
  if (message.finish === true && running) void finish()
})
// The generator gone (it exited, crashed or was killed): so is the part.
process.on("disconnect", () => process.exit(0))
// Loaded: the generator starts the load once every part and the probe are (starting eight processes on a busy machine
// takes seconds, which the load's clock would otherwise count).
send({ ready: true })
