/**
 * The typed client of a chainjobs server. `submit(kind, payload)` encodes the
 * payload with the kind's Schema and returns a `RemoteTaskHandle` whose
 * `await` decodes the kind's success and error Schemas, as a local handle
 * would. Reads and watches survive a dropped WebSocket: the socket reconnects
 * and the call is made again, a watch resuming where it stood.
 *
 * ```ts
 * const program = Effect.gen(function*() {
 *   const client = yield* TaskRpcClient
 *   const handle = yield* client.submit(Sleep, { ms: 100 })
 *   const exit = yield* handle.await
 * }).pipe(Effect.provide(TaskRpcClient.layerWebsocket({ url: "ws://127.0.0.1:8080/ws", token: "s3cret" })))
 * ```
 *
 * @since 0.1.0
 */
import { NodeHttpClient } from "@effect/platform-node"
import { Context, Duration, Effect, Exit, Layer, Result, Schedule, Stream } from "effect"
import { RpcClient, type RpcClientError, RpcSerialization } from "effect/rpc"
import { Task, TaskError, type TaskEvent, type TaskFeed, type TaskInfo, type TaskPolicy, type TaskQuery, type TaskStats, type SubmitWebhooks } from "@chainjobs/tasks"
import * as Auth from "./Auth.ts"
import * as CallSpans from "./internal/callSpans.ts"
import * as CoalescedWriter from "./internal/coalescedWriter.ts"
import { retryAfterFailure } from "./internal/retryAfterFailure.ts"
import type { AccessError, CallError, FollowError, RemoteTaskHandle, StreamCallError } from "./RemoteTaskHandle.ts"
import { TaskRpcs, type WatchChangesItem } from "./TaskRpcs.ts"

/** Settings of the client. */
export interface TaskRpcClientConfig {
  /** The first delay before a read or watch is retried after a transport error; doubles each time. Default: 50 ms. */
  readonly retryDelay: Duration.Input
  /** The longest delay between two retries. Default: 1 second. */
  readonly retryMaxDelay: Duration.Input
  /** How long a read or watch keeps retrying before failing with the transport error. Default: 30 seconds. */
  readonly retryFor: Duration.Input
  /** Skips the tracing span of every call (saves CPU when nothing collects traces). Default: false. */
  readonly disableTracing: boolean
}

/** The defaults of `TaskRpcClientConfig`. */
export const defaults: TaskRpcClientConfig = {
  retryDelay: "50 millis",
  retryMaxDelay: "1 second",
  retryFor: "30 seconds",
  disableTracing: false
}

/** Options of one remote submission: the supervisor's, but the owner, which is the caller's principal. */
export type SubmitOptions = Omit<TaskPolicy.SubmitOptions, "owner">

/** What `submit` can fail with. */
export type SubmitError =
  | TaskError.InvalidPayload
  | TaskError.SubmitRejected
  | TaskError.UnknownTaskKind
  | TaskError.TaskStoreError
  | TaskError.TaskNotFound
  | SubmitWebhooks.WebhookRefused
  | CallError

/** The raw `effect/rpc` client of `TaskRpcs`. */
export type RawClient = RpcClient.FromGroup<typeof TaskRpcs, RpcClientError.RpcClientError>

/** The client service. */
export class TaskRpcClient extends Context.Service<TaskRpcClient, {
  /** Submits a task of `kind`, owned by the caller's principal, and returns its handle once the server recorded it. */
  submit<K extends Task.Any>(
    kind: K,
    payload: Task.Payload<K>,
    options?: SubmitOptions
  ): Effect.Effect<RemoteTaskHandle<Task.Success<K>, Task.Error<K>>, SubmitError>
  /**
   * Submits a task and waits for its result in one call (synchronous
   * mode): its success, or its kind's typed error. Stopping the call leaves the task running.
   */
  run<K extends Task.Any>(
    kind: K,
    payload: Task.Payload<K>,
    options?: SubmitOptions
  ): Effect.Effect<
    Task.Success<K>,
    Task.Error<K> | TaskError.TaskAborted | TaskError.ResultDecodeError | TaskError.TaskNotFound | SubmitError
  >
  /** A handle to an existing task of `kind`, without a call. */
  handle<K extends Task.Any>(kind: K, id: string): RemoteTaskHandle<Task.Success<K>, Task.Error<K>>
  /** A task's current record. */
  get(id: string): Effect.Effect<TaskInfo.TaskInfo, AccessError>
  /** Lists the records the caller may see, newest first. */
  list(query?: TaskQuery.TaskQuery): Effect.Effect<TaskQuery.TaskPage, TaskError.TaskStoreError | CallError>
  /** Interrupts a task on the server and waits until it has stopped. */
  interrupt(id: string): Effect.Effect<void, AccessError>
  /** Deletes a task's record, interrupting it first if it has not finished. */
  delete(id: string): Effect.Effect<void, AccessError>
  /** Deletes finished records (admins only); returns how many. */
  purge(filter: TaskQuery.PurgeFilter): Effect.Effect<number, TaskError.TaskStoreError | CallError>
  /** What the server's supervisor holds right now. */
  readonly stats: Effect.Effect<TaskStats.TaskStats, CallError>
  /**
   * Every change of every task the caller may see, from now on, and a `Deleted` event for each deleted. The stream
   * reconnects when the connection drops or the server drops it for falling
   * behind, resuming after the last change it delivered: nothing is missed
   * unless the server no longer holds that change (its replay ring moved on;
   * `watchChanges` reports that as a `Reset`).
   */
  readonly watchAll: Stream.Stream<TaskInfo.TaskInfo | TaskEvent.Deleted, StreamCallError | TaskFeed.SubscriberDropped>
  /**
   * `watchAll` with the event id of every change, from now on or after
   * `after`; it resumes like `watchAll`, and a resume the server cannot
   * honour starts with a `Reset` saying changes were missed.
   */
  watchChanges(after?: string): Stream.Stream<WatchChangesItem, StreamCallError | TaskFeed.SubscriberDropped>
}>()("@chainjobs/rpc/TaskRpcClient") {}

/** A field-by-field change between two records of the same task, as a watch reports it. */
const changed = (a: TaskInfo.TaskInfo, b: TaskInfo.TaskInfo) =>
  a.status !== b.status || a.progress !== b.progress || a.message !== b.message || a.attempt !== b.attempt ||
  a.heartbeatAt !== b.heartbeatAt || a.finishedAt !== b.finishedAt ||
  JSON.stringify(a.detail) !== JSON.stringify(b.detail)

/** Exponential backoff from `retryDelay`, capped at `retryMaxDelay`. */
const backoff = (options: Partial<TaskRpcClientConfig>) =>
  Schedule.min([
    Schedule.exponential(options.retryDelay ?? defaults.retryDelay),
    Schedule.spaced(options.retryMaxDelay ?? defaults.retryMaxDelay)
  ])

/** The calls behind a `RemoteTaskHandle`, made by `make` once per client. */
interface HandleCalls {
  readonly get: (id: string) => Effect.Effect<TaskInfo.TaskInfo, AccessError>
  readonly watch: (id: string) => Stream.Stream<TaskInfo.TaskInfo, FollowError>
  readonly interrupt: (id: string) => Effect.Effect<void, AccessError>
  readonly awaitExit: (
    kind: Task.Any,
    id: string
  ) => Effect.Effect<Exit.Exit<unknown, unknown>, AccessError | TaskError.ResultDecodeError>
}

/**
 * A handle to a remote task. Its effects are made when read, not when the
 * handle is: a submission's handle is most often only joined, and making
 * every call of it up front (a read, two reads, an await, an interrupt, each
 * with its retry) was most of what a submission allocated on the client.
 */
class Handle<A, E> implements RemoteTaskHandle<A, E> {
  readonly id: string
  readonly kind: string
  readonly #calls: HandleCalls
  readonly #taskKind: Task.Any
  constructor(calls: HandleCalls, taskKind: Task.Any, id: string) {
    this.#calls = calls
    this.#taskKind = taskKind
    this.id = id
    this.kind = taskKind.name
  }
  get info() {
    return this.#calls.get(this.id)
  }
  get status() {
    return Effect.map(this.#calls.get(this.id), (info) => info.status)
  }
  get await() {
    return this.#calls.awaitExit(this.#taskKind, this.id) as Effect.Effect<
      Exit.Exit<A, E | TaskError.TaskAborted>,
      AccessError | TaskError.ResultDecodeError
    >
  }
  get join() {
    return Effect.flatMap(this.await, (exit) => exit)
  }
  get events() {
    return this.#calls.watch(this.id)
  }
  get interrupt() {
    return this.#calls.interrupt(this.id)
  }
}

/** Makes the client over a raw `effect/rpc` client of `TaskRpcs`. */
export const make = (rpc: RawClient, options: Partial<TaskRpcClientConfig> = {}): TaskRpcClient["Service"] => {
  const retryPolicy = backoff(options).pipe(
    Schedule.upTo({ duration: options.retryFor ?? defaults.retryFor }),
    Schedule.setInputType<{ readonly _tag: string }>(),
    Schedule.while(({ input }) => input._tag === "RpcClientError")
  )
  /** Retries a transport failure, or a subscription the server dropped for falling behind. */
  const resubscribe = backoff(options).pipe(
    Schedule.upTo({ duration: options.retryFor ?? defaults.retryFor }),
    Schedule.setInputType<{ readonly _tag: string }>(),
    Schedule.while(({ input }) => input._tag === "RpcClientError" || input._tag === "SubscriberDropped")
  )
  /** Retries a call that failed in transport (it is idempotent). */
  const retrying = <A, E extends { readonly _tag: string }, R>(effect: Effect.Effect<A, E, R>) =>
    retryAfterFailure(effect, retryPolicy)

  const get = (id: string) => retrying(rpc.Get({ id }))

  const watch = (id: string): Stream.Stream<TaskInfo.TaskInfo, FollowError> =>
    Stream.suspend(() => {
      let last: TaskInfo.TaskInfo | undefined
      return rpc.Watch({ id }).pipe(
        Stream.filter((info) => {
          const fresh = last === undefined || changed(last, info)
          last = info
          return fresh
        }),
        Stream.retry(retryPolicy)
      )
    })

  const interrupt = (id: string) => retrying(rpc.Interrupt({ id }))

  /** `WatchChanges`, subscribed again after a transport failure or a drop, after the last change it delivered. */
  const watchChanges = (after?: string): Stream.Stream<WatchChangesItem, StreamCallError | TaskFeed.SubscriberDropped> =>
    Stream.suspend(() => {
      let last = after
      const subscribe = Stream.suspend(() => rpc.WatchChanges(last === undefined ? {} : { after: last })).pipe(
        Stream.tap((item) =>
          Effect.sync(() => {
            if (item._tag === "Change") last = item.eventId
          })
        ),
        // The server's cursor: every change up to it was delivered before the drop, or was not the caller's to see.
        Stream.tapErrorTag("SubscriberDropped", (error) =>
          Effect.sync(() => {
            if (error.lastEventId !== "") last = error.lastEventId
          }))
      )
      return Stream.retry(subscribe, resubscribe)
    })

  /** The calls a handle makes, shared by every handle of this client. */
  const calls: HandleCalls = {
    get,
    watch,
    interrupt,
    awaitExit: (kind, id) => Effect.flatMap(retrying(rpc.Await({ id })), (info) => Task.outcome(kind, info))
  }

  const handle = <K extends Task.Any>(kind: K, id: string): RemoteTaskHandle<Task.Success<K>, Task.Error<K>> =>
    new Handle(calls, kind, id)

  /** The `Submit` / `Run` request for a payload, validated and encoded with its kind's Schema. */
  const request = <K extends Task.Any>(kind: K, payload: Task.Payload<K>, submitOptions: SubmitOptions | undefined) =>
    Effect.map(Task.encodePayload(kind, payload), (encoded) => ({
      kind: kind.name,
      payload: encoded,
      ...(submitOptions?.priority === undefined ? {} : { priority: submitOptions.priority }),
      ...(submitOptions?.onConflict === undefined ? {} : { onConflict: submitOptions.onConflict }),
      ...(submitOptions?.timeoutMillis === undefined ? {} : { timeoutMillis: submitOptions.timeoutMillis }),
      ...(submitOptions?.heartbeatTimeoutMillis === undefined ? {} : { heartbeatTimeoutMillis: submitOptions.heartbeatTimeoutMillis }),
      ...(submitOptions?.retries === undefined ? {} : { retries: submitOptions.retries })
    }))

  return TaskRpcClient.of({
    submit: (kind, payload, submitOptions) =>
      request(kind, payload, submitOptions).pipe(
        Effect.flatMap(rpc.Submit),
        Effect.map((info) => handle(kind, info.id))
      ),
    run: (kind, payload, submitOptions) =>
      request(kind, payload, submitOptions).pipe(
        Effect.flatMap(rpc.Run),
        Effect.flatMap((info) => Task.outcome(kind, info)),
        Effect.flatten
      ),
    handle,
    get,
    list: (query = {}) => retrying(rpc.List(query)),
    interrupt,
    delete: (id) => rpc.Delete({ id }),
    purge: (filter) => rpc.Purge(filter),
    stats: retrying(rpc.Stats()),
    watchAll: Stream.filterMap(watchChanges(), (item) => item._tag === "Change" ? Result.succeed(item.event) : Result.failVoid),
    watchChanges
  })
}

/** The client over the current `RpcClient.Protocol`; the token goes in every call's `Authorization` header. */
export const layer = (
  options: Partial<TaskRpcClientConfig> & { readonly token: string }
): Layer.Layer<TaskRpcClient, never, RpcClient.Protocol> => {
  // The client spans are made here, not by effect/rpc (see `internal/callSpans`): the raw client never traces.
  const tracing = !(options.disableTracing ?? defaults.disableTracing)
  const token = options.token
  return Layer.effect(TaskRpcClient, Effect.map(
    RpcClient.make(TaskRpcs, { disableTracing: true }),
    (rpc) => make(tracing ? CallSpans.traced(rpc, TaskRpcs) : rpc, options)
  )).pipe(
    Layer.provide(
      tracing
        ? Auth.layerClientMiddleware(({ next, request }) =>
          Effect.withFiber((fiber) => next(CallSpans.withSpanIds(Auth.withBearer(request, token), fiber.context))))
        : Auth.layerClient(token)
    )
  )
}

/** Options of a client connecting to a URL. */
export interface ConnectOptions extends Partial<TaskRpcClientConfig> {
  /** The RPC endpoint, e.g. `"http://127.0.0.1:8080/rpc"` or `"ws://127.0.0.1:8080/ws"`. */
  readonly url: string
  /** The bearer token of the calling principal. */
  readonly token: string
}

/** The client over HTTP POST with ndjson framing (one request per call; streams flow as produced). */
export const layerHttp = (options: ConnectOptions): Layer.Layer<TaskRpcClient> =>
  layer(options).pipe(
    Layer.provide(RpcClient.layerProtocolHttp({ url: options.url })),
    Layer.provide([NodeHttpClient.layerUndici, RpcSerialization.layerNdjson])
  )

/**
 * The client over one WebSocket with ndjson framing; it reconnects when the
 * connection drops. The calls made in one turn share one message.
 */
export const layerWebsocket = (options: ConnectOptions): Layer.Layer<TaskRpcClient> =>
  layer(options).pipe(
    Layer.provide(RpcClient.layerProtocolSocket({ retryTransientErrors: true, retryPolicy: backoff(options) })),
    Layer.provide([
      // The calls made in one turn go out as one message (see `coalescedWriter`).
      CoalescedWriter.layerWebSocket(options.url),
      RpcSerialization.layerNdjson
    ])
  )
