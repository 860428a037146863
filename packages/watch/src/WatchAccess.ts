/**
 * Who may do what with watchers and the balance cache: they are the
 * service's, not a principal's, so any authenticated principal reads them
 * (watchers, lag, items, balances, verified reads included) and only an
 * admin changes them (add, pause, resume, change accounts, remove). One rule
 * for every surface that serves them (REST and RPC); another principal's
 * change is refused with `WatchForbidden`.
 *
 * @since 0.1.0
 */
import { Effect, Schema } from "effect"
import { Principal } from "@chainjobs/tasks"

/** A principal other than an admin asked to change watchers. */
export class WatchForbidden extends Schema.TaggedError<WatchForbidden>("@chainjobs/watch/WatchForbidden")(
  "WatchForbidden",
  {
    principal: Schema.String,
    /** What was asked: an RPC's name, or an HTTP method and path. */
    operation: Schema.String
  },
  { httpApiStatus: 403 }
) {
  override get message(): string {
    return `${this.principal} may not ${this.operation}: changing watchers is for admins`
  }
}

/** Whether `principal` may change watchers. */
export const mayChange = (principal: Principal.Principal): boolean => principal.admin

/** Refuses `operation` (a change) unless the current principal is an admin. */
export const requireAdmin = (operation: string): Effect.Effect<void, WatchForbidden, Principal.CurrentPrincipal> =>
  Principal.CurrentPrincipal.use((principal) =>
    mayChange(principal) ? Effect.void : Effect.fail(new WatchForbidden({ principal: principal.id, operation })))
