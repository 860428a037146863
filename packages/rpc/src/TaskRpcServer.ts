/**
 * The server side of `TaskRpcs`: handlers over the `Tasks` supervisor that
 * enforce ownership, payload size and a per-principal submission rate, and
 * layers that mount them into an existing `HttpRouter` over HTTP (streaming
 * with ndjson framing) or WebSocket.
 *
 * A task belongs to the principal that submitted it. A principal reads,
 * follows, interrupts and deletes only its own tasks and lists only those;
 * an admin does all of it for every task and alone may purge.
 *
 * ```ts
 * const Rpc = Layer.mergeAll(
 *   TaskRpcServer.layerHttp({ path: "/rpc" }),
 *   TaskRpcServer.layerWebsocket({ path: "/ws" })
 * ).pipe(Layer.provide([Auth.layer(config), RateLimiter.layer.pipe(Layer.provide(RateLimiter.layerStoreMemory))]))
 * HttpRouter.serve(Rpc).pipe(Layer.provide(NodeHttpServer.layer(createServer, { port: 8080 })))
 * ```
 *
 * @since 0.1.0
 */
import { ByteSize, Duration, Effect, Layer, Scope, Stream } from "effect"
import { HttpIncomingMessage, HttpRouter, type HttpServerRequest, type HttpServerResponse } from "effect/http"
import { RateLimiter } from "effect/persistence"
import { RpcSerialization, RpcServer } from "effect/rpc"
import { TaskInfo, Tasks } from "@chainjobs/tasks"
import { type Authentication, canSee, consumeQuota, CurrentPrincipal, forbidden } from "./Auth.ts"
import { Malformed } from "./internal/lenient.ts"
import { MalformedRequest, PayloadTooLarge } from "./TaskRpcError.ts"
import { RequestValidation, type SubmitRequest, TaskRpcs } from "./TaskRpcs.ts"

/** Settings of the RPC server. */
export interface TaskRpcServerConfig {
  /** The largest task payload `Submit` accepts, measured as JSON, in bytes. Default: 65536 (64 KiB). */
  readonly maxPayloadBytes: number
  /** The largest HTTP request body read, in bytes (a batch of calls, envelopes included). Default: 1048576 (1 MiB). */
  readonly maxBodyBytes: number
  /** Submissions a principal may make per `submitWindow`. Default: 1000. */
  readonly submitLimit: number
  /** The window of `submitLimit` (a fixed window). Default: 1 second. */
  readonly submitWindow: Duration.Input
  /** Skips the tracing span of every call (saves CPU when nothing collects traces). Default: false. */
  readonly disableTracing: boolean
}

/** The defaults of `TaskRpcServerConfig`. */
export const defaults: TaskRpcServerConfig = {
  maxPayloadBytes: 64 * 1024,
  maxBodyBytes: 1024 * 1024,
  submitLimit: 1000,
  submitWindow: "1 second",
  disableTracing: false
}

/** What the server layers require: the supervisor, a rate limiter and the authentication middleware. */
export type Requirements = Tasks.Tasks | RateLimiter.RateLimiter | Authentication

/** Refuses any request whose payload did not decode, naming the problem. */
export const layerRequestValidation: Layer.Layer<RequestValidation> = Layer.succeed(RequestValidation)(
  (effect, { payload, rpc }) =>
    payload instanceof Malformed
      ? Effect.fail(new MalformedRequest({ rpc: rpc._tag, message: `invalid ${rpc._tag} request: ${payload.description}` }))
      : effect
)

/** The handlers of `TaskRpcs` (and the request validation middleware), with the given settings over the defaults. */
export const layerHandlers = (options: Partial<TaskRpcServerConfig> = {}) =>
  Layer.merge(
    TaskRpcs.toLayer(Effect.gen(function*() {
      const config = { ...defaults, ...options }
      const tasks = yield* Tasks.Tasks
      const limiter = yield* RateLimiter.RateLimiter

      /** The record of a task the caller may see. */
      const accessible = (id: string) =>
        CurrentPrincipal.use((principal) =>
          Effect.flatMap(tasks.get(id), (info) =>
            canSee(principal, info) ? Effect.succeed(info) : Effect.fail(forbidden(principal, `task ${id}`))))

      const checkSize = (payload: unknown) =>
        Effect.suspend(() => {
          const size = Buffer.byteLength(JSON.stringify(payload) ?? "null")
          return size <= config.maxPayloadBytes ? Effect.void : Effect.fail(
            new PayloadTooLarge({
              size,
              limit: config.maxPayloadBytes,
              message: `the payload is ${size} bytes; at most ${config.maxPayloadBytes} are accepted`
            })
          )
        })

      /** The final record of a task, from `info` if it has finished (a final record does not change), else by waiting. */
      const settled = (info: TaskInfo.TaskInfo) =>
        TaskInfo.isTerminal(info.status) ? Effect.succeed(info) : tasks.awaitInfo(info.id)

      /** Checks and records a submission for the calling principal; returns its task's record. */
      const submitFor = Effect.fnUntraced(function*(request: SubmitRequest) {
        const principal = yield* CurrentPrincipal
        yield* checkSize(request.payload)
        yield* consumeQuota(limiter, principal, { limit: config.submitLimit, window: config.submitWindow })
        const handle = yield* tasks.submitEncoded(request.kind, request.payload, {
          owner: principal.id,
          priority: request.priority,
          onConflict: request.onConflict
        })
        // Joining (`onConflict: "join"`, asked for or the kind's default) may hand back another principal's task.
        const info = yield* Effect.catchTag(handle.info, "TaskNotFound", Effect.die)
        return canSee(principal, info) ? info : yield* forbidden(principal, `task ${info.id}`)
      })

      return TaskRpcs.of({
        Submit: (request) => Effect.map(submitFor(request), (info) => ({ id: info.id })),
        Run: (request) => Effect.flatMap(submitFor(request), settled),
        Get: ({ id }) => accessible(id),
        Await: ({ id }) => Effect.flatMap(accessible(id), settled),
        Watch: ({ id }) =>
          Stream.unwrap(Effect.map(accessible(id), (info) => TaskInfo.isTerminal(info.status) ? Stream.make(info) : tasks.watch(id))),
        Interrupt: ({ id }) => Effect.andThen(accessible(id), tasks.interrupt(id)),
        List: Effect.fnUntraced(function*(query) {
          const principal = yield* CurrentPrincipal
          if (principal.admin) return yield* tasks.list(query)
          if (query.owner !== undefined && query.owner !== principal.id) {
            return yield* forbidden(principal, `the tasks of "${query.owner}"`)
          }
          return yield* tasks.list({ ...query, owner: principal.id })
        }),
        Delete: ({ id }) => Effect.andThen(accessible(id), tasks.delete(id)),
        Purge: Effect.fnUntraced(function*(filter) {
          const principal = yield* CurrentPrincipal
          if (!principal.admin) return yield* forbidden(principal, "purge")
          return yield* tasks.purge(filter)
        }),
        Stats: () => tasks.stats,
        WatchAll: () =>
          Stream.unwrap(CurrentPrincipal.useSync((principal) =>
            Stream.filter(tasks.events, (info) => canSee(principal, info))))
      })
    })),
    layerRequestValidation
  )

type HttpApp = Effect.Effect<HttpServerResponse.HttpServerResponse, never, Scope.Scope | HttpServerRequest.HttpServerRequest>

const limitBody = (app: HttpApp, maxBodyBytes: number): HttpApp =>
  Effect.provideService(app, HttpIncomingMessage.MaxBodySize, ByteSize.bytes(maxBodyBytes))

/**
 * Starts the RPC server in the current scope and returns the HTTP app serving
 * it over plain HTTP POST (ndjson framing, so streams flow as they are
 * produced), for an app that routes requests itself.
 */
export const toHttpEffect = (options: Partial<TaskRpcServerConfig> = {}) =>
  RpcServer.toHttpEffect(TaskRpcs, { disableTracing: options.disableTracing ?? defaults.disableTracing }).pipe(
    Effect.map((app) => limitBody(app, options.maxBodyBytes ?? defaults.maxBodyBytes)),
    Effect.provide(Layer.merge(layerHandlers(options), RpcSerialization.layerNdjson))
  )

/** Starts the RPC server in the current scope and returns the HTTP app that upgrades requests to WebSocket. */
export const toHttpEffectWebsocket = (options: Partial<TaskRpcServerConfig> = {}) =>
  RpcServer.toHttpEffectWebsocket(TaskRpcs, { disableTracing: options.disableTracing ?? defaults.disableTracing }).pipe(
    Effect.provide(Layer.merge(layerHandlers(options), RpcSerialization.layerNdjson))
  )

/** Options of the server layers: where to mount, and the server's settings. */
export interface MountOptions extends Partial<TaskRpcServerConfig> {
  /** The route of the RPC endpoint, e.g. `"/rpc"`. */
  readonly path: HttpRouter.PathInput
}

/** Mounts the RPC server at `POST path` of the current `HttpRouter` (HTTP protocol, ndjson). */
export const layerHttp = (options: MountOptions): Layer.Layer<never, never, HttpRouter.HttpRouter | Requirements> =>
  Layer.effectDiscard(Effect.gen(function*() {
    const router = yield* HttpRouter.HttpRouter
    yield* router.add("POST", options.path, yield* toHttpEffect(options))
  }))

/** Mounts the RPC server at `GET path` of the current `HttpRouter` (WebSocket protocol, ndjson). */
export const layerWebsocket = (options: MountOptions): Layer.Layer<never, never, HttpRouter.HttpRouter | Requirements> =>
  Layer.effectDiscard(Effect.gen(function*() {
    const router = yield* HttpRouter.HttpRouter
    yield* router.add("GET", options.path, yield* toHttpEffectWebsocket(options))
  }))
