/**
 * The one error of the access rules (`TaskAccess`): `TaskAccessError`, whose
 * `reason` says which rule refused the request. Every reason is final for the
 * same request and credentials except `QuotaExceeded`, which passes after
 * `retryAfterMillis`, and `TooManyEventStreams` and `TooManyTaskStreams`, which
 * pass once one of the principal's streams of that sort has ended. A refusal changes nothing: it is raised before a task
 * is touched.
 *
 * Each reason carries the HTTP status it stands for (`httpApiStatus`), so a
 * REST facade can answer with the reason itself as the body.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/** The request carried no credential, or one no principal holds. Do not retry with the same credential. */
export class Unauthenticated extends Schema.Error<Unauthenticated>("@chainjobs/tasks/TaskAccessError/Unauthenticated")({
  _tag: Schema.tag("Unauthenticated"),
  /** `missing-token`: no credential at all; `unknown-token`: a credential no principal holds. */
  credential: Schema.Literals(["missing-token", "unknown-token"])
}, { httpApiStatus: 401 }) {
  override get message(): string {
    return this.credential === "missing-token"
      ? "the request carries no bearer token"
      : "the bearer token is not recognised"
  }
}

/** What each admin-only operation is, as a refusal names it. */
const adminOperations = { purge: "purge", metrics: "read the metrics", schedules: "manage the stored schedules" } as const

/** The principal may not do this: the operation is for admins, or concerns another principal's tasks. Do not retry. */
export class Forbidden extends Schema.Error<Forbidden>("@chainjobs/tasks/TaskAccessError/Forbidden")({
  _tag: Schema.tag("Forbidden"),
  principal: Schema.String,
  /** What was refused: `purge`, `metrics` and `schedules` (admins only), or `list-others` (listing another owner's tasks). */
  operation: Schema.Literals(["purge", "metrics", "schedules", "list-others"])
}, { httpApiStatus: 403 }) {
  override get message(): string {
    return this.operation === "list-others"
      ? `principal "${this.principal}" may list only its own tasks`
      : `principal "${this.principal}" may not ${adminOperations[this.operation]}: only admins may`
  }
}

/** The principal used up its submission quota; a submission succeeds again after `retryAfterMillis`. */
export class QuotaExceeded extends Schema.Error<QuotaExceeded>("@chainjobs/tasks/TaskAccessError/QuotaExceeded")({
  _tag: Schema.tag("QuotaExceeded"),
  principal: Schema.String,
  /** Submissions allowed per `windowMillis`. */
  limit: Schema.Number,
  /** The quota's window, in milliseconds. */
  windowMillis: Schema.Number,
  /** How long until one submission fits the quota again, in milliseconds. */
  retryAfterMillis: Schema.Number
}, { httpApiStatus: 429 }) {
  override get message(): string {
    return `principal "${this.principal}" may submit ${this.limit} tasks per ${this.windowMillis} ms; retry after ${this.retryAfterMillis} ms`
  }
}

/**
 * The principal holds as many all-tasks event streams open as it may (`/api/events`, RPC `WatchAll` and
 * `WatchChanges` together): another is refused until one of them ends. Its other streams are not touched.
 */
export class TooManyEventStreams extends Schema.Error<TooManyEventStreams>("@chainjobs/tasks/TaskAccessError/TooManyEventStreams")({
  _tag: Schema.tag("TooManyEventStreams"),
  principal: Schema.String,
  /** The most all-tasks streams one principal may hold open at once. */
  limit: Schema.Number,
  /** The principal's streams open when this one was refused. */
  open: Schema.Number
}, { httpApiStatus: 429 }) {
  override get message(): string {
    return `principal "${this.principal}" has ${this.open} all-tasks event streams open and may hold at most ${this.limit}; close one before opening another`
  }
}

/**
 * The principal holds as many single-task streams open as it may (RPC `Watch`, a handle's events,
 * `/api/tasks/{id}/events` together): another is refused until one of them ends. Its other streams are not touched.
 */
export class TooManyTaskStreams extends Schema.Error<TooManyTaskStreams>("@chainjobs/tasks/TaskAccessError/TooManyTaskStreams")({
  _tag: Schema.tag("TooManyTaskStreams"),
  principal: Schema.String,
  /** The most single-task streams one principal may hold open at once. */
  limit: Schema.Number,
  /** The principal's task streams open when this one was refused. */
  open: Schema.Number
}, { httpApiStatus: 429 }) {
  override get message(): string {
    return `principal "${this.principal}" has ${this.open} task streams open and may hold at most ${this.limit}; close one before opening another`
  }
}

/** The payload (or request body) is larger than accepted. Do not retry it unchanged. */
export class PayloadTooLarge extends Schema.Error<PayloadTooLarge>("@chainjobs/tasks/TaskAccessError/PayloadTooLarge")({
  _tag: Schema.tag("PayloadTooLarge"),
  /** The size found, in bytes of JSON: at least `limit + 1` when reading stopped at the limit. */
  size: Schema.Number,
  /** The largest accepted size, in bytes. */
  limit: Schema.Number
}, { httpApiStatus: 413 }) {
  override get message(): string {
    return `the payload is ${this.size} bytes; at most ${this.limit} are accepted`
  }
}

/** The payload (or request) nests arrays and objects deeper than accepted. Do not retry it unchanged. */
export class PayloadTooDeep extends Schema.Error<PayloadTooDeep>("@chainjobs/tasks/TaskAccessError/PayloadTooDeep")({
  _tag: Schema.tag("PayloadTooDeep"),
  /** The nesting depth found: at least `limit + 1` (counting stops past the limit). */
  depth: Schema.Number,
  /** The deepest accepted nesting of arrays and objects. */
  limit: Schema.Number
}, { httpApiStatus: 400 }) {
  override get message(): string {
    return `the payload nests ${this.depth} levels deep; at most ${this.limit} are accepted`
  }
}

/** Why a request was refused. */
export const TaskAccessErrorReason = Schema.Union([
  Unauthenticated,
  Forbidden,
  QuotaExceeded,
  TooManyEventStreams,
  TooManyTaskStreams,
  PayloadTooLarge,
  PayloadTooDeep
])

/** Why a request was refused. */
export type TaskAccessErrorReason = typeof TaskAccessErrorReason.Type

/** The access rules refused a request; `reason` says which rule. */
export class TaskAccessError extends Schema.TaggedError<TaskAccessError>("@chainjobs/tasks/TaskAccessError")(
  "TaskAccessError",
  { reason: TaskAccessErrorReason }
) {
  override get message(): string {
    return this.reason.message
  }
}

/** Wraps a reason in the error. */
export const refuse = (reason: TaskAccessErrorReason): TaskAccessError => new TaskAccessError({ reason })
