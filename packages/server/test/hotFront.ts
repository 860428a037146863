/**
 * The hot reads' test bench: a real Node server on 127.0.0.1 whose only
 * `request` listener (the "stack") answers `418 stack`, with `HotReads` (or the whole lean front) in
 * front of it, over tasks in memory with the demo kinds, their feed and the
 * service's access rules for two principals, alice and bob.
 */
import { Effect, Layer, Redacted, Scheduler } from "effect"
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import { type AddressInfo, connect, type Server as NetServer, type Socket } from "node:net"
import { Principal, TaskAccess, TaskFeed, Tasks, type TaskStore } from "@chainjobs/tasks"
import * as Access from "../src/Access.ts"
import * as DemoTasks from "../src/DemoTasks.ts"
import * as HotReads from "../src/HotReads.ts"
import * as OpenBudget from "../src/OpenBudget.ts"
import * as ServerConfig from "../src/ServerConfig.ts"
import { untilTurn } from "./eventLoopTurns.ts"

/** The bearer tokens of the two principals. */
export const tokens = { alice: "alice-token", bob: "bob-token" }

/**
 * Tasks over `store` with the demo kinds, their feed, and the service's access rules for alice and bob, with the
 * `settings` given (e.g. `maxTaskStreams`).
 */
export const services = (store: Layer.Layer<TaskStore.TaskStore>, settings: Partial<ServerConfig.ServerSettings> = {}) =>
  Layer.mergeAll(Access.layer, TaskFeed.layer()).pipe(
    Layer.provideMerge(DemoTasks.layer),
    Layer.provideMerge(Tasks.layer({ shutdownGracePeriod: 0 })),
    Layer.provide(store),
    Layer.provide(ServerConfig.layerTest({
      authTokens: { alice: Redacted.make(tokens.alice), bob: Redacted.make(tokens.bob) },
      ...settings
    }))
  )

/**
 * A server whose stack answers `418 stack`, with `front` installed in front of it, closed with the scope; its base
 * URL. `watch` is handed the server before it listens (a test following its connections).
 */
export const stackServer = (front: HotReads.Front["Service"], watch?: (server: Server) => void) => Effect.gen(function*() {
  const server: Server = createServer((_request: IncomingMessage, response: ServerResponse) => {
    response.writeHead(418, { "content-type": "text/plain" })
    response.end("stack")
  })
  watch?.(server)
  HotReads.install(server, front)
  yield* Effect.acquireRelease(
    Effect.callback<void>((resume) => {
      server.listen(0, "127.0.0.1", () => resume(Effect.void))
    }),
    () =>
      Effect.callback<void>((resume) => {
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      })
  )
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})

/**
 * The stack-and-front server (the hot reads in front, or the handler `lean` makes), closed with the scope; its base URL.
 * `watch` is handed the server before it listens (a test following its connections).
 */
export const frontServerWith = <R>(lean: Effect.Effect<HotReads.Handler, never, R>, watch?: (server: Server) => void) => Effect.gen(function*() {
  const front = HotReads.front()
  front.handler = yield* lean
  return yield* stackServer(front, watch)
})

/** The stack-and-front server with the hot reads in front. */
export const frontServer = frontServerWith(HotReads.make)

/**
 * How long a read may take to its end before the test fails: a response that is never ended (a stream without its
 * `end` event, a request no one answers) fails the test in seconds, naming the read, instead of at the test's bound.
 */
export const readBoundMillis = 15_000

/** A request to `url`, its answer read to its end; one not ended within `readBoundMillis` fails the test, saying so. */
export const send = (url: string, init: Omit<RequestInit, "signal"> = {}) =>
  Effect.promise(async () => {
    const signal = AbortSignal.timeout(readBoundMillis)
    try {
      const response = await fetch(url, { ...init, signal })
      return { status: response.status, headers: response.headers, text: await response.text() }
    } catch (error) {
      if (signal.aborted) throw new Error(`${init.method ?? "GET"} ${url}: not answered to its end within ${readBoundMillis} ms`)
      throw error
    }
  })

/** A GET of `url`, read to its end (`send`). */
export const get = (url: string, headers: Record<string, string> = {}) => send(url, { headers })

/** Submits a demo scan of two blocks as `owner`, each block taking `delayMillis`. */
export const submit = (owner: "alice" | "bob", delayMillis = 0) =>
  Effect.flatMap(TaskAccess.TaskAccess, (access) =>
    access.submit({ kind: "demo-scan", payload: { fromBlock: 1, toBlock: 2, delayMillis } }).pipe(
      Effect.provideService(Principal.CurrentPrincipal, { id: owner, admin: false })
    ))

/**
 * `count` raw connections to the server at `base`, each accepted (`server`'s count, read one event-loop turn at a time)
 * before anything is written on them, so that requests then written on all at once reach the server together and are
 * read in one or a few poll phases; with, for each, the whole text the server wrote on it until it closed.
 */
export const acceptedConnections = (base: string, server: () => NetServer | undefined, count: number) =>
  Effect.gen(function*() {
    const { hostname, port } = new URL(base)
    const sockets = yield* Effect.promise(() =>
      Promise.all(Array.from({ length: count }, () =>
        new Promise<Socket>((resolve, reject) => {
          const socket = connect(Number(port), hostname, () => resolve(socket))
          socket.once("error", reject)
        })))
    )
    let accepted = 0
    yield* Effect.promise(() =>
      untilTurn(() => {
        server()?.getConnections((_, held) => accepted = held)
        return accepted === sockets.length
      }, `the ${count} connections accepted`)
    )
    const answers = sockets.map((socket) =>
      new Promise<string>((resolve, reject) => {
        let text = ""
        socket.setEncoding("utf8")
        socket.on("data", (chunk: string) => text += chunk)
        socket.once("close", () => resolve(text))
        socket.once("error", reject)
      })
    )
    return { sockets, answers: Effect.promise(() => Promise.all(answers)) }
  })

/**
 * A lean front on `scheduler` whose poll phases have no budget for opening task streams inline (a nanosecond): each
 * phase opens its first stream inline and queues the others for a turn of `scheduler`. `connect` makes `count`
 * connections the front has accepted (`acceptedConnections`).
 */
export const budgetSpentFront = (scheduler: Scheduler.Scheduler) =>
  Effect.gen(function*() {
    let server: NetServer | undefined
    const base = yield* frontServerWith(
      HotReads.make.pipe(
        Effect.provideService(OpenBudget.BudgetMillis, 1e-6),
        Effect.provideService(Scheduler.Scheduler, scheduler)
      ),
      (node) => server = node
    )
    return { base, connect: (count: number) => acceptedConnections(base, () => server, count) }
  })
