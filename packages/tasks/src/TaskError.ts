/**
 * The typed errors of the task runtime. Each is a `Schema.TaggedError`, so it
 * survives an RPC hop and maps to an HTTP status in the REST facade.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/** No task with this id exists (never did, or was deleted or purged). */
export class TaskNotFound extends Schema.TaggedError<TaskNotFound>()("TaskNotFound", {
  id: Schema.String,
  message: Schema.String
}, { httpApiStatus: 404 }) {}

/** No task kind of this name is registered with the supervisor. */
export class UnknownTaskKind extends Schema.TaggedError<UnknownTaskKind>()("UnknownTaskKind", {
  kind: Schema.String,
  message: Schema.String
}, { httpApiStatus: 404 }) {}

/** One problem found in a payload: where (a path of keys) and what. */
export const PayloadIssue = Schema.Struct({
  path: Schema.Array(Schema.String),
  message: Schema.String
})

/** The payload does not match its kind's Schema. Nothing was recorded. */
export class InvalidPayload extends Schema.TaggedError<InvalidPayload>()("InvalidPayload", {
  kind: Schema.String,
  issues: Schema.Array(PayloadIssue),
  message: Schema.String
}, { httpApiStatus: 400 }) {}

/**
 * The supervisor refused a submission: it is shutting down, or another task
 * holds the exclusive key and the caller chose `reject`.
 */
export class SubmitRejected extends Schema.TaggedError<SubmitRejected>()("SubmitRejected", {
  kind: Schema.String,
  reason: Schema.Literals(["shutting-down", "key-busy"]),
  /** The task holding the key, when `reason` is `key-busy`. */
  holder: Schema.optional(Schema.String),
  message: Schema.String
}, { httpApiStatus: 409 }) {}

/** The task store failed to read or write. */
export class TaskStoreError extends Schema.TaggedError<TaskStoreError>()("TaskStoreError", {
  operation: Schema.String,
  message: Schema.String,
  cause: Schema.optional(Schema.Defect())
}, { httpApiStatus: 503 }) {}

/**
 * A task ended without a result of its own: it ran past its `timeout`, missed
 * its `heartbeat`, or was `lost` with a process that died. This is the error a
 * handle's `await` fails with in those cases, next to the kind's typed error.
 */
export class TaskAborted extends Schema.TaggedError<TaskAborted>()("TaskAborted", {
  id: Schema.String,
  reason: Schema.Literals(["timeout", "heartbeat", "lost"]),
  message: Schema.String
}) {}

/** A stored result or error could not be decoded with its kind's Schema. */
export class ResultDecodeError extends Schema.TaggedError<ResultDecodeError>()("ResultDecodeError", {
  id: Schema.String,
  message: Schema.String
}) {}
