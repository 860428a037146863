/**
 * Watchers and balances over HTTP, as a schema-first `HttpApi` under
 * `/api/watch`: list, add, read, pause, resume, change the accounts of and
 * remove watchers, read their lag and their item audit (a page at a time), and read balances
 * (cached, or from the chain with `maxAgeMillis` or `verify=true`) and list
 * the cached ones a page at a time. A
 * `WatchError` answers by its reason: `UnknownWatcher` 404, `Invalid` 400
 * (nothing was changed), a failure of the chain or the database 503.
 *
 * `layer` serves it (and its OpenAPI document at `/api/watch/openapi.json`)
 * on the `HttpRouter` it is given, over the `Watchers` and `BalanceCache`
 * provided. It has no authentication of its own: serve it only where the
 * callers are trusted, or behind the service's access rules.
 *
 * @since 0.1.0
 */
import { Effect, Layer, Schema } from "effect"
import { HttpApi, HttpApiBuilder, HttpApiEndpoint, HttpApiGroup, HttpApiSchema, OpenApi } from "effect/http-api"
import { maxAgeMillisExpected, MaxAgeMillisFromString } from "./BalanceAge.ts"
import { Balance, BalanceCache, BalancePage } from "./BalanceCache.ts"
import { defaultLimit, ItemPage, maxLimit } from "./ItemPage.ts"
import { WatchForbidden } from "./WatchAccess.ts"
import type { WatchError } from "./WatchError.ts"
import { Lag, WatcherInfo, Watchers, WatcherSpec } from "./Watchers.ts"

/** No watcher of that name exists. */
export class WatcherNotFound extends Schema.TaggedError<WatcherNotFound>("@chainjobs/watch/WatcherNotFound")(
  "WatcherNotFound",
  { watcher: Schema.String, message: Schema.String },
  { httpApiStatus: 404 }
) {}

/** The request was refused; nothing was changed. */
export class InvalidWatchRequest extends Schema.TaggedError<InvalidWatchRequest>("@chainjobs/watch/InvalidWatchRequest")(
  "InvalidWatchRequest",
  { message: Schema.String },
  { httpApiStatus: 400 }
) {}

/** The chain or the database failed (or the chain reorganized deeper than the confirmation depth). */
export class WatchUnavailable extends Schema.TaggedError<WatchUnavailable>("@chainjobs/watch/WatchUnavailable")(
  "WatchUnavailable",
  { reason: Schema.String, message: Schema.String },
  { httpApiStatus: 503 }
) {}

const errors = [WatcherNotFound, InvalidWatchRequest, WatchUnavailable, WatchForbidden] as const

/** A `WatchError` as the HTTP error of its reason. */
const answer = <A, R>(effect: Effect.Effect<A, WatchError, R>) =>
  Effect.mapError(effect, (error) => {
    switch (error.reason._tag) {
      case "UnknownWatcher":
        return new WatcherNotFound({ watcher: error.reason.watcher, message: error.message })
      case "Invalid":
        return new InvalidWatchRequest({ message: error.message })
      default:
        return new WatchUnavailable({ reason: error.reason._tag, message: error.message })
    }
  })

const Name = { name: Schema.String }

/**
 * A balance read's `maxAgeMillis` as the query gives it (`MaxAgeMillisFromString`), or `InvalidWatchRequest` naming
 * the field and what it must be (the value itself, of any length, is not quoted).
 */
const maxAgeOf = (text: string | undefined) =>
  text === undefined ? Effect.succeed(undefined) : Schema.decodeUnknownEffect(MaxAgeMillisFromString)(text).pipe(
    Effect.mapError(() => new InvalidWatchRequest({ message: `maxAgeMillis must be ${maxAgeMillisExpected}, in decimal digits` }))
  )

/** The watch endpoints, under `/api/watch`. */
export class WatchGroup extends HttpApiGroup.make("watch")
  .add(
    HttpApiEndpoint.get("list", "/watchers", { success: Schema.Array(WatcherInfo), error: errors }),
    HttpApiEndpoint.post("add", "/watchers", {
      payload: WatcherSpec,
      success: WatcherInfo.pipe(HttpApiSchema.status(201)),
      error: errors
    }).annotate(OpenApi.Description, "Adds a watcher (started unless `paused`)."),
    HttpApiEndpoint.get("get", "/watchers/:name", { params: Name, success: WatcherInfo, error: errors }),
    HttpApiEndpoint.get("lag", "/watchers/:name/lag", { params: Name, success: Lag, error: errors })
      .annotate(OpenApi.Description, "The head seen last, the confirmed and the processed cursor."),
    HttpApiEndpoint.get("items", "/watchers/:name/items", {
      params: Name,
      query: { cursor: Schema.optional(Schema.String), limit: Schema.optional(Schema.NumberFromString) },
      success: ItemPage,
      error: errors
    }).annotate(
      OpenApi.Description,
      `The audit of the watcher's items in chain order, a page at a time: pass \`next\` as \`cursor\` for the page after; \`limit\` 1–${maxLimit} (default ${defaultLimit}).`
    )
      .annotate(OpenApi.Description, "Every item the watcher detected, in chain order, with its processing outcome."),
    HttpApiEndpoint.post("pause", "/watchers/:name/pause", { params: Name, success: HttpApiSchema.NoContent, error: errors }),
    HttpApiEndpoint.post("resume", "/watchers/:name/resume", { params: Name, success: HttpApiSchema.NoContent, error: errors }),
    HttpApiEndpoint.put("accounts", "/watchers/:name/accounts", {
      params: Name,
      payload: Schema.Struct({ accounts: Schema.Array(Schema.String), fromBlock: Schema.optionalKey(Schema.Int) }),
      success: Schema.Struct({ fromBlock: Schema.Int }),
      error: errors
    }).annotate(OpenApi.Description, "Replaces the account set from `fromBlock` on (default: the block after the confirmed cursor)."),
    HttpApiEndpoint.delete("remove", "/watchers/:name", { params: Name, success: HttpApiSchema.NoContent, error: errors }),
    HttpApiEndpoint.get("balances", "/balances", {
      query: {
        chain: Schema.optional(Schema.String),
        account: Schema.optional(Schema.String),
        stale: Schema.optional(Schema.Literals(["true", "false"])),
        cursor: Schema.optional(Schema.String),
        limit: Schema.optional(Schema.NumberFromString)
      },
      success: BalancePage,
      error: errors
    }).annotate(
      OpenApi.Description,
      "Cached balances as stored (no chain reads), ordered by chain, account and asset, a page at a time: pass `next` as `cursor` for the page after. `account` needs `chain`; `limit` 1–1000 (default 100)."
    ),
    HttpApiEndpoint.get("accountBalances", "/balances/:chain/:account", {
      params: { chain: Schema.String, account: Schema.String },
      query: {
        maxAgeMillis: Schema.optional(Schema.String),
        verify: Schema.optional(Schema.Literals(["true", "false"]))
      },
      success: Schema.Array(Balance),
      error: errors
    }).annotate(
      OpenApi.Description,
      "Every asset of an account (native first): cached, or listed from the chain when never listed, made stale by the account's activity, older than `maxAgeMillis` (whole milliseconds, 0 to a year, in decimal digits; anything else is 400 InvalidWatchRequest), or `verify=true`."
    ),
    HttpApiEndpoint.get("balance", "/balances/:chain/:account/:asset", {
      params: { chain: Schema.String, account: Schema.String, asset: Schema.String },
      query: {
        maxAgeMillis: Schema.optional(Schema.String),
        verify: Schema.optional(Schema.Literals(["true", "false"]))
      },
      success: Balance,
      error: errors
    }).annotate(OpenApi.Description, "A balance: cached with its age, or read from the chain when older than `maxAgeMillis` (whole milliseconds, 0 to a year, in decimal digits; anything else is 400 InvalidWatchRequest) or `verify=true`.")
  )
  .prefix("/api/watch")
  .annotateMerge(OpenApi.annotations({ title: "Watch", description: "Chain watchers and cached balances." }))
{}

/** The API of this module alone. */
export class WatchApi extends HttpApi.make("chainjobs-watch").add(WatchGroup) {}

/** The handlers, over the `Watchers` and `BalanceCache` provided. */
export const layerHandlers = HttpApiBuilder.group(WatchApi, "watch", Effect.fnUntraced(function*(handlers) {
  const watchers = yield* Watchers
  const balances = yield* BalanceCache
  return handlers.handleAll({
    list: () => answer(watchers.list),
    add: ({ payload }) => answer(watchers.add(payload)),
    get: ({ params }) => answer(watchers.get(params.name)),
    lag: ({ params }) => answer(watchers.lag(params.name)),
    items: ({ params, query }) => answer(watchers.itemPage(params.name, { cursor: query.cursor, limit: query.limit })),
    pause: ({ params }) => answer(watchers.pause(params.name)),
    resume: ({ params }) => answer(watchers.resume(params.name)),
    accounts: ({ params, payload }) =>
      answer(Effect.map(
        watchers.setAccounts(params.name, payload.accounts, payload.fromBlock === undefined ? {} : { fromBlock: payload.fromBlock }),
        (fromBlock) => ({ fromBlock })
      )),
    remove: ({ params }) => answer(watchers.remove(params.name)),
    balance: ({ params, query }) =>
      Effect.flatMap(maxAgeOf(query.maxAgeMillis), (maxAgeMillis) =>
        answer(balances.read(params.chain, params.account, params.asset, { maxAgeMillis, verify: query.verify === "true" }))),
    accountBalances: ({ params, query }) =>
      Effect.flatMap(maxAgeOf(query.maxAgeMillis), (maxAgeMillis) =>
        answer(balances.readAll(params.chain, params.account, { maxAgeMillis, verify: query.verify === "true" }))),
    balances: ({ query }) =>
      answer(balances.list({
        chain: query.chain,
        account: query.account,
        stale: query.stale === undefined ? undefined : query.stale === "true",
        cursor: query.cursor,
        limit: query.limit
      }))
  })
}))

/** The API's routes and its OpenAPI document at `/api/watch/openapi.json`. */
export const layer = HttpApiBuilder.layer(WatchApi, { openapiPath: "/api/watch/openapi.json" }).pipe(
  Layer.provide(layerHandlers)
)
