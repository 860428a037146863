/**
 * The server side of the REST facade: handlers of `RestApi` over the `Tasks`
 * supervisor, bearer-token authorization from the configured tokens, the
 * OpenAPI document at `/openapi.json` and an offline docs page at `/docs`.
 *
 * @since 0.1.0
 */
import { Clock, Effect, Layer, Redacted, Schema, Stream } from "effect"
import { HttpApiBuilder, HttpApiScalar } from "effect/http-api"
import { type TaskInfo, TaskQuery, TaskSupervisor } from "@chainjobs/tasks"
import { Authorization, CurrentPrincipal, RestApi, TaskFailed, type TaskList, TaskResult, TaskRunning, Unauthorized } from "./RestApi.ts"
import { ServerConfig } from "./ServerConfig.ts"

/** Bearer tokens checked against `ServerConfig.authTokens`; with no tokens configured every caller is `anonymous`. */
export const layerAuthorization: Layer.Layer<Authorization, never, ServerConfig> = Layer.effect(
  Authorization,
  Effect.gen(function*() {
    const { authTokens } = yield* ServerConfig
    const principals = new Map(Object.entries(authTokens).map(([principal, token]) => [Redacted.value(token), principal]))
    const check = (effect: Effect.Effect<any, any, any>, { credential }: { readonly credential: Redacted.Redacted }) => {
      if (principals.size === 0) return Effect.provideService(effect, CurrentPrincipal, "anonymous")
      const principal = principals.get(Redacted.value(credential))
      return principal === undefined
        ? Effect.fail(new Unauthorized({ message: "missing or unknown bearer token" }))
        : Effect.provideService(effect, CurrentPrincipal, principal)
    }
    return Authorization.of({ bearer: check, query: check })
  })
)

/** The URLs a client follows a task with. */
export const taskUrls = (id: string) => ({
  statusUrl: `/api/tasks/${id}`,
  resultUrl: `/api/tasks/${id}/result`,
  eventsUrl: `/api/tasks/${id}/events`
})

const resultOf = (
  info: TaskInfo.TaskInfo
): Effect.Effect<typeof TaskResult.Type | typeof TaskRunning.Type, TaskFailed> => {
  switch (info.status) {
    case "completed":
      return Effect.succeed({ taskId: info.id, status: info.status, result: info.result, completedAt: info.finishedAt ?? 0 })
    case "pending":
    case "running":
      return Effect.succeed({ taskId: info.id, status: info.status, progress: info.progress, message: info.message })
    case "failed":
    case "interrupted":
      return Effect.fail(
        new TaskFailed({
          taskId: info.id,
          status: info.status,
          reason: info.reason,
          error: info.error,
          message: info.errorMessage ?? `task ${info.id} was ${info.status}`
        })
      )
  }
}

/** The handlers of the task endpoints. */
export const layerTasks = HttpApiBuilder.group(RestApi, "tasks", Effect.fnUntraced(function*(handlers) {
  const tasks = yield* TaskSupervisor.Tasks

  const list = Effect.fnUntraced(function*(query: {
    readonly status?: TaskInfo.TaskStatus | undefined
    readonly kind?: string | undefined
    readonly page?: number | undefined
    readonly limit?: number | undefined
    readonly cursor?: string | undefined
  }) {
    const page = query.page ?? 1
    const limit = query.limit ?? TaskQuery.defaultLimit
    const filter: TaskQuery.TaskQuery = {
      limit,
      ...(query.status === undefined ? {} : { status: [query.status] }),
      ...(query.kind === undefined ? {} : { kind: [query.kind] })
    }
    // Pages are keyset pages underneath: page n follows n - 1 cursors (a `cursor` skips the walk).
    let cursor = query.cursor
    for (let skipped = 1; query.cursor === undefined && skipped < page; skipped++) {
      const previous: TaskQuery.TaskPage = yield* tasks.list(cursor === undefined ? filter : { ...filter, cursor })
      if (previous.nextCursor === null) return { items: [], page, limit, nextCursor: null } satisfies TaskList
      cursor = previous.nextCursor
    }
    const found = yield* tasks.list(cursor === undefined ? filter : { ...filter, cursor })
    return { items: found.items, page, limit, nextCursor: found.nextCursor } satisfies TaskList
  })

  return handlers.handleAll({
    submit: Effect.fnUntraced(function*({ params, query, payload }) {
      const owner = yield* CurrentPrincipal
      const handle = yield* tasks.submitEncoded(params.kind, payload, {
        owner,
        ...(query.priority === undefined ? {} : { priority: query.priority })
      })
      if (query.wait === "true") return yield* tasks.awaitInfo(handle.id)
      return { taskId: handle.id, kind: params.kind, status: "pending" as const, ...taskUrls(handle.id) }
    }),
    list: ({ query }) => list(query),
    get: ({ params }) => tasks.get(params.id),
    result: ({ params }) => Effect.flatMap(tasks.get(params.id), resultOf),
    events: ({ params }) => Effect.as(tasks.get(params.id), tasks.watch(params.id).pipe(Stream.orDie)),
    interrupt: ({ params }) => Effect.andThen(tasks.interrupt(params.id), tasks.get(params.id)),
    delete: ({ params }) => tasks.delete(params.id),
    purge: Effect.fnUntraced(function*({ payload }) {
      const now = yield* Clock.currentTimeMillis
      const purged = yield* tasks.purge({
        ...(payload.olderThanMillis === undefined ? {} : { finishedBefore: now - payload.olderThanMillis }),
        ...(payload.status === undefined ? {} : { status: payload.status })
      })
      return { purged }
    }),
    allEvents: () => Effect.succeed(tasks.events),
    kinds: () =>
      Effect.map(tasks.kinds, (kinds) =>
        kinds.map((kind) => ({ name: kind.name, payloadSchema: Schema.toJsonSchemaDocument(kind.payload) }))),
    stats: () => tasks.stats
  })
}))

/** The handlers of the probes: ready while the supervisor accepts tasks. */
export const layerHealth = HttpApiBuilder.group(RestApi, "health", Effect.fnUntraced(function*(handlers) {
  const tasks = yield* TaskSupervisor.Tasks
  return handlers.handleAll({
    healthz: () => Effect.succeed({ status: "ok" as const }),
    readyz: () =>
      Effect.flatMap(tasks.stats, (stats) =>
        stats.accepting
          ? Effect.succeed({ status: "ready" as const })
          : Effect.fail({ status: "shutting-down" as const }))
  })
}))

/** The REST routes, `/openapi.json` and the docs page at `/docs` (self-contained: no CDN). */
export const layer = Layer.mergeAll(
  HttpApiBuilder.layer(RestApi, { openapiPath: "/openapi.json" }).pipe(
    Layer.provide([layerTasks, layerHealth]),
    Layer.provide(layerAuthorization)
  ),
  HttpApiScalar.layer(RestApi, { path: "/docs" })
)
