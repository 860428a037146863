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
 * ).pipe(Layer.provide([Auth.layerTokens(tokens), TaskAccess.layer().pipe(Layer.provideMerge(SupervisorLive))]))
 * HttpRouter.serve(Rpc).pipe(Layer.provide(NodeHttpServer.layer(createServer, { port: 8080 })))
 * ```
 *
 * @since 0.1.0
 */
import * as Http from "node:http"
import * as Net from "node:net"
import { ByteSize, Effect, Layer, Schema, Scope, Stream } from "effect"
import { HttpIncomingMessage, HttpRouter, HttpServerRequest, HttpServerResponse } from "effect/http"
import { Rpc, type RpcGroup, RpcSerialization, RpcServer } from "effect/rpc"
import { Socket } from "effect/socket"
import { StreamSlots, TaskAccess, TaskAccessError } from "@chainjobs/tasks"
import type { Authentication } from "./Auth.ts"
import * as CoalescedWriter from "./internal/coalescedWriter.ts"
import * as Frames from "./internal/frames.ts"
import { Malformed } from "./internal/lenient.ts"
import * as PreEncoded from "./internal/preEncoded.ts"
import * as UnsentLimit from "./internal/unsentLimit.ts"
import { watchChangesItem } from "./internal/watchChangesItem.ts"
import { MalformedRequest, TooManyStreams } from "./TaskRpcError.ts"
import { RequestValidation, TaskRpcs, type WatchChangesItem } from "./TaskRpcs.ts"

/** Settings of the RPC transport (the access rules and the payload limit are `TaskAccess`'s). */
export interface TaskRpcServerConfig {
  /** The largest HTTP request body read, and the longest WebSocket line, in bytes (a batch of calls, envelopes included). Default: 1048576 (1 MiB). */
  readonly maxBodyBytes: number
  /** Skips the tracing span of every call (saves CPU when nothing collects traces). Default: false. */
  readonly disableTracing: boolean
  /**
   * The most a WebSocket's answers may wait unsent in the service's memory, in bytes (beyond the kernel's buffers):
   * past it the socket is closed with `SlowReader` (see `internal/unsentLimit`). Default: 4194304 (4 MiB).
   */
  readonly maxUnsentBytes: number
  /**
   * The most streaming calls (`Watch`, `WatchAll`, `WatchChanges`) one connection may hold open at once — a
   * WebSocket, or one HTTP request's batch: the one past it fails alone with `TooManyStreams`, the connection stays
   * usable, and a stream that ends (or is interrupted, or whose connection closes) frees its slot. A whole number of
   * at least 1. Default: 1000.
   */
  readonly maxStreamsPerConnection: number
}

/** The defaults of `TaskRpcServerConfig`. */
export const defaults: TaskRpcServerConfig = {
  maxBodyBytes: 1024 * 1024,
  disableTracing: false,
  maxUnsentBytes: 4 * 1024 * 1024,
  maxStreamsPerConnection: 1000
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

/**
 * Each connection's open streaming calls, by the server's client id (`StreamSlots`): `limited` runs a call's stream
 * in one of its connection's `limit` slots (the slot is held while the stream runs and freed as it ends, however it
 * ends — the server interrupts a closed connection's calls), or fails it with `TooManyStreams`; `InvalidSlotLimit`
 * unless `limit` is a whole number of at least 1.
 */
export const streamSlots = (limit: number) =>
  Effect.map(
    StreamSlots.make({
      setting: "maxStreamsPerConnection",
      name: "streams-per-connection",
      limit,
      refuse: (_: number, open) => new TooManyStreams({ limit, open })
    }),
    (slots) => ({
      /** `stream` in a slot of `client`'s connection. */
      limited: <A, E, R>(client: Rpc.ServerClient, stream: Stream.Stream<A, E, R>): Stream.Stream<A, E | TooManyStreams, R> =>
        Stream.unwrap(Effect.as(slots.take(client.id), stream)),
      /** The connections holding a slot now (a connection whose streams all ended has none). */
      connections: slots.holders
    })
  )

/**
 * The handlers of `TaskRpcs` (and the request validation middleware): each call maps onto `TaskAccess`, and each
 * streaming call holds one of its connection's `maxStreamsPerConnection` slots while it runs (`streamSlots`).
 */
export const layerHandlersWith = (maxStreamsPerConnection: number) => Layer.merge(
  TaskRpcs.toLayer(Effect.gen(function*() {
    const access = yield* TaskAccess.TaskAccess
    const { limited } = yield* streamSlots(maxStreamsPerConnection)
    return TaskRpcs.of({
      Submit: (request) => Effect.map(access.submit(request), (info) => ({ id: info.id })),
      Run: (request) => Effect.flatMap(access.submit(request), (info) => access.awaitInfo(info.id)),
      Get: ({ id }) => access.get(id),
      Await: ({ id }) => access.awaitInfo(id),
      Watch: ({ id }, { client }) => limited(client, access.watch(id)),
      Interrupt: ({ id }) => access.interrupt(id),
      List: (query) => access.list(query),
      Delete: ({ id }) => access.delete(id),
      Purge: (filter) => access.purge(filter),
      Stats: () => access.stats,
      WatchAll: (_, { client }) => limited(client, access.events),
      WatchChanges: ({ after }, { client }) =>
        limited(
          client,
          Stream.map(access.changes(after), (item): WatchChangesItem =>
            item._tag === "Gap" ? { _tag: "Reset", reason: item.reason, after: item.after } : watchChangesItem(item))
        )
    })
  })),
  layerRequestValidation
)

/** `layerHandlersWith` the default `maxStreamsPerConnection`. */
export const layerHandlers = layerHandlersWith(defaults.maxStreamsPerConnection)

/** An HTTP app of an RPC server, as the guards wrap it. */
export type HttpApp = Effect.Effect<HttpServerResponse.HttpServerResponse, never, Scope.Scope | HttpServerRequest.HttpServerRequest>

const encodeMalformed = Schema.encodeSync(MalformedRequest)
const encodeAccessError = Schema.encodeSync(TaskAccessError.TaskAccessError)

/** The answer to a body refused whole at the door: 413 when too large, else 400, with the typed error as the body. */
const refuse = (refusal: Frames.Refusal): HttpServerResponse.HttpServerResponse =>
  refusal._tag === "MalformedRequest"
    ? HttpServerResponse.jsonUnsafe(encodeMalformed(refusal), { status: 400 })
    : HttpServerResponse.jsonUnsafe(encodeAccessError(refusal), {
      status: refusal.reason._tag === "PayloadTooLarge" ? 413 : 400
    })

/** The RPCs whose payload is a submission: the depth limit holds for the task payload inside. */
const submissions: ReadonlySet<string> = new Set(["Submit", "Run"])

/** The door of the TaskRpcs group, with the payload depth limit of the access rules. */
const makeDoor = TaskAccess.TaskAccess.useSync((access) =>
  Frames.make(TaskRpcs.requests as ReadonlyMap<string, any>, access.config.payloadLimit.maxDepth, submissions))

/**
 * Starts a server made by `server` with the serialization provided wrapped in `Frames.serialization`, which takes
 * the messages a guard has parsed already (`Frames.Checked`) as they are: the one setup both guards share.
 */
const readingChecked = <A, E, R>(server: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const base = yield* RpcSerialization.RpcSerialization
    return yield* Effect.provideService(server, RpcSerialization.RpcSerialization, Frames.serialization(base))
  })

/** The options of `RpcServer.toHttpEffect`: tracing, span names, fatal defects. */
export type HttpServerOptions = NonNullable<Parameters<typeof RpcServer.toHttpEffect>[1]>

/**
 * Starts the RPC server of `group` in the current scope and returns the HTTP
 * app serving it over HTTP POST behind the door: it reads the body (at most
 * `maxBodyBytes`) and refuses it whole, answering a typed 4xx, if any line
 * of it is not a well-formed request of the group; else it hands the server
 * the messages it parsed (`Frames.Checked`, as the request's text), which the
 * server reads without parsing the body again — which is why the guard
 * builds the server, with the serialization provided wrapped in
 * `Frames.serialization` (an ndjson one, as for `guardWebsocket`). No client
 * mistake gets a 5xx or an untyped defect. (Also the door of the package's
 * other groups, `WatchRpcServer`.)
 */
export const guardHttp = <Rpcs extends Rpc.Any>(
  group: RpcGroup.RpcGroup<Rpcs>,
  door: Frames.Door,
  maxBodyBytes: number,
  options?: HttpServerOptions
) =>
  Effect.gen(function*() {
    const app = yield* readingChecked(RpcServer.toHttpEffect(group, options))
    const guarded: HttpApp = Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      const body = yield* Effect.result(request.text)
      if (body._tag === "Failure") {
        const error = body.failure
        const tooLarge = error.reason._tag === "RequestParseError" && error.reason.reason === "BodyTooLarge"
        return tooLarge
          ? refuse(TaskAccessError.refuse(new TaskAccessError.PayloadTooLarge({ size: maxBodyBytes + 1, limit: maxBodyBytes })))
          : refuse(new MalformedRequest({ problem: "frame", detail: "the request body could not be read" }))
      }
      const passed: Array<unknown> = []
      const refusal = Frames.checkBody(door, body.success, passed)
      if (refusal !== undefined) return refuse(refusal)
      // The protocol reads the body as text and hands it to the serialization, which takes the parsed messages as they are.
      const checked = Effect.succeed(new Frames.Checked(passed) as unknown as string)
      return yield* Effect.provideService(
        app,
        HttpServerRequest.HttpServerRequest,
        Object.create(request, { text: { value: checked } }) as HttpServerRequest.HttpServerRequest
      )
    }).pipe(Effect.provideService(HttpIncomingMessage.MaxBodySize, ByteSize.bytes(maxBodyBytes)))
    return guarded
  })

/**
 * The socket, its incoming messages checked line by line. A refused request
 * that names one call of the group (a valid id not in flight, an RPC of the
 * group: its payload, a number out of range, its envelope's other fields)
 * fails alone: its `Exit` carries the typed refusal and the other calls go on
 * (`Frames.RefusedCall`). Any other refused line closes the socket with a
 * code (1007 not a message, 1008 refused — an unknown RPC, or a request under
 * the id of a call still in flight, `Frames.InFlight`, whose answer the client
 * could not tell from the first call's —, 1009 too large) and a reason; the
 * lines before it are served. Its answers are sent a turn's worth per message (see
 * `coalescedWriter`), and a client that stops reading is closed once
 * `unsent()` (the bytes waiting in its Node socket, when served by Node) is
 * over `maxUnsentBytes` (see `internal/unsentLimit`).
 */
const guardSocket = (
  socket: Socket.Socket,
  door: Frames.Door,
  maxLineBytes: number,
  unsent: (() => number) | undefined,
  maxUnsentBytes: number
): Socket.Socket => {
  const sending = unsent === undefined
    ? socket
    : Socket.make({
      reader: socket.reader,
      writer: Effect.map(socket.writer, (writer) => UnsentLimit.bound(writer, unsent, maxUnsentBytes))
    })
  // The answers written in one turn go out as one message, a refusal's close right after them.
  const coalesced = CoalescedWriter.socket(sending)
  return Socket.make({
    writer: coalesced.writer,
    reader: Effect.gen(function*() {
      const reader = yield* socket.reader
      const output = yield* coalesced.writer
      const lines = new Frames.LineSplitter(maxLineBytes)
      const inFlight = new Frames.InFlight()
      let refused: Frames.Refusal | undefined
      const close = (refusal: Frames.Refusal) =>
        Effect.andThen(
          Effect.ignore(output.write(new Socket.CloseEvent(Frames.closeCode(refusal), Frames.closeReason(refusal)))),
          Effect.fail(
            new Socket.SocketError({ reason: new Socket.SocketCloseError({ code: Frames.closeCode(refusal) }) })
          )
        )
      // The lines that pass go on parsed, as one `Checked` per pull: the protocol reads them without parsing them again.
      // A message resumes this fiber inside the socket's message callback; it yields first, so that the checks, the
      // decoding and the calls' dispatch run in a task of its scheduler, not in the callback, where they were work no
      // turn's budget bounded (the service's `TurnScheduler`: 7% of its busy time in the full load mix).
      const pull: Effect.Effect<readonly [string, ...Array<string>], Socket.SocketError> = Effect.suspend(() => {
        if (refused !== undefined) return close(refused)
        return Effect.flatMap(Effect.tap(reader.pull, () => Effect.yieldNow), (messages) => {
          const passed: Array<unknown> = []
          // The answers of refused calls that fail alone (`Frames.RefusedCall`), sent before the lines that passed go on.
          let answers = ""
          for (const message of messages) {
            const split = lines.push(message)
            if (split === "too-long") {
              refused = TaskAccessError.refuse(new TaskAccessError.PayloadTooLarge({ size: maxLineBytes + 1, limit: maxLineBytes }))
              break
            }
            for (const line of split) {
              if (line.trim() === "") continue
              const verdict = door.checkSocket(line, passed, inFlight)
              if (verdict instanceof Frames.RefusedCall) answers += verdict.answer
              else refused = verdict
              if (refused !== undefined) break
            }
            if (refused !== undefined) break
          }
          // The socket's reader carries text or bytes; the server's serialization takes this too: `guardWebsocket`, the
          // only one to make a guarded socket, made the server with `Frames.serialization`.
          const next = passed.length > 0
            ? Effect.succeed([new Frames.Checked(passed, inFlight) as unknown as string] as const)
            : refused !== undefined
            ? close(refused)
            : pull
          return answers === "" ? next : Effect.andThen(Effect.ignore(output.write(answers)), next)
        })
      })
      return { ...reader, pull }
    })
  })
}

/** The options of `RpcServer.toHttpEffectWebsocket`: tracing, span names, fatal defects, disconnects. */
export type WebsocketServerOptions = NonNullable<Parameters<typeof RpcServer.toHttpEffectWebsocket>[1]>

/**
 * Starts the RPC server of `group` in the current scope and returns the HTTP
 * app that upgrades requests to WebSocket, its sockets guarded by
 * `guardSocket`. The server's serialization is the one provided, wrapped by
 * `Frames.serialization` here, which alone reads the messages the guard
 * parsed: that is why the guard builds the server, rather than wrap an app
 * made with whatever serialization. The door reads ndjson lines of the
 * protocol's messages, so the serialization provided must be ndjson
 * (`RpcSerialization.ndjson`, or an encoder of its own like it); with any
 * other, the first message closes the socket as malformed. (Also used by the
 * package's other groups.) A socket served by Node whose client stops reading
 * is closed once more than `maxUnsentBytes` wait to be sent to it.
 */
export const guardWebsocket = <Rpcs extends Rpc.Any>(
  group: RpcGroup.RpcGroup<Rpcs>,
  door: Frames.Door,
  maxLineBytes: number,
  options?: WebsocketServerOptions,
  maxUnsentBytes: number = defaults.maxUnsentBytes
) =>
  Effect.map(readingChecked(RpcServer.toHttpEffectWebsocket(group, options)), (app) =>
    Effect.updateService(app, HttpServerRequest.HttpServerRequest, (request) =>
      Object.create(request, {
        upgrade: {
          value: Effect.map(request.upgrade, (socket) => guardSocket(socket, door, maxLineBytes, unsentOf(request), maxUnsentBytes))
        }
      }) as HttpServerRequest.HttpServerRequest))

/** The bytes waiting to be sent on the Node socket under `request` (a WebSocket upgrade keeps it), if Node serves it. */
const unsentOf = (request: HttpServerRequest.HttpServerRequest): (() => number) | undefined => {
  const source: unknown = request.source
  const socket = source instanceof Http.IncomingMessage ? source.socket : undefined
  return socket instanceof Net.Socket ? () => socket.writableLength : undefined
}

/**
 * Starts the RPC server in the current scope and returns the HTTP app serving
 * it over plain HTTP POST (ndjson framing, so streams flow as they are
 * produced), for an app that routes requests itself. A body that is not a
 * batch of well-formed requests is refused whole with a typed 400 (or 413).
 */
export const toHttpEffect = (options: Partial<TaskRpcServerConfig> = {}) =>
  Effect.gen(function*() {
    const door = yield* makeDoor
    return yield* guardHttp(TaskRpcs, door, options.maxBodyBytes ?? defaults.maxBodyBytes, {
      disableTracing: options.disableTracing ?? defaults.disableTracing
    })
  }).pipe(Effect.provide(Layer.merge(handlersOf(options), PreEncoded.layerNdjson)))

/** The handlers with the connection's stream limit of `options`. */
const handlersOf = (options: Partial<TaskRpcServerConfig>) =>
  options.maxStreamsPerConnection === undefined ? layerHandlers : layerHandlersWith(options.maxStreamsPerConnection)

/**
 * Starts the RPC server in the current scope and returns the HTTP app that
 * upgrades requests to WebSocket; a line that is not a well-formed request
 * closes the socket with a code and a reason.
 */
export const toHttpEffectWebsocket = (options: Partial<TaskRpcServerConfig> = {}) =>
  Effect.gen(function*() {
    const door = yield* makeDoor
    return yield* guardWebsocket(TaskRpcs, door, options.maxBodyBytes ?? defaults.maxBodyBytes, {
      disableTracing: options.disableTracing ?? defaults.disableTracing
    }, options.maxUnsentBytes ?? defaults.maxUnsentBytes)
  }).pipe(Effect.provide(Layer.merge(handlersOf(options), PreEncoded.layerNdjson)))

/** Options of the server layers: where to mount, and the server's settings. */
export interface MountOptions extends Partial<TaskRpcServerConfig> {
  /** The route of the RPC endpoint, e.g. `"/rpc"`. */
  readonly path: HttpRouter.PathInput
}

/**
 * Mounts the RPC server at `POST path` of the current `HttpRouter` (HTTP protocol, ndjson); `InvalidSlotLimit` when
 * `maxStreamsPerConnection` is not a whole number of at least 1.
 */
export const layerHttp = (
  options: MountOptions
): Layer.Layer<never, StreamSlots.InvalidSlotLimit, HttpRouter.HttpRouter | Requirements> =>
  Layer.effectDiscard(Effect.gen(function*() {
    const router = yield* HttpRouter.HttpRouter
    yield* router.add("POST", options.path, yield* toHttpEffect(options))
  }))

/** Mounts the RPC server at `GET path` of the current `HttpRouter` (WebSocket protocol, ndjson); see `layerHttp`. */
export const layerWebsocket = (
  options: MountOptions
): Layer.Layer<never, StreamSlots.InvalidSlotLimit, HttpRouter.HttpRouter | Requirements> =>
  Layer.effectDiscard(Effect.gen(function*() {
    const router = yield* HttpRouter.HttpRouter
    yield* router.add("GET", options.path, yield* toHttpEffectWebsocket(options))
  }))
