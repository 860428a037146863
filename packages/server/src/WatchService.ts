/**
 * The service's watchers and balance cache (`@chainjobs/watch`): the watch
 * tables on the service's database (PostgreSQL at `databaseUrl`, else the
 * SQLite file `watch.db` under `dataDir`, else memory), `Watchers` over the
 * service's chains with the watchers `ServerConfig.watchers` declares, the
 * `BalanceCache` they invalidate (on the chains and the Sui networks, `SuiService`), its upkeep tasks on their schedules, and
 * `WatchApi` under `/api/watch` and the RPC group `WatchRpcs` at `/rpc/watch`
 * (WebSocket `/ws/watch`) behind the service's bearer tokens.
 *
 * Access: watchers and the cache are the service's, not a principal's. Any
 * authenticated principal reads them (list, lag, items, balances, verified
 * reads included); only an admin changes them (add, pause, resume, accounts,
 * remove): another principal gets 403 `WatchForbidden` (the rule is
 * `WatchAccess`'s, the same over RPC). With auth off every
 * caller is the admin `anonymous`.
 *
 * In runner mode (`--runner`, a cluster on PostgreSQL) every runner serves
 * the watch API and RPC over the shared tables, and each watcher's loop runs
 * on one runner at a time: a `Watchers.WatcherLoop` task kept running by a
 * daemon, which on a cluster is a singleton (`Watchers` placement `tasks`);
 * the balance upkeep schedules are cluster singletons too, and the balance
 * cache reads its table without a memory front.
 *
 * The service registers one processor kind of its own,
 * `chainjobs.watch.record`: it processes an item by recording it as
 * processed in the audit table (the items are then read over
 * `/api/watch/watchers/:name/items`). A program embedding the service
 * registers its own kinds (`WatchProcessor.implement`) for real handling.
 *
 * @since 0.1.0
 */
import { type Chains } from "@chainjobs/chain"
import { Principal, TaskAccessError, TaskError, type Tasks } from "@chainjobs/tasks"
import { BalanceCache, BalanceUpkeep, WatchAccess, WatchApi, type WatchError, Watchers, WatchProcessor, WatchStore } from "@chainjobs/watch"
import { Auth, WatchRpcServer } from "@chainjobs/rpc"
import { Effect, Layer, Option, Schema } from "effect"
import { HttpRouter, HttpServerRequest, HttpServerResponse } from "effect/http"
import { SqlClient, type SqlError } from "effect/sql"
import { authEnabled } from "./Access.ts"
import { ServerConfig, type ServerSettings } from "./ServerConfig.ts"
import * as SuiService from "./SuiService.ts"
import * as ServiceDatabase from "./ServiceDatabase.ts"

/** The processor kind the service registers: an item is processed by being recorded as processed. */
export const Record = WatchProcessor.define("chainjobs.watch.record")

/** The handler of `Record`: nothing beyond the audit row its transaction marks processed. */
export const layerRecord = WatchProcessor.implement(Record, () => Effect.void)

/**
 * Makes the watch tables on PostgreSQL under an advisory lock of the schema:
 * runners starting together on a fresh database would race the same
 * `CREATE TABLE` statements (the catalog's unique index fails all but one);
 * one at a time, each later one finds the tables made.
 */
const migratedTogether = Layer.effectDiscard(Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql.withTransaction(Effect.gen(function*() {
    yield* sql`SELECT pg_advisory_xact_lock(hashtext(${"chainjobs/watch-tables/"} || current_schema()))`
    yield* WatchStore.migrate
    yield* BalanceCache.migrate
  }))
}))

/** The database of the watch tables: PostgreSQL at `databaseUrl` (its tables made), else `watch.db` under `dataDir`, else (`:memory:`) memory. */
export const layerSql = (
  settings: ServerSettings
): Layer.Layer<SqlClient.SqlClient, TaskError.TaskStoreError | SqlError.SqlError | WatchError.WatchError> => {
  const database = ServiceDatabase.layerSql(settings, "watch.db")
  return Option.isSome(settings.databaseUrl) ? Layer.provideMerge(migratedTogether, database) : database
}

/**
 * The watchers, the cache, the upkeep kinds and their schedules, and the
 * `Record` processor, over the supervisor, the chains and the watch tables'
 * database (`layerSql`) provided. The declared watchers are added (when
 * missing) before anything binds: a bad one stops the start with its
 * `WatchError`.
 *
 * Build the database before the supervisor, so that it outlives the
 * supervisor's drain: the upkeep and processor tasks hold its connections
 * while they run, and a PostgreSQL pool's close waits for every connection
 * lent — closed first, it would wait for tasks that only the drain stops.
 */
export const layer = (
  settings: ServerSettings
): Layer.Layer<
  Watchers.Watchers | BalanceCache.BalanceCache,
  WatchError.WatchError,
  Tasks.Tasks | Chains.Chains | SqlClient.SqlClient
> =>
  Layer.mergeAll(
    layerRecord,
    BalanceUpkeep.layer,
    BalanceUpkeep.layerSchedules({ refreshEvery: settings.balanceRefreshEvery, reconcileEvery: settings.balanceReconcileEvery })
  ).pipe(
    Layer.provideMerge(Watchers.layer({
      pollInterval: settings.watchPollInterval,
      watchers: settings.watchers,
      placement: Option.isSome(settings.runner) ? "tasks" : "local"
    })),
    // runners share the balance table: no memory front, whose coherence holds for one writer only
    Layer.provideMerge(BalanceCache.layer(Option.isSome(settings.runner) ? { maxEntries: 0 } : {})),
    Layer.provideMerge(SuiService.layerAdapters(settings))
  )

/** The prefix of the watch routes. */
export const prefix = "/api/watch"

const encodeForbidden = Schema.encodeSync(WatchAccess.WatchForbidden)
const encodeRefusal = Schema.encodeSync(TaskAccessError.TaskAccessErrorReason)

/**
 * Guards the watch routes while auth is on: a bearer token (header or
 * `access_token` parameter) of a principal reads, an admin's changes; no
 * token or an unknown one gets 401 `Unauthenticated`.
 */
export const layerAccess = HttpRouter.middleware(
  Effect.gen(function*() {
    const settings = yield* ServerConfig
    const principals = yield* Principal.Principals
    const enabled = authEnabled(settings)
    return (httpEffect: Effect.Effect<HttpServerResponse.HttpServerResponse, any, any>) =>
      !enabled ? httpEffect : HttpServerRequest.HttpServerRequest.use((request) => {
        const path = request.url.split("?")[0]
        if (path !== prefix && !path.startsWith(`${prefix}/`)) return httpEffect
        const token = Option.orElse(
          Auth.bearer(request.headers),
          () => Option.fromNullishOr(new URL(request.url, "http://x").searchParams.get("access_token"))
        )
        return principals.authenticate(token).pipe(
          Effect.flatMap((principal) =>
            WatchAccess.mayChange(principal) || request.method === "GET" || request.method === "HEAD"
              ? httpEffect
              : Effect.succeed(HttpServerResponse.jsonUnsafe(
                encodeForbidden(new WatchAccess.WatchForbidden({ principal: principal.id, operation: `${request.method} ${path}` })),
                { status: 403 }
              ))),
          Effect.catchTag("TaskAccessError", (error) =>
            Effect.succeed(HttpServerResponse.jsonUnsafe(encodeRefusal(error.reason), { status: 401 })))
        )
      })
  }),
  { global: true }
)

/** `WatchApi` under `/api/watch` with its access rules, over the `Watchers` and `BalanceCache` provided. */
export const layerRoutes = Layer.merge(WatchApi.layer, layerAccess)

/** The paths of the watch RPC group (`WatchRpcs`): HTTP (ndjson) and WebSocket. */
export const rpcPaths = { http: "/rpc/watch", websocket: "/ws/watch" } as const

/** `WatchRpcs` at `rpcPaths`, with the same access rules (`WatchAccess`), over the `Watchers` and `BalanceCache` provided. */
export const layerRpc = Layer.mergeAll(
  WatchRpcServer.layerHttp({ path: rpcPaths.http }),
  WatchRpcServer.layerWebsocket({ path: rpcPaths.websocket })
)

/** The services this module's `layer` provides. */
export type Services = Watchers.Watchers | BalanceCache.BalanceCache
