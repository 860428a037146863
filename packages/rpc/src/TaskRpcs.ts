/**
 * The RPC group of the task supervisor: what a remote client can ask of a
 * chainjobs server. Task payloads, results and errors cross the wire encoded
 * (as the kinds' Schemas encode them); `TaskInfo` records carry them that way,
 * and the typed client decodes them with the kind's Schemas.
 *
 * The streams' items (`Watch`, `WatchAll`, `WatchChanges`) are encoded once
 * per record for every watcher (`internal/preEncoded`): the same bytes as
 * their Schemas', made once.
 *
 * Every call passes two middlewares: `Authentication` (a bearer token, see
 * `Auth`) and `RequestValidation` (a request that does not match its Schema
 * fails with `MalformedRequest` naming the problem, and changes nothing).
 *
 * @since 0.1.0
 */
import { Schema, Struct } from "effect"
import { Rpc, RpcGroup, RpcMiddleware } from "effect/rpc"
import { TaskAccess, TaskAccessError, TaskError, TaskEvent, TaskFeed, TaskInfo, TaskQuery, TaskStats, SubmitWebhooks } from "@chainjobs/tasks"
import { Authentication } from "./Auth.ts"
import { lenient } from "./internal/lenient.ts"
import * as PreEncoded from "./internal/preEncoded.ts"
import { MalformedRequest, TooManyStreams } from "./TaskRpcError.ts"

/** The RPC middleware that refuses a request whose payload does not match its Schema. */
export class RequestValidation extends RpcMiddleware.Service<RequestValidation>()(
  "@chainjobs/rpc/TaskRpcs/RequestValidation",
  { error: MalformedRequest }
) {}

/** The answer to `Submit`: the id of the task (the new one, or the one joined with `onConflict: "join"`). */
export const Submitted = Schema.Struct({ id: Schema.String })
/** @see Submitted */
export type Submitted = typeof Submitted.Type

/**
 * The fields of a final record that say how the task ended: what `Await`
 * returns. `result` and `error` are encoded with the kind's Schemas.
 */
export const TaskOutcome = TaskInfo.TaskInfo.mapFields(Struct.pick(["id", "status", "reason", "result", "error", "errorMessage"]))
/** @see TaskOutcome */
export type TaskOutcome = typeof TaskOutcome.Type

const ById = lenient(Schema.Struct({ id: Schema.String }))

/** The errors of reading or controlling one task (another principal's task is not found, like a missing one). */
export const TaskReadError = Schema.Union([TaskError.TaskNotFound, TaskError.TaskStoreError])

/**
 * The errors of `Watch`: a read's, the principal holding as many task streams open as it may (`TaskAccessError`'s
 * `TooManyTaskStreams`), or the connection as many streaming calls.
 */
export const WatchError = Schema.Union([TaskError.TaskNotFound, TaskError.TaskStoreError, TaskAccessError.TaskAccessError, TooManyStreams])

/**
 * The errors of the all-tasks streams (`WatchAll`, `WatchChanges`): a reader dropped for falling behind, the
 * principal holding as many of them open as it may (`TaskAccessError`'s `TooManyEventStreams`), or the connection
 * as many streaming calls.
 */
export const WatchAllError = Schema.Union([TaskFeed.SubscriberDropped, TaskAccessError.TaskAccessError, TooManyStreams])

/** The errors of calls the access rules may refuse outright (listing others' tasks, purging). */
export const TaskAdminError = Schema.Union([TaskError.TaskStoreError, TaskAccessError.TaskAccessError])

/** The errors of `Submit`. */
export const SubmitError = Schema.Union([
  TaskError.InvalidPayload,
  TaskError.SubmitRejected,
  TaskError.UnknownTaskKind,
  TaskError.TaskStoreError,
  TaskError.TaskNotFound,
  TaskAccessError.TaskAccessError,
  SubmitWebhooks.WebhookRefused
])

/** The errors of `Run`: those of `Submit` (a task deleted before it finished is `TaskNotFound`). */
export const RunError = SubmitError

/** A change as `WatchChanges` carries it: the record (or its deletion) and the event id to resume after. */
export const WatchedChange = Schema.TaggedStruct("Change", {
  eventId: Schema.String,
  event: Schema.Union([TaskInfo.TaskInfo, TaskEvent.Deleted])
})
/** @see WatchedChange */
export type WatchedChange = typeof WatchedChange.Type

/**
 * Starts a `WatchChanges` stream resumed after an id the server could not
 * honour (`expired`: no longer held; `unknown`: not one it sent): changes
 * were missed, reload what matters.
 */
export const Reset = Schema.TaggedStruct("Reset", {
  reason: Schema.Literals(["expired", "unknown"]),
  after: Schema.String
})
/** @see Reset */
export type Reset = typeof Reset.Type

/** An item of `WatchChanges`. */
export const WatchChangesItem = Schema.Union([WatchedChange, Reset])
/** @see WatchChangesItem */
export type WatchChangesItem = typeof WatchChangesItem.Type

/** The JSON text of a record the feed carries (shared with its SSE frames), or `undefined` for a deletion (encoded as usual). */
const watchedText = (event: TaskInfo.TaskInfo | TaskEvent.Deleted): string | undefined =>
  "_tag" in event ? undefined : TaskInfo.jsonText(event)

/**
 * A change's JSON text around its record's shared text (`WatchedChange`'s encoding, field for field), or `undefined`.
 * Made once per change, not once per subscriber (ten in the full load mix): the feed hands every `WatchChanges`
 * subscriber the same item (`watchChangesItem`), on which `PreEncoded.schema` keeps it (`keepText`).
 */
const changeText = (item: WatchChangesItem): string | undefined => {
  if (item._tag !== "Change") return undefined
  const record = watchedText(item.event)
  return record === undefined ? undefined : `{"_tag":"Change","eventId":${JSON.stringify(item.eventId)},"event":${record}}`
}

/** The RPC group exposing the task supervisor. */
export class TaskRpcs extends RpcGroup.make(
  /** Submits a task owned by the caller; returns its id once it is recorded. */
  Rpc.make("Submit", { payload: lenient(TaskAccess.SubmitRequest), success: Submitted, error: SubmitError }),
  /**
   * Submits a task and waits until it has finished, in one call (synchronous
   * mode); returns how it ended. Stopping the call leaves the task running.
   */
  Rpc.make("Run", { payload: lenient(TaskAccess.SubmitRequest), success: TaskOutcome, error: RunError }),
  /** A task's current record. */
  Rpc.make("Get", { payload: ById, success: TaskInfo.TaskInfo, error: TaskReadError }),
  /** Waits until a task has finished and returns how it ended. Stopping the call leaves the task running. */
  Rpc.make("Await", { payload: ById, success: TaskOutcome, error: TaskReadError }),
  /** A task's record at once, then at every change; ends after a terminal status. */
  Rpc.make("Watch", {
    payload: ById,
    success: PreEncoded.schema(TaskInfo.TaskInfo, TaskInfo.jsonText),
    error: WatchError,
    stream: true
  }),
  /** Interrupts a task on the server (its finalizers run there) and waits until it has stopped. */
  Rpc.make("Interrupt", { payload: ById, error: TaskReadError }),
  /** Lists records, newest first; a principal that is not an admin sees only its own. */
  Rpc.make("List", {
    payload: lenient(TaskQuery.TaskQuery),
    success: TaskQuery.TaskPage,
    error: TaskAdminError
  }),
  /** Deletes a task's record, interrupting it first if it has not finished. */
  Rpc.make("Delete", { payload: ById, error: TaskReadError }),
  /** Deletes finished records by age and status (admins only); returns how many. */
  Rpc.make("Purge", {
    payload: lenient(TaskQuery.PurgeFilter),
    success: Schema.Number,
    error: TaskAdminError
  }),
  /** What the supervisor holds right now. */
  Rpc.make("Stats", { success: TaskStats.TaskStats }),
  /**
   * Every change of every task the caller may see, from now on (for dashboards), as
   * its record, and a `Deleted` event (with the record as it stood) for each deleted.
   * A subscriber that falls too far behind is dropped with `SubscriberDropped`.
   */
  Rpc.make("WatchAll", {
    success: PreEncoded.schema(Schema.Union([TaskInfo.TaskInfo, TaskEvent.Deleted]), watchedText),
    error: WatchAllError,
    stream: true
  }),
  /**
   * `WatchAll` with the event id of every change, resumable: after `after`
   * (an id it sent, or `SubscriberDropped`'s `lastEventId`) it replays what
   * followed, or starts with a `Reset` when the server no longer holds it.
   */
  Rpc.make("WatchChanges", {
    payload: lenient(Schema.Struct({ after: Schema.optional(Schema.String) })),
    success: PreEncoded.schema(WatchChangesItem, changeText, { keepText: true }),
    error: WatchAllError,
    stream: true
  })
).middleware(RequestValidation).middleware(Authentication) {}
