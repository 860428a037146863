/**
 * What the lean paths in front of the HttpApi stack (`HotReads`, `HotSubmit`)
 * share: the credentials a request carries as the stack reads them, the
 * principal they name, and the request's time in `/metrics`.
 *
 * @since 0.1.0
 */
import { Cause, type Context, Effect, Exit, Metric, Option } from "effect"
import type { Headers } from "effect/http"
import type * as Http from "node:http"
import { Auth } from "@chainjobs/rpc"
import type { Principal } from "@chainjobs/tasks"
import * as Metrics from "./Metrics.ts"

/** Handles a request, or passes it on with `next` (to the server's own `request` listeners). */
export type Handler = (request: Http.IncomingMessage, response: Http.ServerResponse, next: () => void) => void

/** A URL's path and query (`""` if none). */
export const split = (url: string): { readonly path: string; readonly query: string } => {
  const mark = url.indexOf("?")
  return mark === -1 ? { path: url, query: "" } : { path: url.slice(0, mark), query: url.slice(mark + 1) }
}

/**
 * The `access_token` of a query that holds nothing else, once (`""` if none), or `undefined` for any other query. A
 * query naming it twice is the stack's to answer: its security reads a repeated parameter as no token at all (401),
 * where taking either value would let the lean path serve, or even store a task for, a request the stack refuses.
 */
export const queryToken = (query: string): string | undefined => {
  if (query === "") return ""
  const params = new URLSearchParams(query)
  let token: string | undefined
  for (const [name, value] of params) {
    if (name !== "access_token" || token !== undefined) return undefined
    token = value
  }
  return token ?? ""
}

/**
 * The principal of the first token the stack would accept (the bearer
 * header, then `access_token`), if any: none, and the stack answers the
 * request with its refusal.
 */
export const principalOf = (
  principals: Principal.Principals["Service"],
  request: Http.IncomingMessage,
  token: string
): Effect.Effect<Option.Option<Principal.Principal>> =>
  principals.authenticate(Auth.bearer(request.headers as unknown as Headers.Headers)).pipe(
    Effect.catch(() => token === "" ? Effect.fail(undefined) : principals.authenticate(Option.some(token))),
    Effect.option
  )

/**
 * `principalOf` without running it, when the principals answer at once (a
 * table of tokens does: its answers are `Exit`s): the principal, or none;
 * `undefined` when an answer is an effect still to run (or a defect), which
 * `principalOf` then runs.
 */
export const principalNow = (
  principals: Principal.Principals["Service"],
  request: Http.IncomingMessage,
  token: string
): Option.Option<Principal.Principal> | undefined => {
  const answered = (answer: Effect.Effect<Principal.Principal, unknown>): Option.Option<Principal.Principal> | "refused" | undefined => {
    if (!Exit.isExit(answer)) return undefined
    // An effect that is an `Exit` is its own answer (the principal's type is the effect's).
    const exit = answer as Exit.Exit<Principal.Principal, unknown>
    if (Exit.isSuccess(exit)) return Option.some(exit.value)
    return Cause.hasFails(exit.cause) ? "refused" : undefined
  }
  const byHeader = answered(principals.authenticate(Auth.bearer(request.headers as unknown as Headers.Headers)))
  if (byHeader !== "refused") return byHeader
  if (token === "") return Option.none()
  const byQuery = answered(principals.authenticate(Option.some(token)))
  return byQuery === "refused" ? Option.none() : byQuery
}

/**
 * The request-duration metric with a lean path's attributes, one per method and status (`Metrics.requestDurationSeries`:
 * the attributes its own, so its series key is made once — a `withAttributes` of the shared metric made the key again
 * whenever another method or status had been updated in between, and a context per update).
 */
const durationOf = (method: string, status: number): typeof Metrics.requestDuration =>
  Metrics.requestDurationSeries(`${method} ${status}`, { surface: "api", method, status: String(status) })

/** Records a request answered on a lean path in `chainjobs_http_request_duration_seconds`, as the stack's timing would. */
export const timed = (method: string, started: number, status: number): Effect.Effect<void> =>
  Metric.update(durationOf(method, status), (performance.now() - started) / 1000)

/** `timed` at once, in the registry of `context` (the one a fiber run in it would update). */
export const timedNow = (context: Context.Context<never>, method: string, started: number, status: number): void =>
  durationOf(method, status).updateUnsafe((performance.now() - started) / 1000, context)
