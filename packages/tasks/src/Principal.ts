/**
 * Who is calling. A principal is named by a bearer token; the tasks it
 * submits record it as their `owner`. A principal sees and controls only the
 * tasks it owns; an admin sees and controls every task and alone may purge.
 *
 * `Principals` turns a credential into a principal, the same way for every
 * transport (REST, RPC over HTTP or WebSocket): a transport only reads the
 * token off its request and provides the answer as `CurrentPrincipal`.
 *
 * ```ts
 * const principals = Principal.layer({ "s3cret": { principal: "billing" }, "r00t": { principal: "ops", admin: true } })
 * ```
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer, Option } from "effect"
import { refuse, type TaskAccessError, Unauthenticated } from "./TaskAccessError.ts"
import type { TaskInfo } from "./TaskInfo.ts"

/** Who is calling: the owner recorded on the tasks it submits. */
export interface Principal {
  /** The principal's name; tasks it submits carry it as `owner`. */
  readonly id: string
  /** An admin sees and controls every task, and may purge. */
  readonly admin: boolean
}

/** The principal every caller is while authentication is off (`layerAnonymous`): an admin. */
export const anonymous: Principal = { id: "anonymous", admin: true }

/** True when the principal may see and control the task: its owner, or an admin. */
export const canSee = (principal: Principal, info: TaskInfo): boolean => principal.admin || info.owner === principal.id

/** The principal of the request being handled, provided by the transport's authentication. */
export class CurrentPrincipal extends Context.Service<CurrentPrincipal, Principal>()(
  "@chainjobs/tasks/Principal/CurrentPrincipal"
) {}

/** One entry of a token table. */
export interface TokenGrant {
  /** The principal the token stands for. */
  readonly principal: string
  /** Whether the principal is an admin. Default: false. */
  readonly admin?: boolean | undefined
}

/** Turns the bearer token of a request into its principal. */
export class Principals extends Context.Service<Principals, {
  /** The principal holding `token`, or `Unauthenticated` (no token, or one nobody holds). */
  authenticate(token: Option.Option<string>): Effect.Effect<Principal, TaskAccessError>
}>()("@chainjobs/tasks/Principal/Principals") {}

const missing = refuse(new Unauthenticated({ credential: "missing-token" }))
const unknown = refuse(new Unauthenticated({ credential: "unknown-token" }))

/** Authenticates by a table of bearer tokens; a token not listed is refused. */
export const make = (tokens: Readonly<Record<string, TokenGrant>>): Principals["Service"] => {
  const byToken = new Map<string, Principal>(
    Object.entries(tokens).map(([token, grant]) => [token, { id: grant.principal, admin: grant.admin === true }])
  )
  return Principals.of({
    authenticate: (token) => {
      if (Option.isNone(token)) return Effect.fail(missing)
      const principal = byToken.get(token.value)
      return principal === undefined ? Effect.fail(unknown) : Effect.succeed(principal)
    }
  })
}

/** `Principals` over a table of bearer tokens. */
export const layer = (tokens: Readonly<Record<string, TokenGrant>>): Layer.Layer<Principals> =>
  Layer.succeed(Principals, make(tokens))

/** Authentication off: every caller, with a token or not, is `anonymous`. For a local development service. */
export const layerAnonymous: Layer.Layer<Principals> = Layer.succeed(
  Principals,
  Principals.of({ authenticate: () => Effect.succeed(anonymous) })
)
