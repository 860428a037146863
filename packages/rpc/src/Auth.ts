/**
 * Bearer-token authentication of RPC calls. The server holds a table of
 * tokens, each standing for a principal; the `Authentication` middleware reads
 * `Authorization: Bearer <token>` from every request and provides the
 * principal to the handlers as `CurrentPrincipal`, or refuses the request with
 * `Unauthenticated`. A client adds its token with `layerClient`.
 *
 * ```ts
 * const auth = Auth.layer({ tokens: { "s3cret": { principal: "billing" }, "r00t": { principal: "ops", admin: true } } })
 * ```
 *
 * @since 0.1.0
 */
import { Context, Duration, Effect, Layer, Option } from "effect"
import { Headers } from "effect/http"
import type { RateLimiter } from "effect/persistence"
import { RpcMiddleware } from "effect/rpc"
import { TaskError, type TaskInfo } from "@chainjobs/tasks"
import { Forbidden, RateLimited, Unauthenticated } from "./TaskRpcError.ts"

/** Who is calling: the owner recorded on the tasks it submits. */
export interface Principal {
  /** The principal's name; tasks it submits carry it as `owner`. */
  readonly id: string
  /** An admin sees and controls every task, and may purge. */
  readonly admin: boolean
}

/** True when the principal may see and control the task: its owner, or an admin. */
export const canSee = (principal: Principal, info: TaskInfo.TaskInfo): boolean => principal.admin || info.owner === principal.id

/** The refusal of a principal's access to `target`. */
export const forbidden = (principal: Principal, target: string): Forbidden =>
  new Forbidden({ principal: principal.id, target, message: `principal "${principal.id}" may not access ${target}` })

/** The prefix of the rate-limiter keys of submission quotas; the principal's id follows it. */
export const quotaKeyPrefix = "chainjobs/rpc/submit/"

/**
 * Counts one submission against the principal's quota (`limit` per `window`,
 * fixed window), failing with `RateLimited` past it. Every transport that
 * takes submissions draws on the same budget through this key.
 */
export const consumeQuota = (
  limiter: RateLimiter.RateLimiter,
  principal: Principal,
  quota: { readonly limit: number; readonly window: Duration.Input }
): Effect.Effect<void, RateLimited | TaskError.TaskStoreError> =>
  limiter.consume({
    key: `${quotaKeyPrefix}${principal.id}`,
    limit: quota.limit,
    window: quota.window,
    algorithm: "fixed-window",
    onExceeded: "fail"
  }).pipe(
    Effect.asVoid,
    Effect.catchTag("RateLimiterError", (error): Effect.Effect<never, RateLimited | TaskError.TaskStoreError> =>
      error.reason._tag === "RateLimitExceeded"
        ? Effect.fail(
          new RateLimited({
            principal: principal.id,
            retryAfterMillis: Duration.toMillis(error.reason.retryAfter),
            limit: error.reason.limit,
            message: `principal "${principal.id}" may submit ${error.reason.limit} tasks per ${
              Duration.format(Duration.fromInputUnsafe(quota.window))
            }`
          })
        )
        : Effect.fail(new TaskError.TaskStoreError({ operation: "rate-limit", message: error.message, cause: error })))
  )

/** The principal of the request being handled, provided by `Authentication`. */
export class CurrentPrincipal extends Context.Service<CurrentPrincipal, Principal>()(
  "@chainjobs/rpc/Auth/CurrentPrincipal"
) {}

/** One entry of the token table. */
export interface TokenGrant {
  /** The principal the token stands for. */
  readonly principal: string
  /** Whether the principal is an admin. Default: false. */
  readonly admin?: boolean | undefined
}

/** The server's token table. */
export interface AuthConfig {
  /** Bearer token → grant. A token not listed here is refused. */
  readonly tokens: Readonly<Record<string, TokenGrant>>
}

/** The RPC middleware that authenticates every call of `TaskRpcs`. */
export class Authentication extends RpcMiddleware.Service<Authentication, {
  provides: CurrentPrincipal
}>()("@chainjobs/rpc/Auth/Authentication", {
  error: Unauthenticated,
  requiredForClient: true
}) {}

const bearer = (headers: Headers.Headers): Option.Option<string> =>
  Option.flatMap(Headers.get(headers, "authorization"), (value) => {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(value)
    return match === null ? Option.none() : Option.some(match[1])
  })

/** Checks bearer tokens against `config.tokens` on the server. */
export const layer = (config: AuthConfig): Layer.Layer<Authentication> => {
  const principals = new Map<string, Principal>(
    Object.entries(config.tokens).map(([token, grant]) => [token, { id: grant.principal, admin: grant.admin === true }])
  )
  return Layer.succeed(Authentication)((effect, { headers }) => {
    const token = bearer(headers)
    if (Option.isNone(token)) {
      return Effect.fail(new Unauthenticated({ reason: "missing-token", message: "the request carries no bearer token" }))
    }
    const principal = principals.get(token.value)
    if (principal === undefined) {
      return Effect.fail(new Unauthenticated({ reason: "unknown-token", message: "the bearer token is not recognised" }))
    }
    return Effect.provideService(effect, CurrentPrincipal, principal)
  })
}

/** Sends `token` as the bearer token of every call a client makes. */
export const layerClient = (token: string): Layer.Layer<RpcMiddleware.ForClient<Authentication>> =>
  RpcMiddleware.layerClient(Authentication, ({ request, next }) =>
    next({ ...request, headers: Headers.set(request.headers, "authorization", `Bearer ${token}`) }))
