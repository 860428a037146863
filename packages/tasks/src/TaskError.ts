/**
 * The typed errors of the task runtime. Each is a `Schema.TaggedError` with a
 * namespaced identifier, so it survives an RPC hop and maps to an HTTP status
 * in the REST facade; its message is derived from its fields, never built
 * where it is raised.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/**
 * No task with this id exists (never did, or was deleted or purged) — or, when
 * `kindMismatch` is set, it exists but is of another kind than the one asked for.
 */
export class TaskNotFound extends Schema.TaggedError<TaskNotFound>("@chainjobs/tasks/TaskNotFound")("TaskNotFound", {
  id: Schema.String,
  /** The kind asked for and the task's actual kind, when they differ. */
  kindMismatch: Schema.optional(Schema.Struct({ expected: Schema.String, actual: Schema.String }))
}, { httpApiStatus: 404 }) {
  override get message(): string {
    return this.kindMismatch === undefined
      ? `no task with id ${this.id}`
      : `task ${this.id} is of kind "${this.kindMismatch.actual}", not "${this.kindMismatch.expected}"`
  }
}

/** No task kind of this name is registered with the supervisor. */
export class UnknownTaskKind extends Schema.TaggedError<UnknownTaskKind>("@chainjobs/tasks/UnknownTaskKind")("UnknownTaskKind", {
  kind: Schema.String
}, { httpApiStatus: 404 }) {
  override get message(): string {
    return `no task kind "${this.kind}" is registered`
  }
}

/** One problem found in a payload: where (a path of keys) and what. */
export const PayloadIssue = Schema.Struct({
  path: Schema.Array(Schema.String),
  message: Schema.String
})

/** The payload (or a submission option, such as its priority) does not match its kind. Nothing was recorded. */
export class InvalidPayload extends Schema.TaggedError<InvalidPayload>("@chainjobs/tasks/InvalidPayload")("InvalidPayload", {
  kind: Schema.String,
  issues: Schema.Array(PayloadIssue)
}, { httpApiStatus: 400 }) {
  override get message(): string {
    const described = this.issues.map((i) => (i.path.length > 0 ? `${i.path.join(".")}: ${i.message}` : i.message))
    return `invalid payload for task kind "${this.kind}": ${described.join("; ")}`
  }
}

/**
 * The supervisor refused a submission: it is `shutting-down`, or another task
 * holds the exclusive key and the caller chose `reject` (`key-busy`).
 */
export class SubmitRejected extends Schema.TaggedError<SubmitRejected>("@chainjobs/tasks/SubmitRejected")("SubmitRejected", {
  kind: Schema.String,
  reason: Schema.Literals(["shutting-down", "key-busy"]),
  /** The busy key, when `reason` is `key-busy` and the caller may know it. */
  key: Schema.optional(Schema.String),
  /** The task holding the key, when `reason` is `key-busy` and the caller may see it. */
  holder: Schema.optional(Schema.String)
}, { httpApiStatus: 409 }) {
  override get message(): string {
    if (this.reason === "shutting-down") return "the supervisor is shutting down"
    if (this.holder !== undefined) {
      return `task ${this.holder} already holds ${this.key === undefined ? "the exclusive key" : `key "${this.key}"`}`
    }
    return "another task holds this task's exclusive key"
  }
}

/** The task store failed to read or write: which operation, and what the store reported. */
export class TaskStoreError extends Schema.TaggedError<TaskStoreError>("@chainjobs/tasks/TaskStoreError")("TaskStoreError", {
  operation: Schema.String,
  /** What the store reported, e.g. the driver's message. */
  detail: Schema.String,
  cause: Schema.optional(Schema.Defect())
}, { httpApiStatus: 503 }) {
  override get message(): string {
    return `task store ${this.operation}: ${this.detail}`
  }
}

/**
 * A task ended without a result of its own: it ran past its `timeout`, missed
 * its `heartbeat`, or was `lost` with a process that died. This is the error a
 * handle's `await` fails with in those cases, next to the kind's typed error.
 */
export class TaskAborted extends Schema.TaggedError<TaskAborted>("@chainjobs/tasks/TaskAborted")("TaskAborted", {
  id: Schema.String,
  reason: Schema.Literals(["timeout", "heartbeat", "lost"]),
  /** How it came to that, as the task's record tells it (e.g. "timed out after 1m"). */
  detail: Schema.String
}) {
  override get message(): string {
    return this.detail
  }
}

/** A stored result or error could not be decoded with its kind's Schema (the Schema changed since it was stored). */
export class ResultDecodeError extends Schema.TaggedError<ResultDecodeError>("@chainjobs/tasks/ResultDecodeError")("ResultDecodeError", {
  id: Schema.String,
  /** Which part of the record. */
  part: Schema.Literals(["result", "error"]),
  /** What the Schema reported. */
  issue: Schema.String
}) {
  override get message(): string {
    return `the stored ${this.part} of task ${this.id} does not decode: ${this.issue}`
  }
}
