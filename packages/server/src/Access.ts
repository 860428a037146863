/**
 * Who may do what, the same over REST and RPC. The configured tokens name
 * principals (`ServerConfig.authTokens`), some of them admins
 * (`ServerConfig.admins`). A principal sees and controls only the tasks it
 * submitted; an admin sees and controls all of them and alone may purge.
 * Submissions count against one per-principal quota shared by both
 * transports (`ServerConfig.submitLimit`, the RPC layer's key in one
 * `RateLimiter`).
 *
 * With no tokens configured, auth is off: every caller is the admin
 * `anonymous`, as a local development service should be.
 *
 * @since 0.1.0
 */
import { Effect, Layer, Metric, Redacted } from "effect"
import { RateLimiter } from "effect/persistence"
import { Auth } from "@chainjobs/rpc"
import { Authorization, Unauthorized } from "./RestApi.ts"
import { ServerConfig, type ServerSettings } from "./ServerConfig.ts"

/** The principal every caller is while auth is off. */
export const anonymous: Auth.Principal = { id: "anonymous", admin: true }

/** The configured principals by token; empty while auth is off. */
export const principals = (settings: ServerSettings): ReadonlyMap<string, Auth.Principal> =>
  new Map(
    Object.entries(settings.authTokens).map(([id, token]) => [Redacted.value(token), { id, admin: settings.admins.includes(id) }])
  )

/** The REST middleware: a bearer token (header or `access_token` parameter) names the principal. */
export const layerRest: Layer.Layer<Authorization, never, ServerConfig> = Layer.effect(
  Authorization,
  Effect.gen(function*() {
    const known = principals(yield* ServerConfig)
    const check = (effect: Effect.Effect<any, any, any>, { credential }: { readonly credential: Redacted.Redacted }) => {
      if (known.size === 0) return Effect.provideService(effect, Auth.CurrentPrincipal, anonymous)
      const principal = known.get(Redacted.value(credential))
      return principal === undefined
        ? Effect.fail(new Unauthorized({ message: "missing or unknown bearer token" }))
        : Effect.provideService(effect, Auth.CurrentPrincipal, principal)
    }
    return Authorization.of({ bearer: check, query: check })
  })
)

/** The RPC middleware over the same principals. */
export const layerRpc: Layer.Layer<Auth.Authentication, never, ServerConfig> = Layer.unwrap(
  Effect.gen(function*() {
    const known = principals(yield* ServerConfig)
    if (known.size === 0) {
      return Layer.succeed(Auth.Authentication)((effect) => Effect.provideService(effect, Auth.CurrentPrincipal, anonymous))
    }
    return Auth.layer({
      tokens: Object.fromEntries(Array.from(known, ([token, principal]) => [token, { principal: principal.id, admin: principal.admin }]))
    })
  })
)

/** Submissions refused for exceeding the quota, by principal, over REST and RPC. */
export const rateLimited = Metric.counter("chainjobs_submissions_rate_limited_total", {
  description: "Submissions refused because the principal exceeded its quota",
  incremental: true
})

/**
 * The rate limiter the quota is kept in (in memory: per process), counting
 * every refusal in `rateLimited`, whichever transport asked.
 */
export const layerRateLimiter: Layer.Layer<RateLimiter.RateLimiter> = Layer.effect(
  RateLimiter.RateLimiter,
  Effect.map(RateLimiter.make, (limiter) => ({
    ...limiter,
    consume: (options) =>
      Effect.tapError(limiter.consume(options), (error) =>
        error.reason._tag === "RateLimitExceeded" && options.key.startsWith(Auth.quotaKeyPrefix)
          ? Metric.update(Metric.withAttributes(rateLimited, { principal: options.key.slice(Auth.quotaKeyPrefix.length) }), 1)
          : Effect.void)
  }))
).pipe(Layer.provide(RateLimiter.layerStoreMemory))
