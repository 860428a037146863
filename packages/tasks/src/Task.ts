/**
 * Task kinds: what a task takes, returns and fails with (as Schemas), and the
 * policy it runs under. `define` makes a kind; `implement` registers its
 * handler with the supervisor as a `Layer`, and the handler's own
 * requirements (a chain client, a store) become the layer's requirements.
 *
 * ```ts
 * const Sleep = Task.define("sleep", {
 *   payload: Schema.Struct({ ms: Schema.Number }),
 *   success: Schema.Number,
 *   policy: { timeout: "1 minute" }
 * })
 * const SleepLive = Task.implement(Sleep, ({ ms }) => Effect.sleep(ms).pipe(Effect.as(ms)))
 * ```
 *
 * @since 0.1.0
 */
import { Effect, type Exit, Layer, type Option, Schema } from "effect"
import * as codec from "./internal/codec.ts"
import { KindTaskContext } from "./internal/context.ts"
import * as TaskContext from "./TaskContext.ts"
import type { InvalidPayload, ResultDecodeError, TaskAborted } from "./TaskError.ts"
import type { Any, Checkpoint, Detail, Error, Payload, PlainSchema, Success, TaskKind } from "./TaskKind.ts"
import * as TaskPolicy from "./TaskPolicy.ts"
import { Tasks } from "./Tasks.ts"

/** The kind types, defined in `TaskKind` and re-exported here where kinds are defined. */
export type {
  /** Any task kind. */
  Any,
  /** The checkpoint type of a kind. */
  Checkpoint,
  /** The progress detail type of a kind. */
  Detail,
  /** The typed error of a kind. */
  Error,
  /** The payload type of a kind. */
  Payload,
  /** A Schema with no service requirements, as task kinds use for their data. */
  PlainSchema,
  /** The success type of a kind. */
  Success,
  /** A task kind: its name, Schemas and resolved policy. */
  TaskKind
} from "./TaskKind.ts"

/**
 * Defines a task kind. `error` defaults to `Schema.Never` (the kind fails only
 * with defects); `checkpoint` and `detail` (progress details) to `Schema.Unknown` (any JSON).
 */
export const define = <
  const Name extends string,
  Payload extends PlainSchema,
  Success extends PlainSchema,
  Error extends PlainSchema = Schema.Never,
  Checkpoint extends PlainSchema = Schema.Unknown,
  Detail extends PlainSchema = Schema.Unknown
>(name: Name, options: {
  readonly payload: Payload
  readonly success: Success
  readonly error?: Error | undefined
  readonly checkpoint?: Checkpoint | undefined
  readonly detail?: Detail | undefined
  readonly policy?: TaskPolicy.TaskPolicy<Payload["Type"], Error["Type"]> | undefined
}): TaskKind<Name, Payload, Success, Error, Checkpoint, Detail> => ({
  name,
  payload: options.payload,
  success: options.success,
  error: (options.error ?? Schema.Never) as Error,
  checkpoint: (options.checkpoint ?? Schema.Unknown) as Checkpoint,
  detail: (options.detail ?? Schema.Unknown) as Detail,
  policy: TaskPolicy.resolve(options.policy)
})

/**
 * Validates a payload of a kind and encodes it as a task record holds it (JSON),
 * or fails with `InvalidPayload` naming each bad field: what a remote client
 * sends as the encoded payload of a submission.
 */
export const encodePayload = <K extends Any>(kind: K, payload: Payload<K>): Exit.Exit<unknown, InvalidPayload> =>
  codec.forKind(kind).encodePayload(payload)

/**
 * Decodes a payload of a kind as a task record (or a remote client) holds it,
 * or fails with `InvalidPayload` naming each bad field.
 */
export const decodePayload = <K extends Any>(kind: K, encoded: unknown): Exit.Exit<Payload<K>, InvalidPayload> =>
  codec.forKind(kind).decodePayload(encoded) as Exit.Exit<Payload<K>, InvalidPayload>

/**
 * The typed outcome a task record stands for, decoded with the kind's Schemas:
 * success, the kind's error, `TaskAborted` (timeout, heartbeat, lost), a
 * defect, or an interruption (also for a record that has not finished). This is
 * what a handle's `await` returns; a remote client reads records the same way.
 */
export const outcome = <K extends Any>(
  kind: K,
  info: codec.FinalFields
): Exit.Exit<Exit.Exit<Success<K>, Error<K> | TaskAborted>, ResultDecodeError> =>
  codec.forKind(kind).exitFromInfo(info) as Exit.Exit<Exit.Exit<Success<K>, Error<K> | TaskAborted>, ResultDecodeError>

/** The context of the running task typed by `kind`: what a handler of the kind gets as its second argument. */
export type Context<K extends Any> = TaskContext.Typed<Checkpoint<K>, Detail<K>>

/**
 * The running task's context typed by `kind`, for code called by a handler
 * (the handler itself gets it as its second argument).
 */
export const context = <K extends Any>(kind: K): Effect.Effect<Context<K>, never, TaskContext.TaskContext> =>
  TaskContext.TaskContext.useSync((untyped) => new KindTaskContext(untyped, codec.forKind(kind)) as Context<K>)

/**
 * Reports progress of a kind's task with a typed detail, encoded with the
 * kind's detail Schema into the record (like `context(kind).progress`).
 */
export const reportProgress = <K extends Any>(
  kind: K,
  percent: number,
  message: string,
  detail: Detail<K>
): Effect.Effect<void, never, TaskContext.TaskContext> =>
  Effect.flatMap(context(kind), (typed) => typed.progress(percent, message, detail))

/** Saves a checkpoint of a kind's task, encoded with the kind's checkpoint Schema (durably, like `context(kind).checkpoint`). */
export const saveCheckpoint = <K extends Any>(kind: K, state: Checkpoint<K>): Effect.Effect<void, never, TaskContext.TaskContext> =>
  Effect.flatMap(context(kind), (typed) => typed.checkpoint(state))

/**
 * The last checkpoint of a kind's task, decoded with the kind's checkpoint
 * Schema. A stored checkpoint that no longer decodes (the Schema changed) reads
 * as none, so the task starts over rather than failing.
 */
export const loadCheckpoint = <K extends Any>(
  kind: K
): Effect.Effect<Option.Option<Checkpoint<K>>, never, TaskContext.TaskContext> =>
  Effect.flatMap(context(kind), (typed) => typed.lastCheckpoint)

/**
 * The function that runs a task of kind `K`: it gets the payload and the
 * task's context typed by `K`. The untyped `TaskContext` service is provided
 * as well, for code deeper in the call.
 */
export type Handler<K extends Any, R> = (
  payload: Payload<K>,
  context: Context<K>
) => Effect.Effect<Success<K>, Error<K>, R>

/**
 * Registers the handler of a kind with the supervisor. The layer requires the
 * supervisor and whatever the handler needs besides its `TaskContext`.
 */
export const implement = <K extends Any, R>(
  kind: K,
  handler: Handler<K, R>
): Layer.Layer<never, never, Tasks | Exclude<R, TaskContext.TaskContext>> =>
  Layer.effectDiscard(Effect.gen(function*() {
    const tasks = yield* Tasks
    const services = yield* Effect.context<Exclude<R, TaskContext.TaskContext>>()
    yield* tasks.register(kind, handler, services)
  }))
