/**
 * The refusal of a submission by its shard's owner before it admitted
 * anything: the shard did not open there in time (its unfinished tasks not
 * adopted yet) or it left that runner meanwhile. The task entity answers
 * `Submit` with it over the entity protocol; the runner the submission was
 * made on knows from its tag alone that nothing was recorded, and sends the
 * same submission again (`ClusterTasks.notAdmittedRetry`) instead of passing
 * the store's unavailability to its caller.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { TaskError } from "@chainjobs/tasks"

/** The owner of task `id`'s shard refused its submission before admitting it: nothing was recorded, submit again. */
export class NotAdmitted extends Schema.TaggedError<NotAdmitted>("@chainjobs/cluster/NotAdmitted")("NotAdmitted", {
  /** The task submitted. */
  id: Schema.String,
  /** The shard it belongs to, as `group:number`. */
  shard: Schema.String,
  /** How long the owner waited for the shard to open before refusing, in milliseconds. */
  waitedMillis: Schema.Number
}, { httpApiStatus: 503 }) {
  override get message(): string {
    return `task ${this.id} was not admitted: shard ${this.shard} did not open on its owner within ${this.waitedMillis} ms ` +
      `(its unfinished tasks not adopted yet, or it moved); nothing was recorded, submit again`
  }
}

/**
 * The owner's handler of task `id`'s `Submit` was interrupted before it answered (its entity ended: the shard moving
 * or lost) and the task has no record: nothing was recorded, submit again. Not sent over the wire: the runner the
 * submission was made on finds it so (an interrupted handler has finished, its insert with it).
 */
export class SubmitInterrupted extends Schema.TaggedError<SubmitInterrupted>("@chainjobs/cluster/SubmitInterrupted")("SubmitInterrupted", {
  /** The task submitted. */
  id: Schema.String
}, { httpApiStatus: 503 }) {
  override get message(): string {
    return `the submission of task ${this.id} was interrupted on its shard's owner before it was recorded ` +
      `(its shard moving); nothing was recorded, submit again`
  }
}

/**
 * Whether a `Submit`'s error is the owner's refusal before admitting: a `NotAdmitted` (or an interrupted handler that
 * recorded nothing, `SubmitInterrupted`), or the same refusal as a runner
 * of the previous version sends it during a rolling upgrade — a `TaskStoreError` named `submit` (its store failures
 * name the statement instead: `insert`, …).
 */
export const isRefusal = (error: { readonly _tag: string; readonly operation?: string }): boolean =>
  error._tag === "NotAdmitted" || error._tag === "SubmitInterrupted" ||
  (error._tag === "TaskStoreError" && error.operation === "submit")

/**
 * The refusal as its caller is told once the submission's tries ran out: the store-unavailable error that callers of
 * `Tasks.submit` handle (HTTP 503), named `submit`, with the refusal as its cause.
 */
export const toStoreError = (refusal: NotAdmitted | SubmitInterrupted): TaskError.TaskStoreError =>
  new TaskError.TaskStoreError({ operation: "submit", detail: refusal.message, cause: refusal })
