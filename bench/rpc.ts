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
 * this one (the clients), steadier than tasks/s under a shared machine's load.
 *
 * `node bench/rpc.ts server [notrace]` is the server half: it prints
 * `listening <port>`, answers a `cpu` line on stdin with `cpu <microseconds>`
 * of processor time spent, and stops when its stdin closes.
 */
import { spawn } from "node:child_process"
import { createServer } from "node:http"
import { loadavg } from "node:os"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import { NodeHttpServer } from "@effect/platform-node"
import { Context, Effect, Exit, Layer, Schema, Scope } from "effect"
import { HttpRouter, HttpServer } from "effect/http"
import { Task, TaskAccess, TaskStore, Tasks } from "@chainjobs/tasks"
import { Auth, TaskRpcClient, TaskRpcServer } from "@chainjobs/rpc"
import { fmt, medianRate, perSecond, table } from "./_measure.ts"

const CLIENTS = 50
const IN_FLIGHT = 16
const TASKS = 10_000
const GETS = 2_000
const RUNS = 3

const Noop = Task.define("noop", { payload: Schema.Struct({ n: Schema.Number }), success: Schema.Number })

const supervisor = Task.implement(Noop, ({ n }) => Effect.succeed(n)).pipe(
  Layer.provideMerge(Tasks.layer({ shutdownGracePeriod: 0 })),
  Layer.provideMerge(TaskStore.layerMemory)
)

const tokenOf = (client: number) => `bench-token-${client}`
const tokens = Object.fromEntries(Array.from({ length: CLIENTS }, (_, c) => [tokenOf(c), { principal: `client-${c}` }]))

const range = (n: number) => Array.from({ length: n }, (_, i) => i)

/** The server half, run in the child process. */
const serve = (disableTracing: boolean) => Effect.gen(function*() {
  const server = yield* HttpServer.HttpServer
  if (server.address._tag !== "UnixPathAddress") console.log(`listening ${server.address.port}`)
  // A "cpu" line on stdin is answered with the processor time this process spent so far, in microseconds.
  createInterface({ input: process.stdin }).on("line", (line) => {
    if (line === "cpu") {
      const { system, user } = process.cpuUsage()
      console.log(`cpu ${user + system}`)
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

/** The server half in its child process: its port, its processor time so far (microseconds), and how to stop it. */
interface ServerHalf {
  readonly port: number
  readonly cpu: () => Promise<number>
  readonly stop: () => void
}

/** Starts the server half in a child process. */
const startServer = (disableTracing: boolean) =>
  new Promise<ServerHalf>((resolve, reject) => {
    const args = [fileURLToPath(import.meta.url), "server", ...(disableTracing ? ["notrace"] : [])]
    const child = spawn(process.execPath, args, { stdio: ["pipe", "pipe", "inherit"] })
    child.once("error", reject)
    const lines = createInterface({ input: child.stdout })
    const cpuAnswers: Array<(micros: number) => void> = []
    lines.on("line", (line) => {
      const [word, value] = line.split(" ")
      if (word === "listening") {
        resolve({
          port: Number(value),
          cpu: () =>
            new Promise((answer) => {
              cpuAnswers.push(answer)
              child.stdin.write("cpu\n")
            }),
          stop: () => child.stdin.end()
        })
      } else if (word === "cpu") cpuAnswers.shift()?.(Number(value))
    })
  })

/** The median rate of `RUNS` runs of `body`, and the processor time per 1,000 tasks of the server and of this process over them. */
const measured = async (server: ServerHalf, body: () => Promise<number>) => {
  const serverBefore = await server.cpu()
  const clientBefore = process.cpuUsage()
  const rate = await medianRate(RUNS, body)
  const client = process.cpuUsage(clientBefore)
  const serverMicros = (await server.cpu()) - serverBefore
  const perThousand = (micros: number) => micros / (RUNS * TASKS)
  return { rate, serverCpu: perThousand(serverMicros), clientCpu: perThousand(client.user + client.system) }
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
    await Effect.runPromise(submitAndJoin)
    await Effect.runPromise(run)
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
      `median of ${RUNS} runs (node ${process.version}, load average ${fmt(loadavg()[0], 1)})`
  )
  // Processor time per 1,000 tasks is steadier than tasks/s on a machine shared with other work.
  const remoteRow = (label: string, figures: Awaited<ReturnType<typeof measured>>) => [
    label,
    fmt(figures.rate),
    fmt(figures.serverCpu, 1),
    fmt(figures.clientCpu, 1)
  ]
  table([
    ["", "tasks per second", "server CPU ms / 1k", "clients CPU ms / 1k"],
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
  Effect.runFork(serve(process.argv[3] === "notrace"))
} else {
  main().catch((error) => {
    console.error(error)
    process.exit(1)
  })
}
