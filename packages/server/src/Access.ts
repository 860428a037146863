/**
 * The service's access rules, mapped from its settings onto the runtime's
 * `TaskAccess` facade, the same over REST and RPC. The configured tokens name
 * principals (`ServerConfig.authTokens`), some of them admins
 * (`ServerConfig.admins`). A principal sees and controls only the tasks it
 * submitted; an admin sees and controls all of them and alone may purge.
 * Submissions draw on one per-principal quota shared by both transports
 * (`ServerConfig.submitLimit`), and payloads are held to one limit
 * (`ServerConfig.maxPayloadBytes`, `ServerConfig.maxPayloadDepth`).
 *
 * With auth on, `/metrics` (whose labels name principals) is read only with
 * the metrics token (`ServerConfig.metricsToken`) or an admin's token.
 *
 * With no tokens configured, auth is off: every caller is the admin
 * `anonymous`, as a local development service should be.
 *
 * @since 0.1.0
 */
import { Effect, Layer, Option, Redacted, Schema } from "effect"
import { HttpRouter, HttpServerRequest, HttpServerResponse } from "effect/http"
import { Auth } from "@chainjobs/rpc"
import { Principal, TaskAccess, TaskAccessError, type Tasks } from "@chainjobs/tasks"
import { Authorization } from "./RestApi.ts"
import { ServerConfig, type ServerSettings } from "./ServerConfig.ts"

/** The token table of the configured principals; empty while auth is off. */
export const grants = (settings: ServerSettings): Readonly<Record<string, Principal.TokenGrant>> =>
  Object.fromEntries(
    Object.entries(settings.authTokens).map(([id, token]) => [Redacted.value(token), { principal: id, admin: settings.admins.includes(id) }])
  )

/** Whether requests must carry a token: some are configured. */
export const authEnabled = (settings: ServerSettings): boolean => Object.keys(settings.authTokens).length > 0

/** The configured principals, or (auth off) everyone as `anonymous`. */
export const layerPrincipals: Layer.Layer<Principal.Principals, never, ServerConfig> = Layer.unwrap(
  ServerConfig.useSync((settings) =>
    authEnabled(settings) ? Principal.layer(grants(settings)) : Principal.layerAnonymous)
)

/**
 * The REST middleware: a bearer token (header or `access_token` parameter)
 * names the principal. The API tries the header, then the parameter, and
 * answers the last refusal; so a request without the parameter is judged by
 * its header's token again there, and an unknown token in the header is
 * answered `unknown-token`, not `missing-token`.
 */
export const layerRest: Layer.Layer<Authorization, never, Principal.Principals> = Layer.effect(
  Authorization,
  Effect.gen(function*() {
    const principals = yield* Principal.Principals
    const authenticate = (effect: Effect.Effect<any, any, any>, token: string) =>
      principals.authenticate(token === "" ? Option.none() : Option.some(token)).pipe(
        Effect.catchTag("TaskAccessError", (error) => Effect.fail(error.reason)),
        Effect.flatMap((principal) => Effect.provideService(effect, Principal.CurrentPrincipal, principal))
      )
    return Authorization.of({
      bearer: (effect, { credential }) => authenticate(effect, Redacted.value(credential)),
      query: (effect, { credential }) => {
        const token = Redacted.value(credential)
        return token !== "" ? authenticate(effect, token) : HttpServerRequest.HttpServerRequest.use((request) =>
          authenticate(effect, Option.getOrElse(Auth.bearer(request.headers), () => ""))
        )
      }
    })
  })
)

/**
 * The access facade with the service's quota, payload limit and limits of open all-tasks and task streams
 * (`ServerConfig` refuses a `maxEventStreams` or `maxTaskStreams` that is not a whole number of at least 1 before
 * this is built: no `InvalidSlotLimit`).
 */
export const layerTaskAccess: Layer.Layer<TaskAccess.TaskAccess, never, ServerConfig | Tasks.Tasks> = Layer.unwrap(
  ServerConfig.useSync((settings) =>
    TaskAccess.layer({
      submitLimit: settings.submitLimit,
      submitWindow: "1 second",
      submitBurst: Option.getOrUndefined(settings.submitBurst),
      payloadLimit: { maxBytes: settings.maxPayloadBytes, maxDepth: settings.maxPayloadDepth },
      maxEventStreams: settings.maxEventStreams,
      maxTaskStreams: settings.maxTaskStreams
    }).pipe(Layer.orDie))
)

/** Everything both transports authorize with: principals, the REST and RPC middlewares, the facade. */
export const layer = Layer.mergeAll(layerRest, Auth.layer, layerTaskAccess).pipe(Layer.provideMerge(layerPrincipals))

const encodeReason = Schema.encodeSync(TaskAccessError.TaskAccessErrorReason)

/** The path of the Prometheus metrics. */
export const metricsPath = "/metrics"

/**
 * Guards `/metrics` while auth is on: the metrics token or an admin's token
 * reads it; no token or an unknown one gets 401 `Unauthenticated`, another
 * principal's 403 `Forbidden`. With auth off it stays open.
 */
export const layerMetricsAuth = HttpRouter.middleware(
  Effect.gen(function*() {
    const settings = yield* ServerConfig
    const principals = yield* Principal.Principals
    const metricsToken = Option.map(settings.metricsToken, Redacted.value)
    const enabled = authEnabled(settings)
    return (httpEffect: Effect.Effect<HttpServerResponse.HttpServerResponse, any, any>) =>
      !enabled ? httpEffect : HttpServerRequest.HttpServerRequest.use((request) => {
        if (request.method !== "GET" || request.url.split("?")[0] !== metricsPath) return httpEffect
        const token = Auth.bearer(request.headers)
        if (Option.isSome(token) && Option.isSome(metricsToken) && token.value === metricsToken.value) return httpEffect
        return principals.authenticate(token).pipe(
          Effect.flatMap((principal) =>
            principal.admin
              ? httpEffect
              : Effect.succeed(HttpServerResponse.jsonUnsafe(
                encodeReason(new TaskAccessError.Forbidden({ principal: principal.id, operation: "metrics" })),
                { status: 403 }
              ))),
          Effect.catchTag("TaskAccessError", (error) =>
            Effect.succeed(HttpServerResponse.jsonUnsafe(encodeReason(error.reason), { status: 401 })))
        )
      })
  }),
  { global: true }
)
