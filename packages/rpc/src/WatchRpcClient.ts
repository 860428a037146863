/**
 * The typed client of `WatchRpcs`: watchers and balances of a remote
 * chainjobs service, over HTTP (ndjson) or a WebSocket, the bearer token in
 * every call. Balances come back with their amounts as `bigint`s; failures
 * are the service's `WatchError` (by its `reason`), `WatchForbidden` for a
 * change asked by a principal that is not an admin, or a `CallError`
 * (transport, token, malformed request).
 *
 * ```ts
 * const program = Effect.gen(function*() {
 *   const watch = yield* WatchRpcClient.WatchRpcClient
 *   const { confirmed } = yield* watch.lag("deposits")
 *   const balance = yield* watch.balance("mainnet", wallet, "native", { verify: true })
 * }).pipe(Effect.provide(WatchRpcClient.layerHttp({ url: "http://127.0.0.1:8080/rpc/watch", token })))
 * ```
 *
 * @since 0.1.0
 */
import { NodeHttpClient } from "@effect/platform-node"
import { Context, Effect, Layer } from "effect"
import { RpcClient, type RpcClientError, RpcSerialization } from "effect/rpc"
import type { BalanceCache, ItemPage, WatchAccess, WatchError, Watchers } from "@chainjobs/watch"
import * as Auth from "./Auth.ts"
import * as CoalescedWriter from "./internal/coalescedWriter.ts"
import type { CallError } from "./RemoteTaskHandle.ts"
import { WatchRpcs } from "./WatchRpcs.ts"

/** What a read can fail with. */
export type ReadError = WatchError.WatchError | CallError

/** What a change can fail with. */
export type ChangeError = WatchError.WatchError | WatchAccess.WatchForbidden | CallError

/** The RPC client of the group itself. */
export type RawClient = RpcClient.FromGroup<typeof WatchRpcs, RpcClientError.RpcClientError>

/** Watchers and balances of a remote service. */
export class WatchRpcClient extends Context.Service<WatchRpcClient, {
  /** Every watcher as it stands. */
  readonly list: Effect.Effect<ReadonlyArray<Watchers.WatcherInfo>, ReadError>
  /** One watcher as it stands. */
  get(name: string): Effect.Effect<Watchers.WatcherInfo, ReadError>
  /** How far behind a watcher is. */
  lag(name: string): Effect.Effect<Watchers.Lag, ReadError>
  /** The items a watcher detected, with their processing outcome, a page at a time (pass a page's `next` as `cursor`). */
  items(name: string, query?: ItemPage.ItemQuery): Effect.Effect<ItemPage.ItemPage, ReadError>
  /** Adds a watcher (admins only). */
  add(spec: Watchers.WatcherSpec): Effect.Effect<Watchers.WatcherInfo, ChangeError>
  /** Pauses a watcher (admins only). */
  pause(name: string): Effect.Effect<void, ChangeError>
  /** Resumes a watcher (admins only). */
  resume(name: string): Effect.Effect<void, ChangeError>
  /** Replaces a watcher's accounts from a block on (admins only); returns that block. */
  setAccounts(name: string, accounts: ReadonlyArray<string>, options?: { readonly fromBlock?: number }): Effect.Effect<number, ChangeError>
  /** Removes a watcher (admins only). */
  remove(name: string): Effect.Effect<void, ChangeError>
  /** A balance, cached or read from the chain (see `BalanceCache.read`). */
  balance(
    chain: string,
    account: string,
    asset: string,
    options?: BalanceCache.ReadOptions
  ): Effect.Effect<BalanceCache.Balance, ReadError>
  /** Every asset of an account, native first, cached or listed from the chain (see `BalanceCache.readAll`). */
  allBalances(chain: string, account: string, options?: BalanceCache.ReadOptions): Effect.Effect<ReadonlyArray<BalanceCache.Balance>, ReadError>
  /** Cached balances, a page at a time. */
  balances(query?: BalanceCache.ListQuery): Effect.Effect<BalanceCache.BalancePage, ReadError>
}>()("@chainjobs/rpc/WatchRpcClient") {}

/** `fields` without its undefined ones (the wire has no `undefined`). */
const defined = <A extends object>(fields: A): A =>
  Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined)) as A

/** The client over a raw client of the group. */
export const make = (rpc: RawClient): WatchRpcClient["Service"] =>
  WatchRpcClient.of({
    list: rpc.ListWatchers(),
    get: (name) => rpc.GetWatcher({ name }),
    lag: (name) => rpc.WatcherLag({ name }),
    items: (name, query = {}) => rpc.WatcherItems(defined({ name, cursor: query.cursor, limit: query.limit })),
    add: (spec) => rpc.AddWatcher(defined(spec)),
    pause: (name) => rpc.PauseWatcher({ name }),
    resume: (name) => rpc.ResumeWatcher({ name }),
    setAccounts: (name, accounts, options = {}) => rpc.SetAccounts(defined({ name, accounts, fromBlock: options.fromBlock })),
    remove: (name) => rpc.RemoveWatcher({ name }),
    balance: (chain, account, asset, options = {}) =>
      rpc.ReadBalance(defined({ chain, account, asset, maxAgeMillis: options.maxAgeMillis, verify: options.verify })),
    allBalances: (chain, account, options = {}) =>
      rpc.ReadAllBalances(defined({ chain, account, maxAgeMillis: options.maxAgeMillis, verify: options.verify })),
    balances: (query = {}) => rpc.ListBalances(defined(query))
  })

/** The client over the current `RpcClient.Protocol`; the token goes in every call's `Authorization` header. */
export const layer = (options: { readonly token: string }): Layer.Layer<WatchRpcClient, never, RpcClient.Protocol> =>
  Layer.effect(WatchRpcClient, Effect.map(RpcClient.make(WatchRpcs), make)).pipe(
    Layer.provide(Auth.layerClient(options.token))
  )

/** Options of a client connecting to a URL. */
export interface ConnectOptions {
  /** The endpoint, e.g. `"http://127.0.0.1:8080/rpc/watch"` or `"ws://127.0.0.1:8080/ws/watch"`. */
  readonly url: string
  /** The bearer token of the calling principal. */
  readonly token: string
}

/** The client over HTTP POST with ndjson framing. */
export const layerHttp = (options: ConnectOptions): Layer.Layer<WatchRpcClient> =>
  layer(options).pipe(
    Layer.provide(RpcClient.layerProtocolHttp({ url: options.url })),
    Layer.provide([NodeHttpClient.layerUndici, RpcSerialization.layerNdjson])
  )

/**
 * The client over one WebSocket with ndjson framing; it reconnects when the
 * connection drops. The calls made in one turn share one message.
 */
export const layerWebsocket = (options: ConnectOptions): Layer.Layer<WatchRpcClient> =>
  layer(options).pipe(
    Layer.provide(RpcClient.layerProtocolSocket({ retryTransientErrors: true })),
    Layer.provide([
      // The calls made in one turn go out as one message (see `coalescedWriter`).
      CoalescedWriter.layerWebSocket(options.url),
      RpcSerialization.layerNdjson
    ])
  )
