/**
 * The REST facade, as a schema-first `HttpApi`: the contract the server
 * implements (`RestServer.ts`), the typed client the CLI uses, and the
 * OpenAPI document the docs page renders. Submitting answers `202` with the
 * URLs to follow the task, listing takes `status`, `kind`, `page` and
 * `limit`, and `?wait=true` runs a task synchronously.
 *
 * Refusals of the access rules (`TaskAccess`) answer with their reason as
 * the body: 401 `Unauthenticated`, 403 `Forbidden`, 413 `PayloadTooLarge`,
 * 400 `PayloadTooDeep`, 429 `QuotaExceeded` (with a `Retry-After` header), 429
 * `TooManyEventStreams` (`/api/events` past the principal's open streams), 429
 * `TooManyTaskStreams` (`/api/tasks/{id}/events` past the principal's open task streams).
 *
 * Every endpoint under `/api` goes through `Authorization`; `/healthz` and
 * `/readyz` do not.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { HttpApi, HttpApiEndpoint, HttpApiGroup, HttpApiMiddleware, HttpApiSchema, HttpApiSecurity, OpenApi } from "effect/http-api"
import { Principal, SubmitWebhooks, type Task, TaskAccessError, TaskError, TaskInfo, TaskQuery, TaskStats } from "@chainjobs/tasks"
import { Delivery } from "./WebhookStore.ts"
import { maxUrlLength } from "./WebhookTarget.ts"

/**
 * Bearer-token authentication. A token is read from the `Authorization:
 * Bearer` header, or from the `access_token` query parameter for clients that
 * cannot set headers (the browser's `EventSource`). It provides the same
 * principal the RPC layer does.
 */
export class Authorization extends HttpApiMiddleware.Service<Authorization, {
  provides: Principal.CurrentPrincipal
}>()("@chainjobs/server/Authorization", {
  security: {
    bearer: HttpApiSecurity.bearer,
    query: HttpApiSecurity.apiKey({ key: "access_token", in: "query" })
  },
  error: TaskAccessError.Unauthenticated
}) {}

/** A finished task did not complete: it failed or was interrupted. The body says why. */
export class TaskFailed extends Schema.TaggedError<TaskFailed>()("TaskFailed", {
  taskId: Schema.String,
  status: Schema.Literals(["failed", "interrupted"]),
  /** Set when `status` is `failed`: `error`, `defect`, `timeout`, `heartbeat` or `lost`. */
  reason: Schema.NullOr(TaskInfo.FailureReason),
  /** The kind's typed error, encoded, when `reason` is `error`. */
  error: Schema.Unknown,
  message: Schema.String
}, { httpApiStatus: 409 }) {}

/** The answer to a submission: where to follow the task. */
export const SubmitAccepted = Schema.Struct({
  taskId: Schema.String,
  kind: Schema.String,
  status: TaskInfo.TaskStatus,
  statusUrl: Schema.String,
  resultUrl: Schema.String,
  eventsUrl: Schema.String
})
/** @see SubmitAccepted */
export type SubmitAccepted = typeof SubmitAccepted.Type

const IsoTime = Schema.String.annotate({ description: "ISO 8601 (UTC), the same instant as the epoch milliseconds beside it" })

/**
 * A task's record as REST answers it: the runtime's record with its times
 * also in ISO 8601 (`createdAtIso` beside `createdAt`, ...), for people
 * reading it.
 */
export const TaskRecord = TaskInfo.TaskInfo.mapFields((fields) => ({
  ...fields,
  createdAtIso: IsoTime,
  startedAtIso: Schema.NullOr(IsoTime),
  finishedAtIso: Schema.NullOr(IsoTime)
}))
/** @see TaskRecord */
export type TaskRecord = typeof TaskRecord.Type

/** The fields `toRecord` adds to a record: its times in ISO 8601, in `TaskRecord`'s order. */
const isoTimes = (info: TaskInfo.TaskInfo) => ({
  createdAtIso: new Date(info.createdAt).toISOString(),
  startedAtIso: info.startedAt === null ? null : new Date(info.startedAt).toISOString(),
  finishedAtIso: info.finishedAt === null ? null : new Date(info.finishedAt).toISOString()
})

/** A record with its times in ISO 8601 beside the epoch milliseconds. */
export const toRecord = (info: TaskInfo.TaskInfo): TaskRecord => ({ ...info, ...isoTimes(info) })

const encodeRecord = Schema.encodeSync(Schema.toCodecJson(TaskRecord))

/**
 * A record as REST answers it (`TaskRecord`'s JSON encoding of `toRecord(info)`), as text: the record's own text
 * (`TaskInfo.jsonText`: `TaskInfo`'s fields in order, made once per record and shared with the feed's event frames
 * and the RPC watchers) with the ISO times after it, where `TaskRecord`'s encoding writes them — not the record
 * encoded through the Schema again for each status read. A record without that text goes through the Schema (which
 * throws for a record it refuses, as before).
 */
export const recordText = (info: TaskInfo.TaskInfo): string => {
  const text = TaskInfo.jsonText(info)
  if (text === undefined) return JSON.stringify(encodeRecord(toRecord(info)))
  return `${text.slice(0, -1)},${JSON.stringify(isoTimes(info)).slice(1)}`
}

/** The result of a completed task. */
export const TaskResult = Schema.Struct({
  taskId: Schema.String,
  status: Schema.Literal("completed"),
  /** The success value, encoded through the kind's Schema. */
  result: Schema.Unknown,
  completedAt: Schema.Number
})

/** The answer to a result request while the task has not finished (status 202). */
export const TaskRunning = Schema.Struct({
  taskId: Schema.String,
  status: Schema.Literals(["pending", "running"]),
  progress: Schema.Number,
  message: Schema.NullOr(Schema.String)
})

/** One page of a listing. `page` counts from 1; `nextCursor` fetches the next page without counting. */
export const TaskList = Schema.Struct({
  items: Schema.Array(TaskRecord),
  page: Schema.Number,
  limit: Schema.Number,
  nextCursor: Schema.NullOr(Schema.String)
})
/** @see TaskList */
export type TaskList = typeof TaskList.Type

/** A registered task kind, the JSON Schema of its payload, and a payload ready to submit (if the service has one). */
export const KindInfo = Schema.Struct({
  name: Schema.String,
  payloadSchema: Schema.Unknown,
  example: Schema.optionalKey(Schema.Unknown)
})

/** Which finished tasks to purge. */
export const PurgeRequest = Schema.Struct({
  /** Only tasks finished at least this long ago, in milliseconds. Default: 0 (all finished tasks). */
  olderThanMillis: Schema.optionalKey(Schema.Number.check(Schema.isGreaterThanOrEqualTo(0))),
  /** Only these terminal statuses. Default: all three. */
  status: Schema.optionalKey(Schema.Array(TaskInfo.TaskStatus))
})

/**
 * A server-sent event stream, written as frames the task feed encodes once
 * for every subscriber (so the body is declared as bytes; the events are
 * described on each endpoint).
 */
const EventStream = HttpApiSchema.StreamUint8Array({ contentType: "text/event-stream" })

const PositiveIntFromString = Schema.NumberFromString.check(Schema.isInt(), Schema.isGreaterThanOrEqualTo(1))
const TaskId = { id: Schema.String }

/** The errors of reading or controlling one task: another principal's task is not found, like a missing one. */
const storeErrors = [TaskError.TaskNotFound, TaskError.TaskStoreError] as const

/** The errors a submission answers with, each with its status (the lean submit path in `HotSubmit` answers them too). */
export const submitErrors = [
  TaskError.UnknownTaskKind,
  TaskError.InvalidPayload,
  TaskError.SubmitRejected,
  SubmitWebhooks.WebhookRefused,
  TaskAccessError.QuotaExceeded,
  TaskAccessError.PayloadTooLarge,
  TaskAccessError.PayloadTooDeep,
  ...storeErrors
] as const

/** The task endpoints, under `/api`. */
export class TasksGroup extends HttpApiGroup.make("tasks")
  .add(
    HttpApiEndpoint.post("submit", "/tasks/:kind", {
      params: { kind: Schema.String },
      query: {
        /** `true` runs the task synchronously and answers with its final record. */
        wait: Schema.optional(Schema.Literals(["true", "false"])),
        priority: Schema.optional(Schema.NumberFromString.check(Schema.isInt())),
        /** Overrides the kind's time limit of one attempt, in milliseconds. */
        timeoutMillis: Schema.optional(PositiveIntFromString),
        /** Overrides the kind's heartbeat timeout, in milliseconds. */
        heartbeatTimeoutMillis: Schema.optional(PositiveIntFromString),
        /** A URL the task's final record is POSTed to, signed, once it finishes (see `Webhooks`). */
        webhook: Schema.optional(Schema.String.annotate({
          description: `An http(s) URL (at most ${maxUrlLength} characters) the task's final record is POSTed to, ` +
            "signed with `Chainjobs-Signature`, once it finishes; retried with backoff until acknowledged with a 2xx"
        })),
        /** At most this many retries of a failed attempt (0: none), over the kind's. */
        retries: Schema.optional(Schema.NumberFromString.check(Schema.isInt(), Schema.isBetween({ minimum: 0, maximum: 1000 })))
      },
      payload: Schema.Unknown,
      success: [SubmitAccepted.pipe(HttpApiSchema.status(202)), TaskRecord],
      error: submitErrors
    }).annotate(OpenApi.Description, "Submits a task of a registered kind with a JSON payload.").annotate(OpenApi.Summary, "Submit a task"),
    HttpApiEndpoint.get("list", "/tasks", {
      query: {
        status: Schema.optional(TaskInfo.TaskStatus),
        kind: Schema.optional(Schema.String),
        page: Schema.optional(PositiveIntFromString),
        limit: Schema.optional(PositiveIntFromString.check(Schema.isBetween({ minimum: 1, maximum: TaskQuery.maxLimit }))),
        cursor: Schema.optional(Schema.String)
      },
      success: TaskList,
      error: TaskError.TaskStoreError
    }).annotate(OpenApi.Description, "Lists tasks, newest first: the caller's own, or every task for an admin.").annotate(OpenApi.Summary, "List tasks"),
    HttpApiEndpoint.get("counts", "/counts", {
      query: { kind: Schema.optional(Schema.String) },
      success: TaskQuery.TaskCounts,
      error: TaskError.TaskStoreError
    }).annotate(
      OpenApi.Description,
      "How many tasks there are by status, of one kind if given: the caller's own, or every task for an admin."
    ).annotate(OpenApi.Summary, "Count stored tasks by status"),
    HttpApiEndpoint.get("get", "/tasks/:id", { params: TaskId, success: TaskRecord, error: storeErrors })
      .annotate(OpenApi.Summary, "Read a task's record"),
    HttpApiEndpoint.get("result", "/tasks/:id/result", {
      params: TaskId,
      success: [TaskResult, TaskRunning.pipe(HttpApiSchema.status(202))],
      error: [TaskFailed, ...storeErrors]
    }).annotate(OpenApi.Description, "The task's result: 200 when completed, 202 while unfinished, 409 when failed or interrupted.").annotate(OpenApi.Summary, "Read a task's result"),
    HttpApiEndpoint.get("events", "/tasks/:id/events", {
      params: TaskId,
      headers: {
        /** The `id` of the last event received (sent by `EventSource` on reconnecting): `end` once the stream has ended. */
        "last-event-id": Schema.optional(Schema.String)
      },
      success: [EventStream, HttpApiSchema.NoContent],
      error: [...storeErrors, TaskAccessError.TooManyTaskStreams]
    }).annotate(
      OpenApi.Description,
      "Server-sent events: the task's record (`message`, JSON `TaskInfo`, with an `id`) now and at changes, until it " +
        "finishes; then an event with the id `end` and no data, and the stream ends. Reconnecting with `Last-Event-ID: " +
        "end` answers 204, which stops an `EventSource`; with another id it sends the current record (records are whole " +
        "states, so nothing is lost). A slow reader gets the latest records, not every intermediate one. Idle streams " +
        "get a `: keep-alive` comment. A principal holding `--max-task-streams` task streams open (these and RPC " +
        "`Watch` together) is refused another with 429 `TooManyTaskStreams` (`{principal, limit, open}`) until one ends."
    ).annotate(OpenApi.Summary, "Follow a task's changes"),
    HttpApiEndpoint.get("webhooks", "/tasks/:id/webhooks", { params: TaskId, success: Schema.Array(Delivery), error: storeErrors })
      .annotate(
        OpenApi.Description,
        "The task's webhooks: each one's URL, delivery state (`waiting`, `due`, `delivered`, `failed`) and attempts " +
          "(when, the receiver's HTTP status or the error)."
      ).annotate(OpenApi.Summary, "Read a task's webhook deliveries"),
    HttpApiEndpoint.post("interrupt", "/tasks/:id/interrupt", { params: TaskId, success: TaskRecord, error: storeErrors })
      .annotate(OpenApi.Description, "Interrupts the task, waits until it has stopped, and returns its final record.").annotate(OpenApi.Summary, "Interrupt a task"),
    HttpApiEndpoint.delete("delete", "/tasks/:id", { params: TaskId, success: HttpApiSchema.NoContent, error: storeErrors })
      .annotate(OpenApi.Description, "Deletes the task's record, interrupting it first if it has not finished.").annotate(OpenApi.Summary, "Delete a task"),
    HttpApiEndpoint.post("purge", "/purge", {
      payload: PurgeRequest,
      success: Schema.Struct({ purged: Schema.Number }),
      error: [TaskError.TaskStoreError, TaskAccessError.Forbidden]
    }).annotate(OpenApi.Description, "Deletes finished tasks (admins only).").annotate(OpenApi.Summary, "Purge finished tasks"),
    HttpApiEndpoint.get("allEvents", "/events", {
      headers: {
        /** The `id` of the last event received: the stream resumes after it (sent by `EventSource` on reconnecting). */
        "last-event-id": Schema.optional(Schema.String)
      },
      success: EventStream,
      error: TaskAccessError.TooManyEventStreams
    }).annotate(
      OpenApi.Description,
      "Server-sent events: `ready` (the stats), then every change of every task the caller may see (`message`, JSON " +
        "`TaskInfo`, with an `id`), and `deleted` (the record as it stood) when a task's record is deleted. With `Last-Event-ID` the stream replays the changes after that id, or sends `reset` " +
        "when it no longer can (reload the list). A reader that falls too far behind gets `dropped` " +
        "(`{reason, limit, lastEventId}`) and the stream ends: reconnect with `Last-Event-ID`. A principal holding " +
        "`--max-event-streams` all-tasks streams open (this and RPC `WatchAll`/`WatchChanges` together) is refused " +
        "another with 429 `TooManyEventStreams` (`{principal, limit, open}`) until one ends."
    ).annotate(OpenApi.Summary, "Follow every task's changes"),
    HttpApiEndpoint.get("kinds", "/kinds", { success: Schema.Array(KindInfo) })
      .annotate(OpenApi.Description, "The registered task kinds, their payload schemas, and a payload ready to submit for each.").annotate(OpenApi.Summary, "List task kinds"),
    HttpApiEndpoint.get("stats", "/stats", { success: TaskStats.TaskStats })
      .annotate(OpenApi.Summary, "Count tasks by status")
  )
  .middleware(Authorization)
  .prefix("/api")
  .annotateMerge(OpenApi.annotations({ title: "Tasks", description: "Submit, follow, interrupt and list tasks." }))
{}

/** Liveness and readiness probes. */
export class HealthGroup extends HttpApiGroup.make("health", { topLevel: true })
  .add(
    HttpApiEndpoint.get("healthz", "/healthz", { success: Schema.Struct({ status: Schema.Literal("ok") }) })
      .annotate(OpenApi.Summary, "Liveness probe"),
    HttpApiEndpoint.get("readyz", "/readyz", {
      success: Schema.Struct({ status: Schema.Literal("ready") }),
      error: Schema.Struct({ status: Schema.Literal("shutting-down") }).pipe(HttpApiSchema.status(503))
    }).annotate(OpenApi.Summary, "Readiness probe")
  )
  .annotateMerge(OpenApi.annotations({ title: "Health", description: "Liveness and readiness probes, without authentication." }))
{}

/** The whole REST API. */
export class RestApi extends HttpApi.make("chainjobs")
  .add(TasksGroup)
  .add(HealthGroup)
  .annotateMerge(OpenApi.annotations({
    title: "chainjobs",
    description: "Long-running blockchain work as supervised tasks: submit, follow, interrupt."
  }))
{}

/** The body of a 400 for a request the API could not decode: a bad query parameter or malformed JSON. */
const badRequestSchema = {
  type: "object",
  required: ["_tag", "part", "message"],
  properties: {
    _tag: { type: "string", enum: ["BadRequest"] },
    part: { type: "string", enum: ["Params", "Query", "Headers", "Payload"] },
    message: { type: "string" }
  }
}

const nonFinite = ["Infinity", "-Infinity", "NaN"]

/** Whether a JSON Schema is the string form of a non-finite number (never sent: every number served is finite). */
const isNonFiniteBranch = (schema: any): boolean =>
  schema?.type === "string" && Array.isArray(schema.enum) && schema.enum.every((value: unknown) => nonFinite.includes(value as string))

/** A JSON Schema with the non-finite branches of its numbers removed, so numbers read as plain numbers. */
const finiteNumbers = (node: any): any => {
  if (Array.isArray(node)) return node.map(finiteNumbers)
  if (node === null || typeof node !== "object") return node
  const out: Record<string, any> = {}
  for (const [key, value] of Object.entries(node)) out[key] = finiteNumbers(value)
  if (Array.isArray(out.anyOf)) {
    const branches = out.anyOf.filter((branch: any) => !isNonFiniteBranch(branch))
    if (branches.length === 1) {
      const { anyOf: _, ...rest } = out
      return { ...rest, ...branches[0] }
    }
    out.anyOf = branches
  }
  return out
}

/** The query parameters that are integers on the wire (the API decodes them from strings). */
const integerParameters: Record<string, Record<string, number>> = {
  page: { minimum: 1 },
  limit: { minimum: 1, maximum: TaskQuery.maxLimit },
  priority: {},
  timeoutMillis: { minimum: 1 },
  heartbeatTimeoutMillis: { minimum: 1 },
  retries: { minimum: 0, maximum: 1000 }
}

/** A kind's name as a component-name prefix (`chain/scan-addresses` → `chain_scan-addresses`). */
const componentPrefix = (kind: string) => kind.replace(/[^A-Za-z0-9._-]/g, "_")

/** A JSON Schema document of a kind's Schema, its definitions moved into `components` under the kind's prefix. */
const embed = (
  schema: Parameters<typeof Schema.toJsonSchemaDocument>[0],
  prefix: string,
  components: Record<string, unknown>
): unknown => {
  const document = Schema.toJsonSchemaDocument(schema)
  const moved = (value: unknown) =>
    finiteNumbers(JSON.parse(JSON.stringify(value).replaceAll(`"#/$defs/`, `"#/components/schemas/${prefix}.`)))
  for (const [name, definition] of Object.entries(document.definitions)) components[`${prefix}.${name}`] = moved(definition)
  return moved(document.schema)
}

/**
 * The OpenAPI document of the REST API for the registered kinds: one submit
 * operation per kind at `POST /api/tasks/<kind>` (the kind as printed, slash
 * included) with the kind's payload as its body and its success type as the
 * record's `result`; query integers as integers; numbers as numbers; the 400
 * of an undecodable request and the 415 of a body that is not JSON.
 */
export const openApiDocument = (kinds: ReadonlyArray<Task.Any>): Record<string, any> => {
  const spec = finiteNumbers(OpenApi.fromApi(RestApi))
  spec.servers = [{ url: "/", description: "The server that serves this document" }]
  // `bearer` as the HTTP authentication scheme registry spells it: tools that match it exactly (Scalar's
  // examples) would otherwise fall back to Basic.
  for (const scheme of Object.values<any>(spec.components.securitySchemes ?? {})) {
    if (scheme.type === "http" && typeof scheme.scheme === "string") scheme.scheme = scheme.scheme.toLowerCase()
  }
  const schemas: Record<string, unknown> = (spec.components.schemas ??= {})
  schemas.BadRequest = badRequestSchema
  const generic = spec.paths["/api/tasks/{kind}"].post
  delete spec.paths["/api/tasks/{kind}"]
  for (const kind of kinds) {
    const prefix = componentPrefix(kind.name)
    const record = generic.responses["200"].content["application/json"].schema
    spec.paths[`/api/tasks/${kind.name}`] = {
      post: {
        ...generic,
        operationId: `tasks.submit.${kind.name}`,
        summary: `Submit a ${kind.name} task`,
        parameters: generic.parameters.filter((parameter: any) => parameter.in !== "path"),
        requestBody: { required: true, content: { "application/json": { schema: embed(kind.payload, prefix, schemas) } } },
        responses: {
          ...generic.responses,
          "200": {
            description: "With `?wait=true`: the task's final record, `result` typed by its kind",
            content: {
              "application/json": {
                schema: {
                  allOf: [record, {
                    type: "object",
                    properties: { result: { anyOf: [embed(kind.success, prefix, schemas), { type: "null" }] } }
                  }]
                }
              }
            }
          },
          "202": { ...generic.responses["202"], description: "Accepted: the task's id and the URLs to follow it" }
        }
      }
    }
  }
  for (const item of Object.values<any>(spec.paths)) {
    for (const operation of Object.values<any>(item)) {
      for (const parameter of operation.parameters ?? []) {
        const bounds = integerParameters[parameter.name]
        if (parameter.in === "query" && bounds !== undefined) parameter.schema = { type: "integer", ...bounds }
      }
      const decodes = operation.requestBody !== undefined || (operation.parameters ?? []).length > 0
      if (decodes) {
        const existing = operation.responses["400"]?.content?.["application/json"]?.schema
        operation.responses["400"] = {
          description: "Bad request: the request could not be decoded, or its payload was refused",
          content: {
            "application/json": {
              schema: existing === undefined ? { $ref: "#/components/schemas/BadRequest" } : {
                anyOf: [existing, { $ref: "#/components/schemas/BadRequest" }]
              }
            }
          }
        }
      }
      if (operation.requestBody !== undefined) {
        operation.responses["415"] = {
          description: "Unsupported media type: the body must be `application/json`",
          content: { "text/plain": { schema: { type: "string" } } }
        }
      }
    }
  }
  return spec
}
