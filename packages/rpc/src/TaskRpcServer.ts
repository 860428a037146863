/**
 * The server side of `TaskRpcs`: handlers that map each call onto the
 * runtime's access facade (`TaskAccess`: ownership, admins, the submission
 * quota, the payload limit), and layers that mount them into an existing
 * `HttpRouter` over HTTP (streaming with ndjson framing) or WebSocket.
 *
 * A task belongs to the principal that submitted it. A principal reads,
 * follows, interrupts and deletes only its own tasks and lists only those;
 * an admin does all of it for every task and alone may purge.
 *
 * ```ts
 * const Rpc = Layer.mergeAll(
 *   TaskRpcServer.layerHttp({ path: "/rpc" }),
 *   TaskRpcServer.layerWebsocket({ path: "/ws" })
 * ).pipe(Layer.provide([Auth.layer, Principal.layer(tokens), TaskAccess.layer()]))
 * HttpRouter.serve(Rpc).pipe(Layer.provide(NodeHttpServer.layer(createServer, { port: 8080 })))
 * ```
 *
 * @since 0.1.0
 */
import { ByteSize, Effect, Layer, Scope } from "effect"
import { HttpIncomingMessage, HttpRouter, type HttpServerRequest, type HttpServerResponse } from "effect/http"
import { RpcSerialization, RpcServer } from "effect/rpc"
import { TaskAccess } from "@chainjobs/tasks"
import type { Authentication } from "./Auth.ts"
import { Malformed } from "./internal/lenient.ts"
import { MalformedRequest } from "./TaskRpcError.ts"
import { RequestValidation, TaskRpcs } from "./TaskRpcs.ts"

/** Settings of the RPC transport (the access rules and the payload limit are `TaskAccess`'s). */
export interface TaskRpcServerConfig {
  /** The largest HTTP request body read, in bytes (a batch of calls, envelopes included). Default: 1048576 (1 MiB). */
  readonly maxBodyBytes: number
  /** Skips the tracing span of every call (saves CPU when nothing collects traces). Default: false. */
  readonly disableTracing: boolean
}

/** The defaults of `TaskRpcServerConfig`. */
export const defaults: TaskRpcServerConfig = {
  maxBodyBytes: 1024 * 1024,
  disableTracing: false
}

/** What the server layers require: the access facade and the authentication middleware. */
export type Requirements = TaskAccess.TaskAccess | Authentication

/** Refuses any request whose payload did not decode, naming the problem. */
export const layerRequestValidation: Layer.Layer<RequestValidation> = Layer.succeed(RequestValidation)(
  (effect, { payload, rpc }) =>
    payload instanceof Malformed
      ? Effect.fail(new MalformedRequest({ problem: "payload", rpc: rpc._tag, detail: payload.description }))
      : effect
)

/** The handlers of `TaskRpcs` (and the request validation middleware): each call maps onto `TaskAccess`. */
export const layerHandlers = Layer.merge(
  TaskRpcs.toLayer(Effect.gen(function*() {
    const access = yield* TaskAccess.TaskAccess
    return TaskRpcs.of({
      Submit: (request) => Effect.map(access.submit(request), (info) => ({ id: info.id })),
      Run: (request) => Effect.flatMap(access.submit(request), (info) => access.awaitInfo(info.id)),
      Get: ({ id }) => access.get(id),
      Await: ({ id }) => access.awaitInfo(id),
      Watch: ({ id }) => access.watch(id),
      Interrupt: ({ id }) => access.interrupt(id),
      List: (query) => access.list(query),
      Delete: ({ id }) => access.delete(id),
      Purge: (filter) => access.purge(filter),
      Stats: () => access.stats,
      WatchAll: () => access.events
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
    Effect.provide(Layer.merge(layerHandlers, RpcSerialization.layerNdjson))
  )

/** Starts the RPC server in the current scope and returns the HTTP app that upgrades requests to WebSocket. */
export const toHttpEffectWebsocket = (options: Partial<TaskRpcServerConfig> = {}) =>
  RpcServer.toHttpEffectWebsocket(TaskRpcs, { disableTracing: options.disableTracing ?? defaults.disableTracing }).pipe(
    Effect.provide(Layer.merge(layerHandlers, RpcSerialization.layerNdjson))
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
