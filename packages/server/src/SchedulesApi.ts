/**
 * Stored schedules and daemons over REST, as a schema-first `HttpApi` under
 * `/api/schedules` behind the service's bearer tokens (`Authorization`), for
 * admins only, reads included: the tasks a schedule submits belong to no
 * principal, so only admins see them (another principal is refused with 403
 * `Forbidden`, operation `schedules`, and nothing is stored; with auth off
 * everyone is the admin `anonymous`). They are kept in the database beside the
 * tasks (`PersistedSchedules`), so they survive a restart of the service — of
 * every runner, in runner mode, where each runs once cluster-wide:
 *
 * - `GET /api/schedules`: every stored declaration, by name;
 * - `PUT /api/schedules/:name` with `{kind, payload, trigger}`: declares one
 *   (replacing the declaration of that name). `trigger` is
 *   `{"_tag":"Cron","cron":"0 * * * *"}` (six fields: seconds first),
 *   `{"_tag":"Interval","millis":60000}` or `{"_tag":"Daemon"}` (kept
 *   running, restarted with backoff when it fails). A kind not registered
 *   answers 404 `UnknownTaskKind`, a payload it refuses 400 `InvalidPayload`,
 *   a bad cron, interval or name 400 `InvalidSchedule`; nothing is stored then;
 * - `DELETE /api/schedules/:name`: stops and forgets it (404
 *   `ScheduleNotFound` when there is none).
 *
 * `client` is the typed client of these routes.
 *
 * @since 0.1.0
 */
import { PersistedSchedules, Principal, ScheduleStore, TaskAccessError, TaskError } from "@chainjobs/tasks"
import { Effect, Layer, Schema } from "effect"
import { HttpClient, HttpClientRequest } from "effect/http"
import { HttpApi, HttpApiBuilder, HttpApiClient, HttpApiEndpoint, HttpApiGroup, HttpApiSchema, OpenApi } from "effect/http-api"
import { Authorization } from "./RestApi.ts"

/** A declaration's body: what it submits and when. */
export const ScheduleRequest = Schema.Struct({
  kind: Schema.String,
  /** The payload of every submission, as the kind's payload Schema encodes it (JSON). Default: null. */
  payload: Schema.optionalKey(Schema.Unknown),
  trigger: ScheduleStore.Trigger
})

const Name = { name: Schema.String }

/** The schedule endpoints, under `/api`. */
export class SchedulesGroup extends HttpApiGroup.make("schedules")
  .add(
    HttpApiEndpoint.get("list", "/schedules", {
      success: Schema.Array(ScheduleStore.StoredSchedule),
      error: [TaskError.TaskStoreError, TaskAccessError.Forbidden]
    }).annotate(OpenApi.Summary, "List stored schedules and daemons"),
    HttpApiEndpoint.put("declare", "/schedules/:name", {
      params: Name,
      payload: ScheduleRequest,
      success: ScheduleStore.StoredSchedule,
      error: [
        PersistedSchedules.InvalidSchedule,
        TaskError.UnknownTaskKind,
        TaskError.InvalidPayload,
        TaskError.TaskStoreError,
        TaskAccessError.Forbidden
      ]
    }).annotate(
      OpenApi.Description,
      "Stores a schedule (cron or interval) or a daemon of a task kind under the name, replacing one of that name; it runs " +
        "from then on, once per service (once cluster-wide in runner mode), and survives restarts."
    ).annotate(OpenApi.Summary, "Declare a schedule or daemon"),
    HttpApiEndpoint.delete("remove", "/schedules/:name", {
      params: Name,
      success: HttpApiSchema.NoContent,
      error: [PersistedSchedules.ScheduleNotFound, TaskError.TaskStoreError, TaskAccessError.Forbidden]
    }).annotate(OpenApi.Summary, "Stop and forget a schedule or daemon")
  )
  .middleware(Authorization)
  .prefix("/api")
  .annotateMerge(OpenApi.annotations({ title: "Schedules", description: "Stored schedules and daemons." }))
{}

/** The API of this module alone. */
export class SchedulesApi extends HttpApi.make("chainjobs-schedules").add(SchedulesGroup) {}

/** Runs `effect` for an admin; refuses anyone else before it runs. */
const adminOnly = <A, E, R>(
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, E | TaskAccessError.Forbidden, R | Principal.CurrentPrincipal> =>
  Effect.gen(function*() {
    const principal = yield* Principal.CurrentPrincipal
    if (!principal.admin) return yield* new TaskAccessError.Forbidden({ principal: principal.id, operation: "schedules" })
    return yield* effect
  })

/** The handlers, over the `PersistedSchedules` provided. */
export const layerHandlers = HttpApiBuilder.group(SchedulesApi, "schedules", Effect.fnUntraced(function*(handlers) {
  const schedules = yield* PersistedSchedules.PersistedSchedules
  return handlers.handleAll({
    list: () => adminOnly(schedules.list),
    declare: ({ params, payload }) =>
      adminOnly(
        schedules.declare({ name: params.name, kind: payload.kind, payload: payload.payload ?? null, trigger: payload.trigger })
      ),
    remove: ({ params }) => adminOnly(schedules.remove(params.name))
  })
}))

/** The API's routes and its OpenAPI document at `/api/schedules/openapi.json`; it needs `Authorization` and `PersistedSchedules`. */
export const layer = HttpApiBuilder.layer(SchedulesApi, { openapiPath: "/api/schedules/openapi.json" }).pipe(
  Layer.provide(layerHandlers)
)

/** The typed client of a service at `url`, calling with the bearer `token` (none when empty). */
export const client = (url: string, token: string) =>
  HttpApiClient.make(SchedulesApi, {
    // `prependUrl` joins it to each path with one slash, whether or not `url` ends in one
    baseUrl: url,
    transformClient: token === "" ? undefined : HttpClient.mapRequest(HttpClientRequest.bearerToken(token))
  })
