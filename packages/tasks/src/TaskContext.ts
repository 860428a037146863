/**
 * What a running handler sees of its own task: its id and attempt, and the
 * means to report progress, prove it is alive, and save a checkpoint that a
 * resumed run starts from. The supervisor passes every handler its context
 * typed by the handler's kind (`Typed`: checkpoints and progress details in
 * the kind's own types, encoded with its Schemas) and also provides the
 * untyped `TaskContext` service, for code deeper in the call that only needs
 * the id, progress or a heartbeat.
 *
 * @since 0.1.0
 */
import { Context, type Effect, type Option } from "effect"

/** What every view of a running task has: who it is, and the heartbeat. */
export interface Common {
  /** The task's id. */
  readonly taskId: string
  /** 1 for the first run; grows with retries and with resumes after a restart. */
  readonly attempt: number
  /** Tells the watchdog the task is alive. */
  readonly heartbeat: Effect.Effect<void>
}

/** The untyped service a handler finds as `TaskContext`: checkpoints and details as JSON. */
export interface Untyped extends Common {
  /**
   * Reports progress (percent clamped to 0–100), an optional message and an
   * optional detail (JSON; `Task.reportProgress` encodes a typed one with the
   * kind's detail Schema). What is not given keeps its last value. Counts as a heartbeat.
   */
  progress(percent: number, message?: string, detail?: unknown): Effect.Effect<void>
  /**
   * Saves a checkpoint (JSON data) with the task's record, durably. A task
   * resumed after a restart or retried after a failure sees it as `lastCheckpoint`.
   * If the store cannot write it, the task fails with a defect.
   */
  checkpoint(state: unknown): Effect.Effect<void>
  /** The last checkpoint saved by an earlier attempt or by this one. */
  readonly lastCheckpoint: Effect.Effect<Option.Option<unknown>>
}

/** The task a handler runs for, as a service (untyped). */
export class TaskContext extends Context.Service<TaskContext, Untyped>()("@chainjobs/tasks/TaskContext") {}

/**
 * The context a handler of a kind gets as its second argument, typed by the
 * kind: `Checkpoint` and `Detail` are the types of its checkpoint and detail
 * Schemas.
 */
export interface Typed<Checkpoint, Detail> extends Common {
  /**
   * Reports progress (percent clamped to 0–100), an optional message and an
   * optional detail, encoded with the kind's detail Schema. What is not given
   * keeps its last value. Counts as a heartbeat.
   */
  progress(percent: number, message?: string, detail?: Detail): Effect.Effect<void>
  /**
   * Saves a checkpoint, encoded with the kind's checkpoint Schema, durably
   * with the task's record. A task resumed after a restart or retried after a
   * failure sees it as `lastCheckpoint`. If the store cannot write it, or it
   * does not encode, the task fails with a defect.
   */
  checkpoint(state: Checkpoint): Effect.Effect<void>
  /**
   * The last checkpoint saved by an earlier attempt or by this one, decoded
   * with the kind's checkpoint Schema. A stored checkpoint that no longer
   * decodes (the Schema changed) reads as none, so the task starts over.
   */
  readonly lastCheckpoint: Effect.Effect<Option.Option<Checkpoint>>
}
