/**
 * The RPC layer against the in-process supervisor, in one run:
 * - throughput: no-op tasks submitted and awaited (`submit` + `join`, two
 *   calls each, and `run`, one call) by 50 concurrent WebSocket clients, each its own principal
 *   with 16 tasks in flight, against a server in a child process (memory
 *   store, default server and supervisor settings); next to the same calls
 *   made on `Tasks` in this process;
 * - latency: sequential `get` round trips from one WebSocket client, next to
 *   `Tasks.get` in this process.
 * The remote figures come twice: with the default settings, and with
 * `disableTracing` on the server and the clients. Beside each remote
 * throughput, the processor time per 1,000 tasks of the server process and of
 * this one (the clients), steadier than tasks/s under a shared machine's load,
 * and beside it the wall-clock time of both processes' collection pauses per
 * 1,000 tasks (`PerformanceObserver` "gc" entries: not processor time, so
 * it grows with the load).
 *
 * Method: each remote figure is the median of `RUNS` runs, with its lowest
 * and highest, after `WARMUPS` unmeasured runs; each run starts after a
 * full collection in both processes, so that no run pays for the garbage of
 * the one before (the server's memory store keeps every record: a major
 * collection's place among short runs was one cause of figures 30% apart).
 *
 * `--turn-budget <ms>` runs the server half on the service's scheduler
 * (`TurnScheduler`, as `chainjobs serve` does, with that budget per turn)
 * instead of Effect's own.
 *
 * `node bench/rpc.ts server [notrace] [budget=<ms>]` is the server half: it prints
 * `listening <port>`, answers a `cpu` line on stdin with `cpu <microseconds>
 * <gc milliseconds>` of processor time and collection time spent, a `gc`
 * line with `gc` once it collected, and stops when its stdin closes.
 */
import { spawn } from "node:child_process"
import { createServer } from "node:http"
import { loadavg } from "node:os"
import { PerformanceObserver } from "node:perf_hooks"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import { NodeHttpServer } from "@effect/platform-node"
import { Context, Effect, Exit, Layer, Scheduler, Schema, Scope } from "effect"
import { HttpRouter, HttpServer } from "effect/http"
import { Task, TaskAccess, TaskStore, Tasks } from "@chainjobs/tasks"
import { Auth, TaskRpcClient, TaskRpcServer } from "@chainjobs/rpc"
import * as TurnScheduler from "../packages/server/src/TurnScheduler.ts"
import { fmt, medianRate, perSecond, table } from "./_measure.ts"

const CLIENTS = 50
const IN_FLIGHT = 16
const TASKS = 10_000
const GETS = 2_000
const RUNS = 5
const WARMUPS = 2

/** Milliseconds (wall clock) of this process's collection pauses so far. */
let gcMillis = 0
new PerformanceObserver((entries) => {
  for (const entry of entries.getEntries()) gcMillis += entry.duration
}).observe({ entryTypes: ["gc"] })

/** A full collection (the processes run with `--expose-gc`). */
const collect = () => (globalThis as { gc?: () => void }).gc?.()

const Noop = Task.define("noop", { payload: Schema.Struct({ n: Schema.Number }), success: Schema.Number })

const supervisor = Task.implement(Noop, ({ n }) => Effect.succeed(n)).pipe(
  Layer.provideMerge(Tasks.layer({ shutdownGracePeriod: 0 })),
  Layer.provideMerge(TaskStore.layerMemory)
)

const tokenOf = (client: number) => `bench-token-${client}`
const tokens = Object.fromEntries(Array.from({ length: CLIENTS }, (_, c) => [tokenOf(c), { principal: `client-${c}` }]))

const range = (n: number) => Array.from({ length: n }, (_, i) => i)

/** `--turn-budget <ms>`: the server half on a `TurnScheduler` of that budget; unset, on Effect's own scheduler. */
const turnBudget = (() => {
  const flag = process.argv.indexOf("--turn-budget")
  return flag >= 0 ? process.argv[flag + 1] : undefined
})()

/** The server half, run in the child process. */
const serve = (disableTracing: boolean) => Effect.gen(function*() {
  const server = yield* HttpServer.HttpServer
  if (server.address._tag !== "UnixPathAddress") console.log(`listening ${server.address.port}`)
  // A "cpu" line on stdin is answered with the processor time this process spent so far, in microseconds, and its
  // collection time, in milliseconds; a "gc" line with "gc" after a full collection.
  createInterface({ input: process.stdin }).on("line", (line) => {
    if (line === "cpu") {
      const { system, user } = process.cpuUsage()
      console.log(`cpu ${user + system} ${gcMillis}`)
    } else if (line === "gc") {
      collect()
      console.log("gc")
    }
  })
  yield* Effect.callback<void>((resume) => {
    process.stdin.once("close", () => resume(Effect.void))
    process.stdin.resume()
  })
}).pipe(Effect.provide(
  HttpRouter.serve(TaskRpcServer.layerWebsocket({ path: "/ws", disableTracing }), { disableLogger: true, disableListenLog: true }).pipe(
    Layer.provide([
      TaskAccess.layer().pipe(Layer.provideMerge(supervisor)),
      Auth.layerTokens(tokens)
    ]),
    Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" }))
  )
))

/** The server half in its child process: its port, its processor and collection time so far, a full collection, and how to stop it. */
interface ServerHalf {
  readonly port: number
  readonly cpu: () => Promise<{ readonly micros: number; readonly gcMillis: number }>
  readonly collect: () => Promise<void>
  readonly stop: () => void
}

/** Starts the server half in a child process. */
const startServer = (disableTracing: boolean) =>
  new Promise<ServerHalf>((resolve, reject) => {
    const args = [
      "--expose-gc",
      fileURLToPath(import.meta.url),
      "server",
      ...(disableTracing ? ["notrace"] : []),
      ...(turnBudget === undefined ? [] : [`budget=${turnBudget}`])
    ]
    const child = spawn(process.execPath, args, { stdio: ["pipe", "pipe", "inherit"] })
    child.once("error", reject)
    const lines = createInterface({ input: child.stdout })
    const cpuAnswers: Array<(spent: { readonly micros: number; readonly gcMillis: number }) => void> = []
    const collected: Array<() => void> = []
    lines.on("line", (line) => {
      const [word, value, gc] = line.split(" ")
      if (word === "listening") {
        resolve({
          port: Number(value),
          cpu: () =>
            new Promise((answer) => {
              cpuAnswers.push(answer)
              child.stdin.write("cpu\n")
            }),
          collect: () =>
            new Promise((answer) => {
              collected.push(answer)
              child.stdin.write("gc\n")
            }),
          stop: () => child.stdin.end()
        })
      } else if (word === "cpu") cpuAnswers.shift()?.({ micros: Number(value), gcMillis: Number(gc) })
      else if (word === "gc") collected.shift()?.()
    })
  })

/**
 * `body` run `WARMUPS` times, then `RUNS` times measured, each after a full collection in both processes: the median
 * rate with the lowest and highest, and the processor time and collection pauses per 1,000 tasks of the server and
 * of this process over the measured runs (the collections between runs not counted).
 */
const measured = async (server: ServerHalf, body: () => Promise<number>) => {
  for (let n = 0; n < WARMUPS; n++) await body()
  const rates: Array<number> = []
  let serverMicros = 0
  let serverGc = 0
  let clientMicros = 0
  let clientGc = 0
  for (let n = 0; n < RUNS; n++) {
    await server.collect()
    collect()
    const serverBefore = await server.cpu()
    const clientBefore = process.cpuUsage()
    const clientGcBefore = gcMillis
    rates.push(await body())
    const client = process.cpuUsage(clientBefore)
    clientMicros += client.user + client.system
    clientGc += gcMillis - clientGcBefore
    const serverAfter = await server.cpu()
    serverMicros += serverAfter.micros - serverBefore.micros
    serverGc += serverAfter.gcMillis - serverBefore.gcMillis
  }
  rates.sort((a, b) => a - b)
  const perThousand = (millis: number) => millis / (RUNS * TASKS / 1000)
  return {
    rate: rates[Math.floor(RUNS / 2)],
    lowest: rates[0],
    highest: rates[RUNS - 1],
    serverCpu: perThousand(serverMicros / 1000),
    serverGc: perThousand(serverGc),
    clientCpu: perThousand(clientMicros / 1000),
    clientGc: perThousand(clientGc)
  }
}

/** Submits and awaits `TASKS` tasks: `CLIENTS` callers, each with `IN_FLIGHT` at a time. */
const throughput = (submitAndJoin: (caller: number, n: number) => Effect.Effect<unknown, unknown>) =>
  Effect.gen(function*() {
    const start = performance.now()
    yield* Effect.forEach(range(CLIENTS), (caller) =>
      Effect.forEach(range(TASKS / CLIENTS), (n) => submitAndJoin(caller, n), { concurrency: IN_FLIGHT, discard: true }), {
      concurrency: "unbounded",
      discard: true
    })
    return perSecond(TASKS, performance.now() - start)
  })

/** `GETS` sequential calls of `get`. */
const roundTrips = (get: Effect.Effect<unknown, unknown>) =>
  Effect.gen(function*() {
    const start = performance.now()
    for (let i = 0; i < GETS; i++) yield* get
    return perSecond(GETS, performance.now() - start)
  })

const main = async () => {
  const loadBefore = fmt(loadavg()[0], 1)
  const build = <I, S>(layer: Layer.Layer<I>, tag: Context.Key<I, S>, scope: Scope.Scope) =>
    Effect.runPromise(Effect.map(Layer.buildWithScope(layer, scope), Context.get(tag)))
  const scope = Effect.runSync(Scope.make())

  const tasks = await build(supervisor, Tasks.Tasks, scope)
  const local = throughput((_, n) => Effect.flatMap(tasks.submit(Noop, { n }), (handle) => handle.join))
  const someTask = await Effect.runPromise(tasks.submit(Noop, { n: 0 }))
  const localGet = roundTrips(tasks.get(someTask.id))

  /** The remote throughput and get figures against a fresh server. */
  const remote = async (disableTracing: boolean) => {
    const server = await startServer(disableTracing)
    const connections = Effect.runSync(Scope.make())
    const clients = await Promise.all(range(CLIENTS).map((c) =>
      build(
        TaskRpcClient.layerWebsocket({ url: `ws://127.0.0.1:${server.port}/ws`, token: tokenOf(c), disableTracing }),
        TaskRpcClient.TaskRpcClient,
        connections
      )
    ))
    const submitAndJoin = throughput((caller, n) => Effect.flatMap(clients[caller].submit(Noop, { n }), (handle) => handle.join))
    const run = throughput((caller, n) => clients[caller].run(Noop, { n }))
    const someRemoteTask = await Effect.runPromise(clients[0].submit(Noop, { n: 0 }))
    const get = roundTrips(someRemoteTask.info)
    await Effect.runPromise(get)
    const rates = {
      tasks: await measured(server, () => Effect.runPromise(submitAndJoin)),
      runs: await measured(server, () => Effect.runPromise(run)),
      gets: await medianRate(RUNS, () => Effect.runPromise(get))
    }
    await Effect.runPromise(Scope.close(connections, Exit.void))
    server.stop()
    return rates
  }

  // warm up the in-process paths once
  for (const effect of [local, localGet]) await Effect.runPromise(effect)
  const rates = {
    local: await medianRate(RUNS, () => Effect.runPromise(local)),
    localGet: await medianRate(RUNS, () => Effect.runPromise(localGet)),
    traced: await remote(false),
    untraced: await remote(true)
  }
  await Effect.runPromise(Scope.close(scope, Exit.void))

  console.log(
    `throughput: ${fmt(TASKS)} no-op tasks submitted and awaited by ${CLIENTS} callers, ${IN_FLIGHT} in flight each, ` +
      `median (lowest–highest) of ${RUNS} runs after ${WARMUPS}, each after a full collection in both processes ` +
      `(node ${process.version}, load average ${loadBefore} → ${fmt(loadavg()[0], 1)}; the server on ` +
      `${turnBudget === undefined ? "Effect's own scheduler" : `a TurnScheduler of ${turnBudget} ms a turn`})`
  )
  // Processor time per 1,000 tasks is steadier than tasks/s on a machine shared with other work.
  const remoteRow = (label: string, figures: Awaited<ReturnType<typeof measured>>) => [
    label,
    `${fmt(figures.rate)} (${fmt(figures.lowest)}–${fmt(figures.highest)})`,
    `${fmt(figures.serverCpu, 1)} (${fmt(figures.serverGc, 1)})`,
    `${fmt(figures.clientCpu, 1)} (${fmt(figures.clientGc, 1)})`
  ]
  table([
    ["", "tasks per second", "server CPU ms / 1k (GC pauses)", "clients CPU ms / 1k (GC pauses)"],
    ["Tasks.submit + join, in process", fmt(rates.local), "", ""],
    remoteRow(`TaskRpcClient submit + join over WebSocket, ${CLIENTS} clients, server in a child process`, rates.traced.tasks),
    remoteRow("  the same with disableTracing", rates.untraced.tasks),
    remoteRow("TaskRpcClient.run (one call per task) over WebSocket", rates.traced.runs),
    remoteRow("  the same with disableTracing", rates.untraced.runs)
  ])
  console.log(`\nlatency: ${fmt(GETS)} sequential get round trips, median of ${RUNS} runs`)
  table([
    ["", "round trips per second"],
    ["Tasks.get, in process", fmt(rates.localGet)],
    ["TaskRpcClient.get over WebSocket", fmt(rates.traced.gets)],
    ["  the same with disableTracing", fmt(rates.untraced.gets)]
  ])
}

if (process.argv[2] === "server") {
  const budget = process.argv.find((arg) => arg.startsWith("budget="))?.slice("budget=".length)
  const served = serve(process.argv.includes("notrace"))
  Effect.runFork(
    budget === undefined ? served : Effect.provideService(served, Scheduler.Scheduler, TurnScheduler.make(Number(budget)))
  )
} else {
  main().catch((error) => {
    console.error(error)
    process.exit(1)
  })
}
