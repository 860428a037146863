/**
 * The service assembled: a task store, the supervisor with the registered
 * kinds, and one HTTP server carrying the REST facade, the docs page, the
 * dashboard, the RPC endpoints (`/rpc`, `/ws`), the probes and `/metrics`;
 * with chains, their state and checks under `/api/chains` (`ChainsApi`) and
 * the watchers and the balance cache (in runner mode each watcher's loop on
 * one runner of the cluster) under `/api/watch` and their RPC group at `/rpc/watch`, `/ws/watch` (`WatchService`).
 *
 * Shutdown is the layer's scope closing (on SIGTERM/SIGINT, `main.ts`): the
 * supervisor refuses new tasks, lets running ones finish within the grace
 * period, interrupts the rest and records their final state; then the HTTP
 * server stops.
 *
 * Tasks are kept by `@chainjobs/store-sql` (SQLite under `dataDir`, or
 * PostgreSQL); chain kinds come from `@chainjobs/chain`, on the configured
 * chains or on a local dev chain the service starts.
 *
 * @since 0.1.0
 */
import { NodeHttpServer } from "@effect/platform-node"
import { type Config, Console, Context, Duration, Effect, type Exit, Layer, Option, References, Scope } from "effect"
import { HttpRouter, HttpServer, type HttpServerError } from "effect/http"
import type { SqlError } from "effect/sql"
import { BlockFeed, ChainConfig, Chains, ChainTasks } from "@chainjobs/chain"
import { DevChain } from "@chainjobs/devchain"
import type { Runner } from "@chainjobs/cluster"
import type { WatchError } from "@chainjobs/watch"
import { TaskRpcServer } from "@chainjobs/rpc"
import { SqlTaskStore } from "@chainjobs/store-sql"
import { PersistedSchedules, ScheduleStore, TaskError, TaskFeed, TaskStore, Tasks } from "@chainjobs/tasks"
import { mkdirSync } from "node:fs"
import { createServer } from "node:http"
import { join } from "node:path"
import * as Access from "./Access.ts"
import * as Acceptors from "./Acceptors.ts"
import * as ChainsApi from "./ChainsApi.ts"
import * as Dashboard from "./Dashboard.ts"
import * as DevActivity from "./DevActivity.ts"
import * as KindExamples from "./KindExamples.ts"
import * as DemoTasks from "./DemoTasks.ts"
import * as HeldRequests from "./HeldRequests.ts"
import * as HotReads from "./HotReads.ts"
import * as ConnectionCap from "./ConnectionCap.ts"
import * as IdleClose from "./IdleClose.ts"
import * as OpenBudget from "./OpenBudget.ts"
import * as Metrics from "./Metrics.ts"
import * as RestServer from "./RestServer.ts"
import * as RunnerMode from "./RunnerMode.ts"
import { endpointOptions, limitOptions, ServerConfig, type ServerSettings } from "./ServerConfig.ts"
import * as ServiceDatabase from "./ServiceDatabase.ts"
import * as TaskLog from "./TaskLog.ts"
import * as UpgradePacing from "./UpgradePacing.ts"
import * as SchedulesApi from "./SchedulesApi.ts"
import * as ScheduleSettings from "./ScheduleSettings.ts"
import * as SuiApi from "./SuiApi.ts"
import * as WatchService from "./WatchService.ts"
import * as Webhooks from "./Webhooks.ts"

/** Why the service could not start: its port, its store, its dev chain, or a setting read from the environment. */
export type StartError =
  | HttpServerError.ServeError
  | Config.ConfigError
  | TaskError.TaskStoreError
  | SqlError.SqlError
  | DevChain.DevChainError
  | Runner.StartError
  | WatchError.WatchError
  | ScheduleSettings.ScheduleSettingError

/** The task store and the schedule store: PostgreSQL at `databaseUrl`, else SQLite under `dataDir`, else (`:memory:`) memory. */
export const layerStore = (
  settings: ServerSettings
): Layer.Layer<TaskStore.TaskStore | ScheduleStore.ScheduleStore, TaskError.TaskStoreError | SqlError.SqlError> => {
  if (Option.isSome(settings.databaseUrl)) return SqlTaskStore.layerPg({ url: settings.databaseUrl.value, pgInserts: settings.pgInserts })
  if (settings.dataDir === ":memory:") {
    return Layer.provideMerge(
      Layer.merge(TaskStore.layerMemory, ScheduleStore.layerMemory),
      Layer.effectDiscard(Effect.logWarning("chainjobs: tasks are kept in memory; they do not survive a restart"))
    )
  }
  const dataDir = settings.dataDir
  return Layer.unwrap(Effect.try({
    try: () => {
      mkdirSync(dataDir, { recursive: true })
      // On a worker thread: a commit's disk flush (synchronous = FULL) does not block the event loop serving requests.
      // `/metrics` reads that thread's heap through the store's client.
      return SqlTaskStore.layerSqliteWith({ filename: join(dataDir, "chainjobs.db"), worker: true }, Metrics.layerSqliteWorkerHeap)
    },
    catch: (cause) => new TaskError.TaskStoreError({ operation: "open", detail: `cannot create ${dataDir}: ${cause}`, cause })
  }))
}

/** The configured chains as `@chainjobs/chain` configuration. */
export const chainConfigs = (settings: ServerSettings): ReadonlyArray<ChainConfig.ChainConfig> =>
  settings.chains.map((chain) =>
    ChainConfig.chain({
      name: chain.name,
      chainId: chain.chainId,
      endpoints: chain.endpoints.map(endpointOptions),
      ...limitOptions(chain),
      ...(chain.headTtlMillis === undefined ? {} : { headTtl: Duration.millis(chain.headTtlMillis) })
    })
  )

/**
 * The chains task kinds use, if any: the configured ones, or else (unless
 * `devChain` is off) a local Hardhat chain `dev` with live activity (which
 * sets the chain kinds' examples to what it seeded).
 */
export const layerChains = (
  settings: ServerSettings
): Option.Option<Layer.Layer<Chains.Chains | BlockFeed.BlockFeed, DevChain.DevChainError, KindExamples.KindExamples>> => {
  if (settings.chains.length > 0) {
    return Option.some(Layer.merge(Chains.layerMemory(chainConfigs(settings)), BlockFeed.layerMemory))
  }
  if (!settings.devChain) return Option.none()
  return Option.some(
    DevActivity.layer.pipe(Layer.provideMerge(DevChain.layerChains()), Layer.merge(BlockFeed.layerMemory))
  )
}

/** Whether the service runs watchers: it has chains (as a single process, or as one runner of a cluster: see `WatchService`). */
export const runsWatchers = (settings: ServerSettings): boolean => Option.isSome(layerChains(settings))

/**
 * The supervisor with its kinds registered, over the store: the demo kinds,
 * and the chain kinds when there are chains, with the watchers and the
 * balance cache (`runsWatchers`). The chains are built before the
 * supervisor, so they outlive its drain at shutdown, and so is the watch
 * tables' database (its tasks hold connections until the drain stops them);
 * the watchers after it, so their loops stop before it drains. The webhooks (`Webhooks`, their
 * tables in `webhooks.db` or the PostgreSQL database) are built after the
 * kinds: their dispatcher stops before the drain, and the records of the
 * tasks the drain stops are sent after the next start.
 */
export const layerTasks = (
  settings: ServerSettings
): Layer.Layer<
  | Tasks.Tasks
  | TaskStore.TaskStore
  | TaskLog.TaskLog
  | Webhooks.Webhooks
  | KindExamples.KindExamples
  | PersistedSchedules.PersistedSchedules,
  Exclude<StartError, HttpServerError.ServeError>
> => {
  const tasks = Option.match(settings.runner, {
    onNone: () => Layer.provideMerge(Tasks.layer(settings.tasks), layerStore(settings)),
    onSome: (runner) => RunnerMode.layerTasks(settings, runner)
  })
  // The task log is built before the kinds register, so it hears of the tasks their registration recovers.
  const supervisor = TaskLog.layer.pipe(Layer.provideMerge(tasks))
  const kinds = Option.match(layerChains(settings), {
    onNone: () => DemoTasks.layer.pipe(Layer.provideMerge(supervisor)),
    onSome: (chains) =>
      Layer.mergeAll(
        DemoTasks.layer,
        ChainTasks.layerWith(settings.chainKinds),
        WatchService.layer(settings)
      ).pipe(
        Layer.provideMerge(supervisor),
        Layer.provideMerge(chains),
        Layer.provide(WatchService.layerSql(settings))
      )
  })
  return Webhooks.layerSubmit.pipe(
    Layer.provideMerge(Webhooks.layer(settings.webhooks)),
    Layer.provide(ServiceDatabase.layerSql(settings, "webhooks.db")),
    // the stored schedules and daemons, once the kinds they submit are registered
    Layer.merge(ScheduleSettings.layer(settings.schedules).pipe(Layer.provideMerge(PersistedSchedules.layer))),
    Layer.provideMerge(kinds),
    Layer.provideMerge(KindExamples.layer(settings))
  )
}

/**
 * The RPC endpoints of `@chainjobs/rpc`: HTTP at `/rpc` (ndjson), WebSocket at `/ws`, with the connections' stream
 * limit (`ServerConfig` refuses one that is not a whole number of at least 1 first: no `InvalidSlotLimit`).
 */
export const layerRpc = Layer.unwrap(ServerConfig.useSync(({ maxStreamsPerConnection }) =>
  Layer.mergeAll(
    TaskRpcServer.layerHttp({ path: "/rpc", maxStreamsPerConnection }),
    TaskRpcServer.layerWebsocket({ path: "/ws", maxStreamsPerConnection })
  ).pipe(Layer.orDie)))

/** Every HTTP route of the service; REST and RPC map onto one access facade (one quota, one payload limit). */
export const layerRoutes = Layer.mergeAll(
  RestServer.layer,
  HotReads.layer,
  layerRpc,
  Dashboard.layer,
  Metrics.layer,
  Access.layerMetricsAuth
).pipe(
  Layer.provide(Access.layer)
)

/**
 * The routes, with the chain routes (`ChainsApi`, under `/api/chains`) when
 * the service has chains, the Sui routes (`SuiApi`, under `/api/sui`) when it
 * has Sui networks, and the watch routes (`WatchService.layerRoutes`)
 * when it runs watchers, over what `layerTasks` built (which then holds the
 * chains, the watchers and the cache).
 */
export const layerRoutesFor = (settings: ServerSettings, built: Context.Context<never>) => {
  const chainRoutes = Option.isSome(layerChains(settings))
    ? ChainsApi.layer.pipe(
      Layer.provide(Access.layerRest),
      Layer.provide(Access.layerPrincipals),
      Layer.provide(Layer.succeedContext(built as unknown as Context.Context<Chains.Chains>))
    )
    : Layer.empty
  const suiRoutes = settings.suiNetworks.length > 0
    ? SuiApi.layer.pipe(Layer.provide(Access.layerRest), Layer.provide(Access.layerPrincipals))
    : Layer.empty
  const scheduleRoutes = SchedulesApi.layer.pipe(
    Layer.provide(Access.layerRest),
    Layer.provide(Access.layerPrincipals),
    Layer.provide(Layer.succeedContext(built as unknown as Context.Context<PersistedSchedules.PersistedSchedules>))
  )
  return runsWatchers(settings)
    ? Layer.mergeAll(
      layerRoutes,
      chainRoutes,
      suiRoutes,
      scheduleRoutes,
      Layer.merge(WatchService.layerRoutes, WatchService.layerRpc).pipe(
        Layer.provide(Access.layer),
        Layer.provide(Layer.succeedContext(built as unknown as Context.Context<WatchService.Services>))
      )
    )
    : Layer.mergeAll(layerRoutes, chainRoutes, suiRoutes, scheduleRoutes)
}

/**
 * The Node HTTP server: slow or partial requests are cut (`headersTimeout`,
 * `requestTimeout`, checked every second at most), a kept-alive connection
 * is closed as idle only once the requests its client sent in time are read
 * (`IdleClose`), requests that arrive
 * before the handler is attached are held for it (`HeldRequests`), open
 * connections are counted for `/metrics`, `front` (when given) sees every
 * request first (`HotReads`), WebSocket upgrades are paced over turns of the
 * event loop (`UpgradePacing`), and `acceptors` listening sockets share its
 * port once it listens (`Acceptors`: that many new connections accepted per
 * turn of the event loop, not one; it must then listen with
 * `Acceptors.listenOptions`), their errors going to `onAcceptorError`, and
 * at most `settings.maxOpenConnections` connections are open at once on all
 * of them (`ConnectionCap`: one past it is closed as it is accepted, and
 * reported to `onConnectionRefused`).
 */
export const nodeServer = (
  settings: ServerSettings,
  front?: HotReads.Front["Service"],
  acceptors = 1,
  // Only the added sockets report here: with none, nothing does.
  onAcceptorError: (error: Error) => void = () => {},
  onConnectionRefused: () => void = () => {}
) => {
  const headersTimeout = Duration.toMillis(settings.headersTimeout)
  const requestTimeout = Math.max(headersTimeout, Duration.toMillis(settings.requestTimeout))
  const server = createServer({
    headersTimeout,
    requestTimeout,
    connectionsCheckingInterval: Math.max(10, Math.min(1000, Math.floor(headersTimeout / 2)))
  })
  IdleClose.install(server)
  HeldRequests.hold(server)
  if (front !== undefined) HotReads.install(server, front)
  UpgradePacing.pace(server)
  ConnectionCap.cap(server, settings.maxOpenConnections, onConnectionRefused)
  return Acceptors.spread(Metrics.trackConnections(server), acceptors, listenBacklog, onAcceptorError)
}

/**
 * The accept queue asked of the kernel for the listening socket (capped by
 * `net.core.somaxconn`, 4096 on current Linux). Node's default, 511, fills in
 * 2.5 s at 200 new connections a second: a turn of the event loop that long
 * (a full garbage collection under load) then made the kernel drop new
 * connections' SYNs, and each dropped one cost its client a second before it
 * tried again. A longer queue holds them until the loop accepts them.
 */
export const listenBacklog = 4096

/** Prints where the dashboard, docs and RPC endpoints of a serving server are. */
const banner = Effect.fnUntraced(function*(server: HttpServer.HttpServer["Service"]) {
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
})

/**
 * The whole service on the configured host and port. Provides the bound
 * `HttpServer` (for its address) and `Tasks`.
 *
 * The supervisor lives in a scope of its own, closed before the HTTP server's:
 * a shutdown first drains the tasks while clients can still watch them (new
 * submissions are refused and `/readyz` answers 503), then stops serving.
 *
 * Everything the service runs (its tasks, watchers and requests) logs at
 * `logLevel` and above: the level is set where the service is built, and
 * every fiber it starts inherits it.
 */
export const layer: Layer.Layer<
  HttpServer.HttpServer | Tasks.Tasks,
  StartError,
  ServerConfig
> = Layer.effectContext(Effect.flatMap(ServerConfig, (settings) =>
  build(settings).pipe(Effect.provideService(References.MinimumLogLevel, settings.logLevel))))

/** Builds the service on `settings` (see `layer`). */
const build = Effect.fnUntraced(function*(settings: ServerSettings) {
  // Listening sockets sharing the port: new connections accepted per turn of the event loop (`Acceptors`). Read
  // first: a bad value stops the start before anything is built.
  const acceptors = yield* Acceptors.countConfig
  // The event streams a poll phase opens inline before the rest wait for a turn (`OpenBudget`).
  const openBudget = yield* OpenBudget.budgetConfig
  // An added socket's error (an accept refused under a flood): logged, and the socket keeps listening.
  const context = yield* Effect.context<never>()
  const runFork = Effect.runForkWith(context)
  const logAcceptorError = (error: Error) =>
    runFork(Effect.logWarning("a listening socket sharing the port failed (an accept: it keeps listening)", error))
  // A connection closed past `maxOpenConnections`: counted where it happens, in the accept's callback.
  const countRefused = () => ConnectionCap.refused.updateUnsafe(1, context)
  const tasksScope = yield* Scope.make()
  let logDrained: Effect.Effect<void> = Effect.void
  // The supervisor's shutdown, then the last lines of the task log (the outcomes the shutdown caused).
  const drain = (exit: Exit.Exit<unknown, unknown>) => Effect.andThen(Scope.close(tasksScope, exit), Effect.suspend(() => logDrained))
  // Closes the supervisor's scope should building the HTTP server fail (a no-op once closed).
  yield* Effect.addFinalizer(drain)
  const tasks = yield* Layer.buildWithScope(layerTasks(settings), tasksScope)
  logDrained = Context.get(tasks, TaskLog.TaskLog).drained
  // The one feed every event stream and watch reads. It outlives the supervisor's drain, whose final
  // records it still carries, and ends its streams when the supervisor's events end.
  const feed = yield* Layer.build(
    TaskFeed.layer({ subscriberBuffer: settings.eventBuffer, replay: settings.eventReplay }).pipe(
      Layer.provide(Layer.succeedContext(tasks))
    )
  )
  // The hot reads' slot in front of the server's routes: filled by `HotReads.layer` once the routes are built.
  const front = HotReads.front()
  // The HTTP server. A fixed port shared with `reusePort` would let a second instance join it silently: it is
  // refused first, as a single socket would be (`Acceptors.claim`).
  const nodeLayer = Layer.unwrap(Effect.as(
    Acceptors.claim(acceptors, settings.host, settings.port),
    NodeHttpServer.layer(() => nodeServer(settings, front, acceptors, logAcceptorError, countRefused), {
      host: settings.host,
      port: settings.port,
      backlog: listenBacklog,
      ...Acceptors.listenOptions(acceptors),
      // By then tasks have drained: only open event streams are left to cut.
      gracefulShutdownTimeout: Duration.seconds(1),
      // A WebSocket message is held to the RPC body limit before it is buffered whole (1009 past it).
      websocket: { maxPayload: TaskRpcServer.defaults.maxBodyBytes }
    })
  ))
  const http = yield* Layer.build(
    HttpRouter.serve(layerRoutesFor(settings, tasks), { disableLogger: true }).pipe(
      Layer.provideMerge(nodeLayer),
      Layer.provide(Layer.succeedContext(
        Context.add(Context.add(Context.merge(tasks, feed), HotReads.Front, front), OpenBudget.BudgetMillis, openBudget)
      )),
      Layer.provide(Layer.succeed(ServerConfig, settings))
    )
  )
  // Only now are requests handled: tell the world.
  yield* banner(Context.get(http, HttpServer.HttpServer))
  // Runs first at shutdown: drain the tasks while the HTTP server still serves.
  yield* Effect.addFinalizer(drain)
  return Context.merge(tasks, http)
})
