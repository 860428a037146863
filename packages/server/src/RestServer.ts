/**
 * The server side of the REST facade: handlers of `RestApi` over the `Tasks`
 * supervisor under the access rules of `Access.ts` (ownership, admins, the
 * shared submission quota), the OpenAPI document at `/openapi.json` and an
 * offline docs page at `/docs`.
 *
 * @since 0.1.0
 */
import { Clock, Effect, Layer, Schema, Stream } from "effect"
import { HttpRouter, HttpServerResponse } from "effect/http"
import { HttpApiBuilder, HttpApiError, HttpApiScalar } from "effect/http-api"
import { RateLimiter } from "effect/persistence"
import { Auth } from "@chainjobs/rpc"
import { type TaskInfo, TaskQuery, Tasks } from "@chainjobs/tasks"
import * as Access from "./Access.ts"
import { ServerConfig } from "./ServerConfig.ts"
import { RestApi, TaskFailed, type TaskFeedEvent, type TaskList, TaskResult, TaskRunning } from "./RestApi.ts"

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
  const tasks = yield* Tasks.Tasks
  const limiter = yield* RateLimiter.RateLimiter
  const { submitLimit } = yield* ServerConfig

  /** The record of a task the caller may see. */
  const accessible = (id: string) =>
    Auth.CurrentPrincipal.use((principal) =>
      Effect.flatMap(tasks.get(id), (info) =>
        Auth.canSee(principal, info) ? Effect.succeed(info) : Effect.fail(Auth.forbidden(principal, `task ${id}`))))

  return handlers.handleAll({
    submit: Effect.fnUntraced(function*({ params, query, payload }) {
      const principal = yield* Auth.CurrentPrincipal
      yield* Auth.consumeQuota(limiter, principal, { limit: submitLimit, window: "1 second" })
      const handle = yield* tasks.submitEncoded(params.kind, payload, {
        owner: principal.id,
        ...(query.priority === undefined ? {} : { priority: query.priority })
      })
      if (query.wait === "true") return yield* tasks.awaitInfo(handle.id)
      return { taskId: handle.id, kind: params.kind, status: "pending" as const, ...taskUrls(handle.id) }
    }),
    list: Effect.fnUntraced(function*({ query }) {
      const principal = yield* Auth.CurrentPrincipal
      const page = query.page ?? 1
      const limit = query.limit ?? TaskQuery.defaultLimit
      const filter: TaskQuery.TaskQuery = {
        limit,
        ...(principal.admin ? {} : { owner: principal.id }),
        ...(query.status === undefined ? {} : { status: [query.status] }),
        ...(query.kind === undefined ? {} : { kind: [query.kind] })
      }
      const from = (cursor: string | undefined) => tasks.list(cursor === undefined ? filter : { ...filter, cursor })
      // Pages are keyset pages underneath: page n follows n - 1 cursors (a `cursor` skips the walk).
      let cursor = query.cursor
      for (let skipped = 1; query.cursor === undefined && skipped < page; skipped++) {
        const previous = yield* from(cursor)
        if (previous.nextCursor === null) return { items: [], page, limit, nextCursor: null } satisfies TaskList
        cursor = previous.nextCursor
      }
      const found = yield* from(cursor)
      return { items: found.items, page, limit, nextCursor: found.nextCursor } satisfies TaskList
    }),
    get: ({ params }) => accessible(params.id),
    result: ({ params }) => Effect.flatMap(accessible(params.id), resultOf),
    events: ({ params }) => Effect.as(accessible(params.id), tasks.watch(params.id).pipe(Stream.orDie)),
    interrupt: ({ params }) =>
      accessible(params.id).pipe(Effect.andThen(tasks.interrupt(params.id)), Effect.andThen(tasks.get(params.id))),
    delete: ({ params }) => Effect.andThen(accessible(params.id), tasks.delete(params.id)),
    purge: Effect.fnUntraced(function*({ payload }) {
      const principal = yield* Auth.CurrentPrincipal
      if (!principal.admin) return yield* Auth.forbidden(principal, "purge")
      const now = yield* Clock.currentTimeMillis
      const purged = yield* tasks.purge({
        ...(payload.olderThanMillis === undefined ? {} : { finishedBefore: now - payload.olderThanMillis }),
        ...(payload.status === undefined ? {} : { status: payload.status })
      })
      return { purged }
    }),
    allEvents: () =>
      Effect.gen(function*() {
        const principal = yield* Auth.CurrentPrincipal
        const ready: TaskFeedEvent = { event: "ready", data: yield* tasks.stats }
        return Stream.concat(
          Stream.succeed(ready),
          tasks.events.pipe(
            Stream.filter((info) => Auth.canSee(principal, info)),
            Stream.map((info): TaskFeedEvent => ({ event: "message", data: info }))
          )
        )
      }),
    kinds: () =>
      Effect.map(tasks.kinds, (kinds) =>
        kinds.map((kind) => ({ name: kind.name, payloadSchema: Schema.toJsonSchemaDocument(kind.payload) }))),
    stats: () => tasks.stats
  })
}))

/** The handlers of the probes: ready while the supervisor accepts tasks. */
export const layerHealth = HttpApiBuilder.group(RestApi, "health", Effect.fnUntraced(function*(handlers) {
  const tasks = yield* Tasks.Tasks
  return handlers.handleAll({
    healthz: () => Effect.succeed({ status: "ok" as const }),
    readyz: () =>
      Effect.flatMap(tasks.stats, (stats) =>
        stats.accepting
          ? Effect.succeed({ status: "ready" as const })
          : Effect.fail({ status: "shutting-down" as const }))
  })
}))

/**
 * Gives requests the API could not decode (a malformed JSON body, a bad query
 * parameter) a typed body, `{"_tag":"BadRequest","part":"Query","message":…}`,
 * where the HttpApi default answers an empty 400.
 */
export const layerBadRequest = HttpRouter.middleware((httpEffect) =>
  Effect.catchDefect(httpEffect, (defect) =>
    HttpApiError.HttpApiSchemaError.is(defect) && defect.kind !== "Body" && defect.kind !== "ResponseHeaders"
      ? Effect.succeed(HttpServerResponse.jsonUnsafe(
        { _tag: "BadRequest", part: defect.kind, message: defect.cause.message },
        { status: 400 }
      ))
      : Effect.die(defect)), { global: true })

/** The REST routes, `/openapi.json` and the docs page at `/docs` (self-contained: no CDN). */
export const layer = Layer.mergeAll(
  layerBadRequest,
  HttpApiBuilder.layer(RestApi, { openapiPath: "/openapi.json" }).pipe(
    Layer.provide([layerTasks, layerHealth]),
    Layer.provide(Access.layerRest)
  ),
  HttpApiScalar.layer(RestApi, { path: "/docs" })
)
