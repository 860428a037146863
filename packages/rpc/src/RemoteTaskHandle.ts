/**
 * A handle to a task running on a chainjobs server: what `TaskRpcClient.submit`
 * returns. It is the local `TaskHandle` type (record, typed outcome, events,
 * interrupt) with the errors a remote call adds. Awaiting or following a task
 * never affects it, and stopping either on the client leaves the task running:
 * only `interrupt` stops it.
 *
 * @since 0.1.0
 */
import type { RpcClientError } from "effect/rpc"
import type { TaskAccessError, TaskError, TaskHandle } from "@chainjobs/tasks"
import type { MalformedRequest, TooManyStreams } from "./TaskRpcError.ts"

/** What any call can fail with before reaching its handler: the transport, the token (`TaskAccessError`), a malformed request. */
export type CallError = RpcClientError.RpcClientError | TaskAccessError.TaskAccessError | MalformedRequest

/**
 * What a streaming call (`Watch`, `WatchAll`, `WatchChanges`) can fail with before reaching its handler: a call's,
 * or its connection holding as many streams open as it may (`TooManyStreams`). Only these calls can meet that limit.
 */
export type StreamCallError = CallError | TooManyStreams

/** What reading or controlling a task can fail with (another principal's task is not found, like a missing one). */
export type AccessError = TaskError.TaskNotFound | TaskError.TaskStoreError | CallError

/**
 * What following a task can fail with: `AccessError`, its connection's stream limit (`TooManyStreams`), or the
 * principal's (`TaskAccessError` reason `TooManyTaskStreams`, a `CallError`).
 */
export type FollowError = TaskError.TaskNotFound | TaskError.TaskStoreError | StreamCallError

/**
 * A handle to a remote task whose success is `A` and typed error is `E`: the
 * one `TaskHandle` type, reached with the errors of a call. Awaiting survives a
 * dropped connection (it asks again); `events` resumes where it stood after
 * one, skipping the record it had already delivered; `interrupt` runs the
 * task's finalizers on the server.
 */
export type RemoteTaskHandle<A, E> = TaskHandle.TaskHandle<A, E, CallError, StreamCallError>
