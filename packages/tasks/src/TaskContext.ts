/**
 * What a running handler sees of its own task: its id and attempt, and the
 * means to report progress, prove it is alive, and save a checkpoint that a
 * resumed run starts from. Provided by the supervisor to every handler.
 *
 * @since 0.1.0
 */
import { Context, type Effect, type Option } from "effect"

/** The task a handler runs for. */
export class TaskContext extends Context.Service<TaskContext, {
  /** The task's id. */
  readonly taskId: string
  /** 1 for the first run; grows with retries and with resumes after a restart. */
  readonly attempt: number
  /**
   * Reports progress (percent clamped to 0–100), an optional message and an
   * optional detail (JSON; `Task.reportProgress` encodes a typed one with the
   * kind's detail Schema). What is not given keeps its last value. Counts as a heartbeat.
   */
  progress(percent: number, message?: string, detail?: unknown): Effect.Effect<void>
  /** Tells the watchdog the task is alive. */
  readonly heartbeat: Effect.Effect<void>
  /**
   * Saves a checkpoint (JSON data) with the task's record, durably. A task
   * resumed after a restart or retried after a failure sees it as `lastCheckpoint`.
   * If the store cannot write it, the task fails with a defect.
   */
  checkpoint(state: unknown): Effect.Effect<void>
  /** The last checkpoint saved by an earlier attempt or by this one. */
  readonly lastCheckpoint: Effect.Effect<Option.Option<unknown>>
}>()("@chainjobs/tasks/TaskContext") {}

/** The untyped service a handler finds as `TaskContext` (checkpoints and details as JSON). */
export type Untyped = TaskContext["Service"]
