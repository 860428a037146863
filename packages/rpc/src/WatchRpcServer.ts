/**
 * The server side of `WatchRpcs`: handlers over the `Watchers` and
 * `BalanceCache` provided, each change checked by `WatchAccess` (admins
 * only), and layers that mount them into an existing `HttpRouter` over HTTP
 * (ndjson) or WebSocket behind the same door as `TaskRpcServer`'s: a frame
 * that is not a well-formed request of the group is refused whole with a
 * typed 400/413 (HTTP) or closes the socket with a code and reason, and the
 * payload depth limit is the access rules' (`TaskAccess`).
 *
 * ```ts
 * const Rpc = Layer.mergeAll(
 *   WatchRpcServer.layerHttp({ path: "/rpc/watch" }),
 *   WatchRpcServer.layerWebsocket({ path: "/ws/watch" })
 * ).pipe(Layer.provide([Auth.layerTokens(tokens), TaskAccessLive, WatchersLive, BalanceCacheLive]))
 * ```
 *
 * @since 0.1.0
 */
import { Effect, Layer } from "effect"
import { HttpRouter } from "effect/http"
import { RpcSerialization } from "effect/rpc"
import { TaskAccess } from "@chainjobs/tasks"
import { BalanceCache, WatchAccess, Watchers } from "@chainjobs/watch"
import type { Authentication } from "./Auth.ts"
import * as Frames from "./internal/frames.ts"
import { defaults, guardHttp, guardWebsocket, layerRequestValidation, type MountOptions, type TaskRpcServerConfig } from "./TaskRpcServer.ts"
import { WatchRpcs } from "./WatchRpcs.ts"

/** What the server layers require: the watchers, the cache, the access rules (for the payload limit) and the authentication middleware. */
export type Requirements = Watchers.Watchers | BalanceCache.BalanceCache | TaskAccess.TaskAccess | Authentication

/** The handlers of `WatchRpcs` (and the request validation middleware). */
export const layerHandlers = Layer.merge(
  WatchRpcs.toLayer(Effect.gen(function*() {
    const watchers = yield* Watchers.Watchers
    const balances = yield* BalanceCache.BalanceCache
    const admin = WatchAccess.requireAdmin
    return WatchRpcs.of({
      ListWatchers: () => watchers.list,
      GetWatcher: ({ name }) => watchers.get(name),
      WatcherLag: ({ name }) => watchers.lag(name),
      WatcherItems: ({ name, ...query }) => watchers.itemPage(name, query),
      AddWatcher: (spec) => Effect.andThen(admin("AddWatcher"), watchers.add(spec)),
      PauseWatcher: ({ name }) => Effect.andThen(admin("PauseWatcher"), watchers.pause(name)),
      ResumeWatcher: ({ name }) => Effect.andThen(admin("ResumeWatcher"), watchers.resume(name)),
      SetAccounts: ({ accounts, fromBlock, name }) =>
        Effect.andThen(admin("SetAccounts"), watchers.setAccounts(name, accounts, fromBlock === undefined ? {} : { fromBlock })),
      RemoveWatcher: ({ name }) => Effect.andThen(admin("RemoveWatcher"), watchers.remove(name)),
      ReadBalance: ({ account, asset, chain, maxAgeMillis, verify }) =>
        balances.read(chain, account, asset, { maxAgeMillis, verify }),
      ReadAllBalances: ({ account, chain, maxAgeMillis, verify }) => balances.readAll(chain, account, { maxAgeMillis, verify }),
      ListBalances: (query) => balances.list(query)
    })
  })),
  layerRequestValidation
)

const makeDoor = TaskAccess.TaskAccess.useSync((access) =>
  Frames.make(WatchRpcs.requests as ReadonlyMap<string, any>, access.config.payloadLimit.maxDepth))

/**
 * Starts the RPC server in the current scope and returns the HTTP app serving
 * it over `transport` — HTTP POST (ndjson) or WebSocket — behind the door.
 */
export const toHttpEffect = (transport: "http" | "websocket", options: Partial<TaskRpcServerConfig> = {}) =>
  Effect.gen(function*() {
    const door = yield* makeDoor
    const serverOptions = { disableTracing: options.disableTracing ?? defaults.disableTracing }
    const maxBytes = options.maxBodyBytes ?? defaults.maxBodyBytes
    return transport === "http"
      ? yield* guardHttp(WatchRpcs, door, maxBytes, serverOptions)
      : yield* guardWebsocket(WatchRpcs, door, maxBytes, serverOptions, options.maxUnsentBytes ?? defaults.maxUnsentBytes)
  }).pipe(Effect.provide(Layer.merge(layerHandlers, RpcSerialization.layerNdjson)))

const mount = (method: "POST" | "GET", transport: "http" | "websocket", options: MountOptions) =>
  Layer.effectDiscard(HttpRouter.HttpRouter.use((router) =>
    Effect.flatMap(toHttpEffect(transport, options), (app) => router.add(method, options.path, app))))

/** Mounts the RPC server at `POST path` of the current `HttpRouter` (HTTP protocol, ndjson). */
export const layerHttp = (options: MountOptions): Layer.Layer<never, never, HttpRouter.HttpRouter | Requirements> =>
  mount("POST", "http", options)

/** Mounts the RPC server at `GET path` of the current `HttpRouter` (WebSocket protocol, ndjson). */
export const layerWebsocket = (options: MountOptions): Layer.Layer<never, never, HttpRouter.HttpRouter | Requirements> =>
  mount("GET", "websocket", options)
