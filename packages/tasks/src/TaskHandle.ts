/**
 * A handle to one submitted task: what a caller holds from the moment
 * `submit` returns. It reads the task's record, awaits its typed outcome,
 * follows its events, and interrupts it. Awaiting or following never affects
 * the task: only `interrupt` does.
 *
 * The same type serves a task of this process's supervisor and one reached
 * over a transport (`@chainjobs/rpc`'s client): `X` is what reaching the task
 * can fail with besides the task's own errors — nothing locally, the
 * transport's and access errors remotely.
 *
 * @since 0.1.0
 */
import type { Effect, Exit, Stream } from "effect"
import type { ResultDecodeError, TaskAborted, TaskNotFound, TaskStoreError } from "./TaskError.ts"
import type { TaskInfo, TaskStatus } from "./TaskInfo.ts"

/**
 * A handle to a task whose success is `A` and typed error is `E`, reached with the extra errors `X` (`XS` those of
 * following it, `events`: `X` unless a transport adds errors only a stream can meet).
 */
export interface TaskHandle<A, E, X = never, XS = X> {
  /** The task's id. */
  readonly id: string
  /** The task kind's name. */
  readonly kind: string
  /** The task's current record. */
  readonly info: Effect.Effect<TaskInfo, TaskNotFound | TaskStoreError | X>
  /** The task's current status. */
  readonly status: Effect.Effect<TaskStatus, TaskNotFound | TaskStoreError | X>
  /**
   * Waits for the task to finish and returns its outcome: success with `A`,
   * failure with `E` (or `TaskAborted` for a timeout, a missed heartbeat or a
   * lost task), a defect, or an interruption. A handle made by `submit` of a
   * task that finished in this process keeps its final record once it is
   * committed, and answers from it (the record deleted since included).
   */
  readonly await: Effect.Effect<Exit.Exit<A, E | TaskAborted>, TaskNotFound | TaskStoreError | ResultDecodeError | X>
  /** Waits for the task and returns its success, failing with its error. */
  readonly join: Effect.Effect<A, E | TaskAborted | TaskNotFound | TaskStoreError | ResultDecodeError | X>
  /** The task's record at once, then at every status or progress change; ends after a terminal status. */
  readonly events: Stream.Stream<TaskInfo, TaskNotFound | TaskStoreError | XS>
  /** Interrupts the task (its finalizers run) and waits until it has stopped. */
  readonly interrupt: Effect.Effect<void, TaskNotFound | TaskStoreError | X>
}
