/**
 * A handle to a task running on a chainjobs server: what `TaskRpcClient.submit`
 * returns. It mirrors the local `TaskHandle` (record, typed outcome, events,
 * interrupt), with the errors a remote call adds. Awaiting or following a task
 * never affects it, and stopping either on the client leaves the task running:
 * only `interrupt` stops it.
 *
 * @since 0.1.0
 */
import type { Effect, Exit, Stream } from "effect"
import type { RpcClientError } from "effect/rpc"
import type { TaskAccessError, TaskError, TaskInfo } from "@chainjobs/tasks"
import type { MalformedRequest } from "./TaskRpcError.ts"

/** What any call can fail with before reaching its handler: the transport, the token (`TaskAccessError`), or a malformed request. */
export type CallError = RpcClientError.RpcClientError | TaskAccessError.TaskAccessError | MalformedRequest

/** What reading or controlling a task can fail with (another principal's task is not found, like a missing one). */
export type AccessError = TaskError.TaskNotFound | TaskError.TaskStoreError | CallError

/** A handle to a remote task whose success is `A` and typed error is `E`. */
export interface RemoteTaskHandle<A, E> {
  /** The task's id. */
  readonly id: string
  /** The task kind's name. */
  readonly kind: string
  /** The task's current record. */
  readonly info: Effect.Effect<TaskInfo.TaskInfo, AccessError>
  /** The task's current status. */
  readonly status: Effect.Effect<TaskInfo.TaskStatus, AccessError>
  /**
   * Waits for the task to finish and returns its outcome, decoded with the
   * kind's Schemas: success with `A`, failure with `E` (or `TaskAborted`), a
   * defect, or an interruption. Survives a dropped connection (it asks again).
   */
  readonly await: Effect.Effect<Exit.Exit<A, E | TaskError.TaskAborted>, AccessError | TaskError.ResultDecodeError>
  /** Waits for the task and returns its success, failing with its error. */
  readonly join: Effect.Effect<A, E | TaskError.TaskAborted | AccessError | TaskError.ResultDecodeError>
  /**
   * The task's record at once, then at every change; ends after a terminal
   * status. After a dropped connection it resumes where it stood, skipping
   * the record it had already delivered.
   */
  readonly events: Stream.Stream<TaskInfo.TaskInfo, AccessError>
  /** Interrupts the task on the server (its finalizers run there) and waits until it has stopped. */
  readonly interrupt: Effect.Effect<void, AccessError>
}
