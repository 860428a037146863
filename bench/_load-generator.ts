/**
 * The load generator of `bench/load.ts`, run in a process of its own so its
 * work does not count against the service. Given a base URL, a mix (JSON in
 * argv[3]) and how to split it (JSON in argv[4], a `Split`), it does no load
 * itself: it starts the mix's parts (`_load-clients.ts`), each a process of
 * its own, so that no one event loop carries a thousand clients —
 *
 * - `submit`: the submissions and the status reads timed beside them;
 * - `sse-task-1` … `sse-task-N`: the single-task event-stream watchers, split
 *   evenly over `Split.sseTaskParts` processes (they open the most
 *   connections);
 * - `events`: the `/api/events` readers; `ws-watch`: the WebSocket `Watch`
 *   clients; `ws-all`: the `WatchChanges` clients;
 *
 * and the status probe (`_load-probe.ts`). It tells every part the newest
 * task the `submit` part has had acknowledged, and every `intervalSeconds`
 * asks each part and the probe for what they saw, pools the samples and
 * prints one JSON line (an `IntervalReport`).
 *
 * The load starts once every part and the probe have said they are ready (or
 * exited), at most `readyTimeoutMillis` after they were started: starting
 * eight processes takes seconds on a busy machine, which would otherwise be
 * counted as the first seconds of the load. The generator then prints
 * `{"started":true}` (the load's clock starts there), tells each process to
 * start, and runs for the mix's duration from then.
 *
 * Whose time a figure is: each part reports its own longest event-loop delay
 * with its samples. A part whose loop stalled longer than
 * `Split.stallMillis` in the interval may have added up to that much to any
 * of its samples, so each figure is given twice — as measured (every
 * sample) and `steady` (only the samples of parts that did not stall) — with
 * the parts that stalled named. A part that does not answer within 2 s is
 * counted as stalled; its samples come with the next interval's.
 *
 * Each part also counts its work (requests answered, streams opened, frames
 * read), so that the run prints its CPU per unit of work; with
 * `LOAD_GEN_PROFILE=DIR` in the environment each part writes a CPU profile
 * of itself there (`<part>.cpuprofile`, `node --cpu-prof`), to see where a
 * client's CPU goes.
 */
import { type ChildProcess, fork, spawn } from "node:child_process"
import { setPriority } from "node:os"
import { monitorEventLoopDelay } from "node:perf_hooks"
import { fileURLToPath } from "node:url"
import type { PartMix, PartReport, SseClient, StreamKind, SubmitClient, WsClient } from "./_load-clients.ts"
import type { ProbeReport } from "./_load-probe.ts"
import { type Quantiles, quantiles } from "./_measure.ts"

export type { StreamKind } from "./_load-clients.ts"

/** The mix a run keeps up. */
export interface Mix extends PartMix {
  readonly durationSeconds: number
  readonly intervalSeconds: number
  /** The probe's status reads per second on new and on open connections (`_load-probe.ts`), apart from `statusRate`. */
  readonly probeRate: number
}

/** How the generator splits the mix over processes, and when a part's loop counts as stalled. */
export interface Split {
  /** Processes sharing the single-task event-stream watchers. */
  readonly sseTaskParts: number
  /** A part whose longest event-loop delay in an interval exceeds this (ms) stalled: its samples are not `steady`. */
  readonly stallMillis: number
  /** The parts' event-stream client: a bare socket (`_load-sse.ts`) or `node:http`. */
  readonly sseClient: SseClient
  /** The parts' WebSocket client: a bare socket (`_load-ws.ts`) or the global `WebSocket` (undici's). */
  readonly wsClient: WsClient
  /** The submitting part's client: a pool of bare sockets (`_load-http.ts`) or `node:http`'s agent. */
  readonly submitClient: SubmitClient
  /**
   * The client parts' niceness (0: the service's own priority): clients elsewhere do not take the service's
   * processor, these share its two cores. The probe keeps the service's priority.
   */
  readonly clientsNice: number
  /**
   * Whether the client parts run under `SCHED_BATCH` (`chrt --batch`): the same share of the processor as at their
   * niceness, but a part woken by the service's write to its socket does not preempt the service at once (the
   * scheduler switches at its next tick instead), as a client on another machine would not. The probe keeps the
   * service's policy.
   */
  readonly clientsBatch: boolean
  /**
   * The processors the client parts may run on (`taskset -c` list, e.g. `1`), or empty for every one: pinned to one
   * of the two cores, they leave the other to the service, as clients on another machine would leave it all. The
   * probe and the service are not pinned.
   */
  readonly clientsCpus: string
  /** More Node/V8 flags for the client parts' command lines (the probe's and the service's not). */
  readonly clientsNodeFlags: ReadonlyArray<string>
}

/** Status and lag figures of one interval, over a set of samples. */
export interface Figures {
  readonly statusNew: Quantiles
  readonly statusOpen: Quantiles
  readonly lag: Record<StreamKind, Quantiles>
}

/** One interval's report. */
export interface IntervalReport extends Figures {
  readonly t: number
  readonly sent: number
  readonly acked: number
  readonly errors: Record<string, number>
  readonly submit: Quantiles
  readonly dropped: number
  readonly resets: number
  /** Requests sent again because the kept-alive socket they went out on had just been closed by the server. */
  readonly staleSockets: number
  /** Submissions abandoned at the finish, still queued for a socket: never sent, not in `sent`. */
  readonly unsent: number
  /** The longest event-loop delay of any part or of the generator itself in the interval (ms). */
  readonly loopMax: number
  /** Each part that answered: its longest event-loop delay (ms), CPU (s) and work (`PartReport.work`) in the interval. */
  readonly parts: ReadonlyArray<{ readonly name: string; readonly loopMax: number; readonly cpuSeconds: number; readonly work: PartReport["work"] }>
  /** Parts that stalled longer than `stallMillis`, or did not answer: their samples are left out of `steady`. */
  readonly stalled: ReadonlyArray<string>
  /** The same figures over the samples of the parts that did not stall: the service's time, not the generator's. */
  readonly steady: Figures
  readonly stallMillis: number
  /** CPU of the parts and the generator in the interval (s; the probe's not included). */
  readonly cpuSeconds: number
  /** The same status reads by the probe, a process doing nothing else (`_load-probe.ts`); absent if it did not answer. */
  readonly probe: ProbeReport | undefined
  /**
   * Every status read's time (ms), new and open connection, in the order read: a sampler of fewer reads a second is
   * every k-th of them (`bench/load.ts` counts the intervals such a sampler would have seen meet the goal).
   */
  readonly statusReads: { readonly statusNew: ReadonlyArray<number>; readonly statusOpen: ReadonlyArray<number> }
}

const [base, mixJson, splitJson] = [process.argv[2], process.argv[3], process.argv[4]]
const mix: Mix = JSON.parse(mixJson)
const split: Split = JSON.parse(splitJson)
/** When the load started: every process ready, each told to start (set then). */
let startedAt = Date.now()
const sleep = (millis: number) => new Promise<void>((wake) => setTimeout(wake, millis))

/** `total` clients over `parts` parts, as even as can be: the share of part `i`. */
const share = (total: number, parts: number, i: number) => Math.floor(total / parts) + (i < total % parts ? 1 : 0)

const none: PartMix = { rate: 0, taskMillis: mix.taskMillis, statusRate: 0, sseTask: 0, sseAll: 0, wsWatch: 0, wsAll: 0 }
const sseTaskParts = Math.max(1, Math.min(split.sseTaskParts, mix.sseTask))
const plan: ReadonlyArray<readonly [string, PartMix]> = [
  ["submit", { ...none, rate: mix.rate, statusRate: mix.statusRate }] as const,
  ...Array.from({ length: sseTaskParts }, (_, i) => [`sse-task-${i + 1}`, { ...none, sseTask: share(mix.sseTask, sseTaskParts, i) }] as const),
  ["events", { ...none, sseAll: mix.sseAll }] as const,
  ["ws-watch", { ...none, wsWatch: mix.wsWatch }] as const,
  ["ws-all", { ...none, wsAll: mix.wsAll }] as const
].filter(([, part]) => part.rate + part.statusRate + part.sseTask + part.sseAll + part.wsWatch + part.wsAll > 0)

/** How long the processes may take to load before the load starts without the late ones. */
const readyTimeoutMillis = 120_000
/** The processes (parts and `probe`) loaded, or exited. */
const ready = new Set<string>()
let allReady: (() => void) | undefined
/** Whether the load has started: a process ready only after that is told to start at once. */
let loadStarted = false
const readied = (name: string) => {
  ready.add(name)
  if (loadStarted) {
    const late = name === "probe" ? probe : parts.find((part) => part.name === name)?.child
    if (late !== undefined) sendTo(late, { start: true })
  }
  if (ready.size === plan.length + 1) allReady?.()
}

/** Reports the parts have sent since the last interval's line. */
let received: Array<PartReport> = []
/** Parts that answered the current request. */
const answered = new Set<string>()
/** Parts whose process has exited: nothing more will come from them. */
const exited = new Set<string>()
let allAnswered: (() => void) | undefined
/** Whether every part has answered the current request or exited. */
const everyoneAnswered = () => parts.every(({ name }) => answered.has(name) || exited.has(name))

const parts = plan.map(([name, part]) => {
  const module = new URL("./_load-clients.ts", import.meta.url)
  const partArgs = [name, base, JSON.stringify(part), split.sseClient, split.wsClient, split.submitClient]
  const execArgv = [
    ...process.execArgv,
    ...split.clientsNodeFlags,
    ...(process.env.LOAD_GEN_PROFILE ? ["--cpu-prof", `--cpu-prof-dir=${process.env.LOAD_GEN_PROFILE}`, `--cpu-prof-name=${name}.cpuprofile`] : [])
  ]
  // Under SCHED_BATCH from its first instruction (`chrt` execs node): every thread it starts inherits the policy. The
  // IPC channel is passed through the exec as `fork` passes it (an inherited descriptor named in the environment).
  // Pinned the same way (`taskset` execs the rest), so that no thread of it starts before the pinning.
  const command = [
    ...(split.clientsCpus === "" ? [] : ["taskset", "-c", split.clientsCpus]),
    ...(split.clientsBatch ? ["chrt", "--batch", "0"] : [])
  ]
  const child = command.length > 0
    ? spawn(command[0], [...command.slice(1), process.execPath, ...execArgv, fileURLToPath(module), ...partArgs], { stdio: ["ignore", "inherit", "inherit", "ipc"] })
    : fork(module, partArgs, { stdio: ["ignore", "inherit", "inherit", "ipc"], execArgv })
  // Lowering a process's priority needs no privilege; one already gone is nothing to lower.
  if (split.clientsNice > 0 && child.pid !== undefined) {
    try {
      setPriority(child.pid, split.clientsNice)
    } catch {
      // exited at once: its exit is reported below
    }
  }
  // A send to a part that has just exited (its channel not yet seen closed) fails with EPIPE: its figures are then
  // missing, which the report allows; the generator must not die of it.
  child.on("error", (error) => process.stderr.write(`load generator: part ${name}: ${error.message}\n`))
  child.on("message", (message: { ready?: boolean; newest?: string; report?: PartReport }) => {
    if (message.ready === true) readied(name)
    if (message.newest !== undefined) tellNewest(message.newest)
    if (message.report !== undefined) {
      received.push(message.report)
      answered.add(name)
      if (everyoneAnswered()) allAnswered?.()
    }
  })
  child.once("exit", () => {
    exited.add(name)
    readied(name)
    if (everyoneAnswered()) allAnswered?.()
  })
  return { name, child }
})

/** The status probe (`_load-probe.ts`), told the newest task as the parts are. */
const probe = fork(new URL("./_load-probe.ts", import.meta.url), [base, String(mix.probeRate)], { stdio: ["ignore", "inherit", "inherit", "ipc"] })
probe.on("error", (error) => process.stderr.write(`load generator: the status probe: ${error.message}\n`))
probe.on("message", (message: { ready?: boolean }) => {
  if (message.ready === true) readied("probe")
})
probe.once("exit", () => readied("probe"))

const sendTo = (child: ChildProcess, message: unknown) => {
  if (child.connected) child.send(message as object)
}
const tellNewest = (id: string) => {
  for (const { child } of parts) sendTo(child, { newest: id })
  sendTo(probe, { newest: id })
}

/** The generator's own event-loop delay (it relays ids and pools samples: it should stay near idle). */
const delay = monitorEventLoopDelay({ resolution: 10 })
delay.enable()
let cpuBefore = process.cpuUsage()

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

/** Waits until every part has answered (or exited), or `millis` have passed (never, if `Infinity`). */
const answers = (millis: number) =>
  new Promise<void>((resolve) => {
    if (everyoneAnswered()) return resolve()
    const timer = millis === Infinity ? undefined : setTimeout(done, millis)
    function done() {
      clearTimeout(timer)
      allAnswered = undefined
      resolve()
    }
    allAnswered = done
  })

/** The status and lag figures over the given parts' samples. */
const figures = (reports: ReadonlyArray<PartReport>): Figures => {
  const pooled = (pick: (r: PartReport) => ReadonlyArray<number>) => quantiles(reports.flatMap((r) => [...pick(r)]))
  return {
    statusNew: pooled((r) => r.statusNew),
    statusOpen: pooled((r) => r.statusOpen),
    lag: {
      sseTask: pooled((r) => r.lag.sseTask),
      sseAll: pooled((r) => r.lag.sseAll),
      wsWatch: pooled((r) => r.lag.wsWatch),
      wsAll: pooled((r) => r.lag.wsAll)
    }
  }
}

/** Pools what the parts sent into one interval's line, and prints it. */
const print = (reports: ReadonlyArray<PartReport>, probed: ProbeReport | undefined) => {
  const sum = (pick: (r: PartReport) => number) => reports.reduce((s, r) => s + pick(r), 0)
  const errors: Record<string, number> = {}
  for (const r of reports) for (const [kind, n] of Object.entries(r.errors)) errors[kind] = (errors[kind] ?? 0) + n
  // A part that answered twice (a late answer, then this interval's) stalled if either says so.
  const loops = new Map<string, { loopMax: number; cpuSeconds: number; work: PartReport["work"] }>()
  for (const r of reports) {
    const seen = loops.get(r.name)
    loops.set(r.name, {
      loopMax: Math.max(seen?.loopMax ?? 0, r.loopMax),
      cpuSeconds: (seen?.cpuSeconds ?? 0) + r.cpuSeconds,
      work: {
        requests: (seen?.work.requests ?? 0) + r.work.requests,
        streams: (seen?.work.streams ?? 0) + r.work.streams,
        frames: (seen?.work.frames ?? 0) + r.work.frames
      }
    })
  }
  const stalled = plan.map(([name]) => name).filter((name) => {
    const loop = loops.get(name)
    return loop === undefined || loop.loopMax > split.stallMillis
  })
  const own = process.cpuUsage(cpuBefore)
  cpuBefore = process.cpuUsage()
  const line: IntervalReport = {
    t: Math.round((Date.now() - startedAt) / 1000),
    sent: sum((r) => r.sent),
    acked: sum((r) => r.acked),
    errors,
    submit: quantiles(reports.flatMap((r) => [...r.submit])),
    ...figures(reports),
    dropped: sum((r) => r.dropped),
    resets: sum((r) => r.resets),
    staleSockets: sum((r) => r.staleSockets),
    unsent: sum((r) => r.unsent),
    loopMax: Math.max(delay.max / 1e6, ...reports.map((r) => r.loopMax)),
    parts: [...loops].map(([name, loop]) => ({ name, ...loop })),
    stalled,
    steady: figures(reports.filter((r) => !stalled.includes(r.name))),
    stallMillis: split.stallMillis,
    cpuSeconds: sum((r) => r.cpuSeconds) + (own.user + own.system) / 1e6,
    probe: probed,
    statusReads: { statusNew: reports.flatMap((r) => [...r.statusNew]), statusOpen: reports.flatMap((r) => [...r.statusOpen]) }
  }
  delay.reset()
  process.stdout.write(`${JSON.stringify(line)}\n`)
}

/** Asks every part and the probe for the interval's figures, and prints them. */
const interval = async (ask: unknown, wait: number) => {
  answered.clear()
  for (const { child } of parts) sendTo(child, ask)
  const probed = probeReport()
  await answers(wait)
  const [reports, fromProbe] = [received, await probed]
  received = []
  print(reports, fromProbe)
}

// Every process loaded (or the wait over): the load starts now, and its clock with it.
await new Promise<void>((resolve) => {
  if (ready.size === plan.length + 1) return resolve()
  const timer = setTimeout(resolve, readyTimeoutMillis)
  allReady = () => {
    clearTimeout(timer)
    resolve()
  }
})
const late = [...plan.map(([name]) => name), "probe"].filter((name) => !ready.has(name))
if (late.length > 0) process.stderr.write(`load generator: started without waiting longer for ${late.join(", ")}\n`)
startedAt = Date.now()
loadStarted = true
process.stdout.write(`${JSON.stringify({ started: true })}\n`)
for (const { child } of parts) sendTo(child, { start: true })
sendTo(probe, { start: true })
delay.reset()
cpuBefore = process.cpuUsage()

let ticking = Promise.resolve()
const ticker = setInterval(() => {
  ticking = ticking.then(() => interval({ report: true }, 2000))
}, mix.intervalSeconds * 1000)
await sleep(startedAt + mix.durationSeconds * 1000 - Date.now())
clearInterval(ticker)
await ticking
// The last, partial interval: each part stops, waits for its unanswered submissions (each ends by its answer or its
// timeout: a starved service can take minutes over the last ones), reports and exits. A part that dies instead is named.
await interval({ finish: true }, Infinity)
const missing = parts.filter(({ name }) => !answered.has(name)).map(({ name }) => name)
if (missing.length > 0) process.stderr.write(`load generator: no last report from ${missing.join(", ")}\n`)
sendTo(probe, { stop: true })
await Promise.race([Promise.all(parts.map(({ child }) => new Promise((exit) => child.exitCode !== null ? exit(null) : child.once("exit", exit)))), sleep(10_000)])
for (const { child } of parts) if (child.exitCode === null) child.kill()
probe.kill()
process.exit(0)
