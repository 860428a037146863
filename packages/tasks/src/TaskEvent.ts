/**
 * What happens to tasks, as the supervisor publishes it: one tagged union of
 * the moments a consumer (metrics, a log, a dashboard) cares about, each
 * carrying the task's record as it stands after the change. A consumer
 * matches on `_tag` instead of guessing the moment from a record's fields.
 *
 * | event | when | record |
 * | --- | --- | --- |
 * | `Submitted` | a submission was recorded | `pending`, attempt 1 |
 * | `Started` | an attempt began (the first, a retry, or a resume) | `running` |
 * | `Progressed` | the handler reported progress | `running`, new `progress` / `message` / `detail` |
 * | `Retrying` | a failed attempt is retried: the retry delay has passed, the next attempt begins | `running`, the failed attempt's number |
 * | `Finished` | the task reached `completed`, `failed` or `interrupted` | terminal |
 * | `Deleted` | the task's record was deleted (after it was interrupted, if it had not finished) | the record as it stood when deleted |
 *
 * A task recovered at start or stored back for the next process at shutdown
 * publishes no event of its own; its next `Started` (or `Finished`) tells.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { TaskInfo } from "./TaskInfo.ts"

/** A submission was recorded: the task waits for a worker. */
export const Submitted = Schema.TaggedStruct("Submitted", { info: TaskInfo })
/** @see Submitted */
export type Submitted = typeof Submitted.Type

/** An attempt began: the first, a retry, or a resume after a restart. */
export const Started = Schema.TaggedStruct("Started", { info: TaskInfo })
/** @see Started */
export type Started = typeof Started.Type

/** The handler reported progress (a percent, a message, a detail). */
export const Progressed = Schema.TaggedStruct("Progressed", { info: TaskInfo })
/** @see Progressed */
export type Progressed = typeof Progressed.Type

/** An attempt failed with a retryable error and, its retry delay over, the next begins (its `Started` follows). */
export const Retrying = Schema.TaggedStruct("Retrying", { info: TaskInfo })
/** @see Retrying */
export type Retrying = typeof Retrying.Type

/** The task reached a terminal status: `completed`, `failed` or `interrupted`. */
export const Finished = Schema.TaggedStruct("Finished", { info: TaskInfo })
/** @see Finished */
export type Finished = typeof Finished.Type

/** The task's record was deleted; `info` is the record as it stood, so a follower can tell whose task it was. */
export const Deleted = Schema.TaggedStruct("Deleted", { info: TaskInfo })
/** @see Deleted */
export type Deleted = typeof Deleted.Type

/** Any event of a task. */
export const TaskEvent = Schema.Union([Submitted, Started, Progressed, Retrying, Finished, Deleted])
/** @see TaskEvent */
export type TaskEvent = typeof TaskEvent.Type

/** The tag of an event. */
export type Tag = TaskEvent["_tag"]
