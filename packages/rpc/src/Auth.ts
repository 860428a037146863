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
import { Context, Effect, Layer, Option } from "effect"
import { Headers } from "effect/http"
import { RpcMiddleware } from "effect/rpc"
import { Unauthenticated } from "./TaskRpcError.ts"

/** Who is calling: the owner recorded on the tasks it submits. */
export interface Principal {
  /** The principal's name; tasks it submits carry it as `owner`. */
  readonly id: string
  /** An admin sees and controls every task, and may purge. */
  readonly admin: boolean
}

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
