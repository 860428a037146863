/**
 * Bearer-token authentication of RPC calls. The `Authentication` middleware
 * reads `Authorization: Bearer <token>` from every request, asks the runtime's
 * `Principals` who holds it, and provides the principal to the handlers as
 * `CurrentPrincipal`, or refuses the request with `TaskAccessError`
 * (`Unauthenticated`). A client adds its token with `layerClient`.
 *
 * ```ts
 * const auth = Auth.layerTokens({ "s3cret": { principal: "billing" }, "r00t": { principal: "ops", admin: true } })
 * ```
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer, Option } from "effect"
import { Headers } from "effect/http"
import { RpcMiddleware } from "effect/rpc"
import { Principal, TaskAccessError } from "@chainjobs/tasks"

/** The RPC middleware that authenticates every call of `TaskRpcs`. */
export class Authentication extends RpcMiddleware.Service<Authentication, {
  provides: Principal.CurrentPrincipal
}>()("@chainjobs/rpc/Auth/Authentication", {
  error: TaskAccessError.TaskAccessError,
  requiredForClient: true
}) {}

/** The token of an `Authorization: Bearer <token>` header. */
export const bearer = (headers: Headers.Headers): Option.Option<string> =>
  Option.flatMap(Headers.get(headers, "authorization"), (value) => {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(value)
    return match === null ? Option.none() : Option.some(match[1])
  })

/** Authenticates every call by its bearer token through `Principals`. */
export const layer: Layer.Layer<Authentication, never, Principal.Principals> = Layer.effect(
  Authentication,
  Effect.gen(function*() {
    const principals = yield* Principal.Principals
    return Authentication.of((effect, { headers }) =>
      Effect.flatMap(
        principals.authenticate(bearer(headers)),
        (principal) => Effect.provideService(effect, Principal.CurrentPrincipal, principal)
      ))
  })
)

/** Authenticates every call by a table of bearer tokens (`Principal.layer`). */
export const layerTokens = (tokens: Readonly<Record<string, Principal.TokenGrant>>): Layer.Layer<Authentication> =>
  Layer.provide(layer, Principal.layer(tokens))

/** `request` with `token` as its bearer token. */
export const withBearer = <R extends { readonly headers: Headers.Headers }>(request: R, token: string): R => ({
  ...request,
  headers: Headers.set(request.headers, "authorization", `Bearer ${token}`)
})

/**
 * The client side of `Authentication`: `middleware`, run for every call a
 * client makes. It is registered where `RpcClient` looks it up (the key
 * `<middleware key>/Client`), as `RpcMiddleware.layerClient` does, but called
 * as it is: `layerClient` wraps every call's middleware in a merge of its
 * layer's services into the call's context, a new context and a rebuild of
 * the send fiber's cached services per call, which a middleware needing no
 * services does not use.
 */
export const layerClientMiddleware = (
  middleware: RpcMiddleware.RpcMiddlewareClient<TaskAccessError.TaskAccessError, never, never>
): Layer.Layer<RpcMiddleware.ForClient<Authentication>> =>
  Layer.succeedContext(Context.makeUnsafe(new Map([[`${Authentication.key}/Client`, middleware]])))

/** Sends `token` as the bearer token of every call a client makes. */
export const layerClient = (token: string): Layer.Layer<RpcMiddleware.ForClient<Authentication>> =>
  layerClientMiddleware(({ request, next }) => next(withBearer(request, token)))
