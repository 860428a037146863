/**
 * The service assembled: a task store, the supervisor with the registered
 * kinds, and one HTTP server carrying the REST facade, the docs page, the
 * dashboard, the RPC endpoints (`/rpc`, `/ws`), the probes and `/metrics`.
 *
 * Shutdown is the layer's scope closing (on SIGTERM/SIGINT, `main.ts`): the
 * supervisor refuses new tasks, lets running ones finish within the grace
 * period, interrupts the rest and records their final state; then the HTTP
 * server stops.
 *
 * Seams for the packages landing next to this one:
 * - `layerStore` serves the memory store; `@chainjobs/store-sql` replaces it
 *   with SQLite under `dataDir` (or PostgreSQL at `databaseUrl`).
 * - `layerKinds` registers the demo kinds; `@chainjobs/chain`'s kinds and dev
 *   chain join them.
 *
 * @since 0.1.0
 */
import { NodeHttpServer } from "@effect/platform-node"
import { Console, Context, Duration, Effect, type Exit, Layer, Scope } from "effect"
import { HttpRouter, HttpServer, type HttpServerError } from "effect/http"
import { TaskRpcServer } from "@chainjobs/rpc"
import { TaskStore, TaskSupervisor } from "@chainjobs/tasks"
import { createServer } from "node:http"
import * as Access from "./Access.ts"
import * as Dashboard from "./Dashboard.ts"
import * as DemoTasks from "./DemoTasks.ts"
import * as Metrics from "./Metrics.ts"
import * as RestServer from "./RestServer.ts"
import { ServerConfig, type ServerSettings } from "./ServerConfig.ts"

/** The task store. Seam: the memory store until `@chainjobs/store-sql` provides its layers. */
export const layerStore = (_settings: ServerSettings): Layer.Layer<TaskStore.TaskStore> =>
  Layer.provideMerge(
    TaskStore.layerMemory,
    Layer.effectDiscard(Effect.logWarning("chainjobs: tasks are kept in memory; they do not survive a restart"))
  )

/** The registered task kinds. Seam: the demo kinds until `@chainjobs/chain` provides chain kinds. */
export const layerKinds: Layer.Layer<never, never, TaskSupervisor.Tasks> = DemoTasks.layer

/** The supervisor with its kinds registered, over the store. */
export const layerTasks = (settings: ServerSettings): Layer.Layer<TaskSupervisor.Tasks | TaskStore.TaskStore> =>
  layerKinds.pipe(
    Layer.provideMerge(TaskSupervisor.layer({
      maxWorkers: settings.maxWorkers,
      shutdownGracePeriod: settings.shutdownGrace
    })),
    Layer.provideMerge(layerStore(settings))
  )

/** The RPC endpoints of `@chainjobs/rpc`: HTTP at `/rpc` (ndjson), WebSocket at `/ws`. */
export const layerRpc = Layer.mergeAll(
  TaskRpcServer.layerHttp({ path: "/rpc", submitLimit: Access.submitLimit }),
  TaskRpcServer.layerWebsocket({ path: "/ws", submitLimit: Access.submitLimit })
).pipe(Layer.provide(Access.layerRpc))

/** Every HTTP route of the service; REST and RPC share one submission quota. */
export const layerRoutes = Layer.mergeAll(RestServer.layer, layerRpc, Dashboard.layer, Metrics.layer).pipe(
  Layer.provide(Access.layerRateLimiter)
)

/** Prints where the dashboard and docs are, once the server listens. */
const layerBanner = Layer.effectDiscard(Effect.gen(function*() {
  const server = yield* HttpServer.HttpServer
  const base = HttpServer.formatAddress(server.address)
  yield* Console.log(
    [
      `chainjobs is listening on ${base}`,
      `  dashboard  ${base}/`,
      `  API docs   ${base}/docs  (OpenAPI: ${base}/openapi.json)`,
      `  RPC        ${base}/rpc  (WebSocket: ${base.replace(/^http/, "ws")}/ws)`,
      `  metrics    ${base}/metrics`
    ].join("\n")
  )
}))

/**
 * The whole service on the configured host and port. Provides the bound
 * `HttpServer` (for its address) and `Tasks`.
 *
 * The supervisor lives in a scope of its own, closed before the HTTP server's:
 * a shutdown first drains the tasks while clients can still watch them (new
 * submissions are refused and `/readyz` answers 503), then stops serving.
 */
export const layer: Layer.Layer<
  HttpServer.HttpServer | TaskSupervisor.Tasks,
  HttpServerError.ServeError,
  ServerConfig
> = Layer.effectContext(Effect.gen(function*() {
  const settings = yield* ServerConfig
  const tasksScope = yield* Scope.make()
  const drain = (exit: Exit.Exit<unknown, unknown>) => Scope.close(tasksScope, exit)
  // Closes the supervisor's scope should building the HTTP server fail (a no-op once closed).
  yield* Effect.addFinalizer(drain)
  const tasks = yield* Layer.buildWithScope(layerTasks(settings), tasksScope)
  const http = yield* Layer.build(
    HttpRouter.serve(layerRoutes, { disableLogger: true }).pipe(
      Layer.merge(layerBanner),
      Layer.provideMerge(NodeHttpServer.layer(createServer, {
        host: settings.host,
        port: settings.port,
        // By then tasks have drained: only open event streams are left to cut.
        gracefulShutdownTimeout: Duration.seconds(1)
      })),
      Layer.provide(Layer.succeedContext(tasks)),
      Layer.provide(Layer.succeed(ServerConfig, settings))
    )
  )
  // Runs first at shutdown: drain the tasks while the HTTP server still serves.
  yield* Effect.addFinalizer(drain)
  return Context.merge(tasks, http)
}))
