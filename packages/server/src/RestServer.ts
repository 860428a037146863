/**
 * The server side of the REST facade: handlers of `RestApi` that map onto the
 * runtime's access facade (`TaskAccess`: ownership, admins, the shared
 * submission quota, the payload limit), the OpenAPI document at
 * `/openapi.json` and an offline docs page at `/docs`. A refusal of the access
 * rules answers with its reason as the body (`Unauthenticated` 401,
 * `Forbidden` 403, `PayloadTooLarge` 413, `PayloadTooDeep` 400,
 * `QuotaExceeded` 429 with `Retry-After`).
 *
 * @since 0.1.0
 */
import { NodeHttpServerRequest } from "@effect/platform-node"
import * as Http from "node:http"
import { ByteSize, Clock, Effect, Layer, Schema, Stream } from "effect"
import type { NonEmptyReadonlyArray } from "effect/Array"
import { HttpIncomingMessage, HttpRouter, HttpServerError, HttpServerRequest, HttpServerResponse } from "effect/http"
import { HttpApiBuilder, HttpApiError, HttpApiScalar, OpenApi } from "effect/http-api"
import { PayloadLimit, TaskAccess, TaskAccessError, TaskFeed, TaskInfo, TaskQuery, Tasks } from "@chainjobs/tasks"
import { openApiDocument, RestApi, type SubmitAccepted, TaskFailed, type TaskList, TaskResult, TaskRunning, toRecord } from "./RestApi.ts"
import { Webhooks } from "./Webhooks.ts"
import * as KindExamples from "./KindExamples.ts"
import * as SseKeepAlive from "./SseKeepAlive.ts"

const utf8 = new TextEncoder()

/** The text of one server-sent event carrying `data` as JSON (a task change is framed by the feed instead, once for all). */
const sseEventText = (event: string, data: unknown, retryMillis?: number): string =>
  `${retryMillis === undefined ? "" : `retry: ${retryMillis}\n`}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`

/** `sseEventText` encoded. */
const sseEvent = (event: string, data: unknown, retryMillis?: number): Uint8Array =>
  utf8.encode(sseEventText(event, data, retryMillis))

/** How long an `EventSource` waits before reconnecting to `/api/events` (browsers default to seconds). */
const reconnectMillis = 500

/** How often an event stream gets a comment, so that proxies and clients keep an idle stream open. */
export const keepAliveMillis = SseKeepAlive.keepAliveMillis

/**
 * The last event of a task's stream: no data (so `EventSource` dispatches
 * nothing), only the id `end` and a short reconnection delay, so that the
 * `EventSource` soon learns from the 204 that there is nothing more.
 */
export const endEventId = "end"
/** The frame of that last event. */
export const endEvent: Uint8Array = utf8.encode(`retry: ${reconnectMillis}\nid: ${endEventId}\n\n`)

/** The Node response a request is answered on, when served by Node's HTTP server (the service always is). */
const nodeResponse = (request: HttpServerRequest.HttpServerRequest): Http.ServerResponse | undefined => {
  const response: unknown = "response" in request ? NodeHttpServerRequest.toServerResponse(request) : undefined
  return response instanceof Http.ServerResponse ? response : undefined
}

/**
 * An event stream as a response: never cached, a keep-alive comment at
 * intervals (`SseKeepAlive`'s one timer; a stream of its own on a server
 * other than Node's), ending when `events` end.
 */
const eventStream = (events: Stream.Stream<Uint8Array>) =>
  HttpServerRequest.HttpServerRequest.useSync((request) => {
    const response = nodeResponse(request)
    if (response !== undefined) SseKeepAlive.follow(response)
    const body = response !== undefined ? events : Stream.merge(
      events,
      Stream.tick(keepAliveMillis).pipe(Stream.drop(1), Stream.map(() => SseKeepAlive.comment)),
      { haltStrategy: "left" }
    )
    return HttpServerResponse.stream(body, { contentType: "text/event-stream", headers: { "cache-control": "no-cache" } })
  })

/**
 * The frames of a batch the all-tasks stream read at once (the feed hands a subscriber up to 256 changes per
 * pull): the changes' events as the feed framed them, in order, encoded together as one block. Encoded one by one,
 * each change was an allocation and an encoder call per subscriber (ten readers of `/api/events` in the full load
 * mix: 14,000 a second, 3% of the service's thread in a CPU profile), and the blocks were copied together again
 * before the write. A gap is its own `reset` event (the feed hands it over alone).
 */
const batchFrames = (items: NonEmptyReadonlyArray<TaskFeed.Change | TaskFeed.Gap>): NonEmptyReadonlyArray<Uint8Array> => {
  let text = ""
  for (const item of items) {
    text += item._tag === "Change" ? item.sseText : sseEventText("reset", { reason: item.reason, after: item.after })
  }
  return [utf8.encode(text)]
}

/** The frames of the all-tasks stream: changes as the feed framed them, a gap as `reset`, a drop as `dropped`. */
export const feedFrames = (
  changes: Stream.Stream<TaskFeed.Change | TaskFeed.Gap, TaskFeed.SubscriberDropped>
): Stream.Stream<Uint8Array> =>
  changes.pipe(
    Stream.mapArray(batchFrames),
    Stream.catchTag("SubscriberDropped", (dropped) =>
      Stream.succeed(sseEvent("dropped", { reason: dropped.reason, limit: dropped.limit, lastEventId: dropped.lastEventId })))
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

/**
 * Answers a refusal of the access rules with its reason (which carries its
 * HTTP status), for the reasons the endpoint can meet; any other is a defect.
 */
const answerRefusal = <const Tag extends TaskAccessError.TaskAccessErrorReason["_tag"]>(...expected: ReadonlyArray<Tag>) =>
<A, E, R>(
  effect: Effect.Effect<A, E, R>
): Effect.Effect<
  A,
  Exclude<E, TaskAccessError.TaskAccessError> | Extract<TaskAccessError.TaskAccessErrorReason, { readonly _tag: Tag }>,
  R
> =>
  Effect.catchIf(
    effect,
    (error): error is Extract<E, TaskAccessError.TaskAccessError> => error instanceof TaskAccessError.TaskAccessError,
    (error) =>
      (expected as ReadonlyArray<string>).includes(error.reason._tag)
        ? Effect.fail(error.reason as Extract<TaskAccessError.TaskAccessErrorReason, { readonly _tag: Tag }>)
        : Effect.die(error)
  ) as any

const encodeQuotaExceeded = Schema.encodeSync(TaskAccessError.QuotaExceeded)

/** The standard `Retry-After` of a quota refusal: whole seconds, rounded up, at least 1. */
export const retryAfter = (refusal: TaskAccessError.QuotaExceeded): string =>
  String(Math.max(1, Math.ceil(refusal.retryAfterMillis / 1000)))

/** A 429 with the standard `Retry-After` header next to the typed body. */
const tooManyRequests = (refusal: TaskAccessError.QuotaExceeded) =>
  HttpServerResponse.jsonUnsafe(encodeQuotaExceeded(refusal), { status: 429, headers: { "retry-after": retryAfter(refusal) } })

/** The answer to an accepted submission (202): the task and where to follow it. */
export const accepted = (id: string, kind: string): SubmitAccepted => ({ taskId: id, kind, status: "pending", ...taskUrls(id) })

/** The handlers of the task endpoints. */
export const layerTasks = HttpApiBuilder.group(RestApi, "tasks", Effect.fnUntraced(function*(handlers) {
  const access = yield* TaskAccess.TaskAccess
  const tasks = yield* Tasks.Tasks
  const webhooks = yield* Webhooks
  const examples = yield* KindExamples.KindExamples

  return handlers.handleAll({
    submit: ({ params, query, payload }) =>
      answerRefusal("QuotaExceeded", "PayloadTooLarge", "PayloadTooDeep")(Effect.gen(function*() {
        const info = yield* access.submit({
          kind: params.kind,
          payload,
          ...(query.priority === undefined ? {} : { priority: query.priority }),
          ...(query.timeoutMillis === undefined ? {} : { timeoutMillis: query.timeoutMillis }),
          ...(query.heartbeatTimeoutMillis === undefined ? {} : { heartbeatTimeoutMillis: query.heartbeatTimeoutMillis }),
          ...(query.retries === undefined ? {} : { retries: query.retries }),
          ...(query.webhook === undefined ? {} : { webhook: query.webhook })
        })
        if (query.wait === "true") return toRecord(yield* access.awaitInfo(info.id))
        return accepted(info.id, params.kind)
      })).pipe(Effect.catchTag("QuotaExceeded", (refusal) => Effect.succeed(tooManyRequests(refusal)))),
    list: Effect.fnUntraced(function*({ query }) {
      const page = query.page ?? 1
      const limit = query.limit ?? TaskQuery.defaultLimit
      const filter: TaskQuery.TaskQuery = {
        limit,
        ...(query.status === undefined ? {} : { status: [query.status] }),
        ...(query.kind === undefined ? {} : { kind: [query.kind] })
      }
      // The filter names no owner, so the access rules cannot refuse it: only the store can fail.
      const from = (cursor: string | undefined) =>
        answerRefusal<never>()(access.list(cursor === undefined ? filter : { ...filter, cursor }))
      // Pages are keyset pages underneath: page n follows n - 1 cursors (a `cursor` skips the walk).
      let cursor = query.cursor
      for (let skipped = 1; query.cursor === undefined && skipped < page; skipped++) {
        const previous = yield* from(cursor)
        if (previous.nextCursor === null) return { items: [], page, limit, nextCursor: null } satisfies TaskList
        cursor = previous.nextCursor
      }
      const found = yield* from(cursor)
      return { items: found.items.map(toRecord), page, limit, nextCursor: found.nextCursor } satisfies TaskList
    }),
    // Like the list's, the query names no owner: only the store can fail.
    counts: ({ query }) => answerRefusal<never>()(access.count(query.kind === undefined ? {} : { kind: [query.kind] })),
    get: ({ params }) => Effect.map(access.get(params.id), toRecord),
    result: ({ params }) => Effect.flatMap(access.get(params.id), resultOf),
    events: ({ headers, params }) =>
      answerRefusal("TooManyTaskStreams")(Effect.gen(function*() {
        const info = yield* access.get(params.id)
        // A stream that ended reconnects with `end`: 204 tells the `EventSource` to stop.
        if (headers["last-event-id"] === endEventId && TaskInfo.isTerminal(info.status)) {
          return HttpServerResponse.empty({ status: 204 })
        }
        // Admitted (one of the principal's `maxTaskStreams`, else 429 before any header is written) in the request's
        // scope, which holds the slot until the response ends or its client goes.
        const changes = yield* access.openWatchChanges(params.id)
        return yield* eventStream(Stream.concat(
          changes.pipe(Stream.map((change) => change.sse), Stream.orDie),
          Stream.succeed(endEvent)
        ))
      })),
    webhooks: ({ params }) => Effect.andThen(access.get(params.id), webhooks.deliveries(params.id)),
    interrupt: ({ params }) => Effect.andThen(access.interrupt(params.id), Effect.map(access.get(params.id), toRecord)),
    delete: ({ params }) => access.delete(params.id),
    purge: ({ payload }) =>
      answerRefusal("Forbidden")(Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const purged = yield* access.purge({
          ...(payload.olderThanMillis === undefined ? {} : { finishedBefore: now - payload.olderThanMillis }),
          ...(payload.status === undefined ? {} : { status: payload.status })
        })
        return { purged }
      })),
    allEvents: ({ headers }) =>
      answerRefusal("TooManyEventStreams")(Effect.gen(function*() {
        // Admitted (one of the principal's `maxEventStreams`, else 429 before any header is written) and subscribed
        // to the feed now, in the request's scope, which holds both until the response ends or its client goes: so a
        // client that has read `ready` hears every change after it (subscribed after it, the changes published while
        // the headers and `ready` went out were in no stream, and a resume from a later id does not bring them back).
        const changes = yield* access.openChanges(headers["last-event-id"])
        const ready = sseEvent("ready", yield* access.stats, reconnectMillis)
        return yield* eventStream(Stream.concat(Stream.succeed(ready), feedFrames(changes)))
      })),
    kinds: () =>
      Effect.map(Effect.all([tasks.kinds, examples.all]), ([kinds, ready]) =>
        kinds.map((kind) => {
          const payloadSchema = Schema.toJsonSchemaDocument(kind.payload)
          const examples = (payloadSchema.schema as { readonly examples?: ReadonlyArray<unknown> }).examples
          const example = ready.has(kind.name) ? ready.get(kind.name) : examples?.[0]
          return { name: kind.name, payloadSchema, ...(example === undefined ? {} : { example }) }
        })),
    stats: () => access.stats
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

/** The body of a 400 for a request the API could not decode: which part, and why. */
export const badRequest = (part: string, message: string) => ({ _tag: "BadRequest" as const, part, message })

/**
 * Gives requests the API could not decode (a malformed JSON body, a bad query
 * parameter) a typed body, `{"_tag":"BadRequest","part":"Query","message":…}`,
 * where the HttpApi default answers an empty 400; and a request no route
 * serves `404 {"_tag":"RouteNotFound","method":…,"path":…}` instead of an
 * empty 404.
 */
export const layerBadRequest = HttpRouter.middleware((httpEffect) =>
  httpEffect.pipe(
    Effect.catchDefect((defect) =>
      HttpApiError.HttpApiSchemaError.is(defect) && defect.kind !== "Body" && defect.kind !== "ResponseHeaders"
        ? Effect.succeed(HttpServerResponse.jsonUnsafe(badRequest(defect.kind, defect.cause.message), { status: 400 }))
        : Effect.die(defect)),
    Effect.catch((error: unknown) =>
      HttpServerError.isHttpServerError(error) && error.reason._tag === "RouteNotFound"
        ? Effect.succeed(HttpServerResponse.jsonUnsafe(
          { _tag: "RouteNotFound", method: error.request.method, path: error.request.url.split("?")[0] },
          { status: 404 }
        ))
        : Effect.fail(error))
  ), { global: true })

const encodeReason = Schema.encodeSync(TaskAccessError.TaskAccessErrorReason)

/** The refusal of a body longer than the payload limit: reading stops past it, so its size is given as one byte more. */
export const bodyTooLarge = (limit: PayloadLimit.PayloadLimit): TaskAccessError.PayloadTooLarge =>
  new TaskAccessError.PayloadTooLarge({ size: limit.maxBytes + 1, limit: limit.maxBytes })

/** How a body the payload limit refuses is answered: 413 when too large, 400 when too deep, the reason as the body. */
export const limitRefusal = (
  refusal: TaskAccessError.TaskAccessErrorReason
): { readonly status: number; readonly body: typeof TaskAccessError.TaskAccessErrorReason.Encoded } => ({
  status: refusal._tag === "PayloadTooLarge" ? 413 : 400,
  body: encodeReason(refusal)
})

/**
 * Holds every request body of the task endpoints to the payload limit of the access
 * rules before the API reads it: a body larger than `maxBytes` answers 413
 * `PayloadTooLarge` (reading stops at the limit), one nested deeper than
 * `maxDepth` answers 400 `PayloadTooDeep` before it is parsed. A route
 * middleware, provided to the task API's routes: it applies to whatever
 * spelling of a path the router sends there (`/API//tasks`, `%74asks`), which
 * a test of the raw URL would miss — and to no other API mounted under `/api`.
 */
export const layerRequestLimits = HttpRouter.middleware(
  TaskAccess.TaskAccess.useSync(({ config: { payloadLimit } }) => {
    const maxBodySize = ByteSize.bytes(payloadLimit.maxBytes)
    return (httpEffect) =>
      HttpServerRequest.HttpServerRequest.use((request) => {
        if (request.method === "GET" || request.method === "HEAD") return httpEffect
        return Effect.gen(function*() {
          const body = yield* Effect.result(request.text)
          const refusal = body._tag === "Failure"
            ? body.failure.reason._tag === "RequestParseError" && body.failure.reason.reason === "BodyTooLarge"
              ? bodyTooLarge(payloadLimit)
              : undefined
            : PayloadLimit.scanText(payloadLimit.maxDepth, body.success)?.reason
          if (refusal === undefined) return yield* httpEffect
          const { body: answer, status } = limitRefusal(refusal)
          return HttpServerResponse.jsonUnsafe(answer, { status })
        }).pipe(Effect.provideService(HttpIncomingMessage.MaxBodySize, maxBodySize))
      })
  })
).layer

/** A URL component with its percent escapes decoded, or `undefined` when an escape is malformed. */
const decodedOrUndefined = (component: string): string | undefined => {
  try {
    return decodeURIComponent(component)
  } catch {
    return undefined
  }
}

/**
 * Lets a kind name be written in a URL as printed: `POST
 * /api/tasks/chain/scan-addresses` reaches the submit route as
 * `/api/tasks/chain%2Fscan-addresses` would. A two-segment path ending in
 * `/interrupt` stays the interrupt route (a kind of that shape is written
 * with `%2F`).
 */
export const layerKindPaths = HttpRouter.middleware((httpEffect) =>
  HttpServerRequest.HttpServerRequest.use((request) => {
    if (request.method !== "POST" || !request.url.startsWith("/api/tasks/")) return httpEffect
    const query = request.url.indexOf("?")
    const path = query === -1 ? request.url : request.url.slice(0, query)
    const rest = path.slice("/api/tasks/".length)
    if (!rest.includes("/") || /^[^/]+\/interrupt$/.test(rest)) return httpEffect
    const kind = decodedOrUndefined(rest)
    // A malformed escape is bad input, not a defect: the URL stays as sent, and the router answers 404.
    if (kind === undefined) return httpEffect
    const url = `/api/tasks/${encodeURIComponent(kind)}${query === -1 ? "" : request.url.slice(query)}`
    return Effect.provideService(httpEffect, HttpServerRequest.HttpServerRequest, request.modify({ url }))
  }), { global: true })

/** `/openapi.json`: the document for the kinds registered now (`RestApi.openApiDocument`). */
export const layerDocument = HttpRouter.use(Effect.fnUntraced(function*(router) {
  const tasks = yield* Tasks.Tasks
  yield* router.add("GET", "/openapi.json", Effect.map(tasks.kinds, (kinds) => HttpServerResponse.jsonUnsafe(openApiDocument(kinds))))
}))

/**
 * The docs page at `/docs` (Scalar, inline: no CDN, no outside fonts) over the
 * document `/openapi.json` serves for the kinds registered when the routes are
 * built: each kind's own submit operation, its real body in the examples, and
 * bearer authentication in them (not Scalar's default, Basic).
 */
const layerDocs = Layer.unwrap(Effect.map(Tasks.Tasks.use((tasks) => tasks.kinds), (kinds) =>
  HttpApiScalar.layer(RestApi.annotate(OpenApi.Transform, () => openApiDocument(kinds)), {
    path: "/docs",
    scalar: { withDefaultFonts: false, authentication: { preferredSecurityScheme: "bearer" } }
  })))

/** The REST routes, `/openapi.json` and the docs page at `/docs` (self-contained: no CDN, no outside fonts). */
export const layer = Layer.mergeAll(
  layerBadRequest,
  layerKindPaths,
  HttpApiBuilder.layer(RestApi).pipe(
    Layer.provide([layerTasks, layerHealth, layerRequestLimits])
  ),
  layerDocument,
  layerDocs
)
