/**
 * The two reads a busy service answers most — a task's record
 * (`GET /api/tasks/:id`) and its event stream (`GET /api/tasks/:id/events`,
 * one new connection per watched task) — served in front of the HttpApi
 * stack, straight on Node's request and response. Under hundreds of new
 * event streams a second the stack's per-request cost (router, middlewares,
 * security and schema decoding, an Effect stream and fiber per response) was
 * most of each stream's, and kept the event loop saturated.
 *
 * The lean path checks what the stack checks (the bearer token in the header,
 * else `access_token`, through the same `Principals`; the task read through
 * `TaskAccess`, so another principal's task is not found — or, for a task
 * that has just finished, its final record from the feed, held to the same
 * ownership rule, without a store read) and writes the same
 * bytes: the record as the API encodes `TaskRecord`, the stream's frames as
 * the feed encoded them, then the `end` event. It answers only the request
 * it can answer as the stack would: anything else — a refusal, a task that
 * is not found, a store error, another method, an unusual query, a defect on
 * the way — goes on to the full stack, which answers it as it always has.
 *
 * Most reads are answered in the request's own callback, with no fiber:
 * when the principals answer at once (a table of tokens: an `Exit`) and the
 * supervisor holds the task's record in memory (`Tasks.peek`: a task it
 * runs, or one it finished lately and was not deleted since), the status or
 * the stream is written there and then, the stream following the feed
 * through `listenNow`. Any other read runs as an Effect (the store read, the
 * feed's final record). A finished task's status body is encoded once and
 * kept (`StatusBodies`) when its record came from memory (a record read
 * from the store is a new object each time: not kept), served only for the
 * record it was made from and only after the caller's ownership is checked.
 *
 * A slow reader of a stream holds at most one record beyond the socket's
 * buffer (the latest wins, as the feed's own task streams), and always gets
 * the terminal record and the `end` event.
 *
 * A stream holds one of its principal's task-stream slots (`TaskAccess`'s
 * `taskStreams`, shared with RPC `Watch`) from before it follows the feed
 * until its response closes, however it closes. A principal holding all of
 * them goes on to the stack, which refuses it (429 `TooManyTaskStreams`)
 * unless one was freed meanwhile.
 *
 * @since 0.1.0
 */
import { Cause, Context, Effect, Layer, Option, Scheduler } from "effect"
import type * as Http from "node:http"
import { Principal, TaskAccess, TaskFeed, TaskInfo, Tasks } from "@chainjobs/tasks"
import * as HotRequest from "./HotRequest.ts"
import * as HotSubmit from "./HotSubmit.ts"
import * as OpenBudget from "./OpenBudget.ts"
import { recordText } from "./RestApi.ts"
import { endEvent, endEventId } from "./RestServer.ts"
import * as SseKeepAlive from "./SseKeepAlive.ts"
import { StatusBodies } from "./StatusBodies.ts"

/** Handles a request, or passes it on with `next` (to the server's own `request` listeners). */
export type Handler = HotRequest.Handler

/** The slot in front of a Node server's `request` listeners (`install`); empty, every request goes on to them. */
export class Front extends Context.Service<Front, { handler: Handler | undefined }>()("@chainjobs/server/HotReads/Front") {}

/** An empty slot. */
export const front = (): Front["Service"] => ({ handler: undefined })

/** Puts `front` in front of `server`'s `request` listeners. */
export const install = (server: Http.Server, front: Front["Service"]): void => {
  const emit = server.emit as (this: Http.Server, event: string | symbol, ...args: Array<any>) => boolean
  server.emit = function(this: Http.Server, event: string | symbol, ...args: Array<any>): boolean {
    const handler = front.handler
    if (event !== "request" || handler === undefined) return emit.call(this, event, ...args)
    handler(args[0], args[1], () => emit.call(this, event, ...args))
    return true
  } as Http.Server["emit"]
}

/** A task id as the lean path takes it from a URL: nothing to decode (any other id goes on to the stack). */
const plainId = /^[A-Za-z0-9_.~-]+$/

/** Where a task's URLs begin. */
const tasksPrefix = "/api/tasks/"

/** Which hot read a request is, if any: the task id, and whether it asks for the event stream. */
const route = (url: string): { readonly id: string; readonly events: boolean; readonly query: string } | undefined => {
  // Most requests are not task reads: told apart before anything is allocated (the prefix holds no `?`).
  if (!url.startsWith(tasksPrefix)) return undefined
  const { path: whole, query } = HotRequest.split(url)
  const path = whole.slice(tasksPrefix.length)
  const slash = path.indexOf("/")
  const id = slash === -1 ? path : path.slice(0, slash)
  if (!plainId.test(id) || (slash !== -1 && path.slice(slash) !== "/events")) return undefined
  return { id, events: slash !== -1, query }
}

/** `info` if `who` may see it, else `undefined` (a record another principal's, or none). */
const visible = (who: Principal.Principal, info: TaskInfo.TaskInfo | undefined): TaskInfo.TaskInfo | undefined =>
  info !== undefined && Principal.canSee(who, info) ? info : undefined

/** The head of a task's event stream. */
const streamHead = { "cache-control": "no-cache", "content-type": "text/event-stream" }

/**
 * Writes a task's changes to an event-stream response as the feed framed
 * them, then the `end` event, the head before the first of them: a frame
 * that arrives while the socket's buffer is full waits, replaced by any
 * later one (the latest wins). The terminal record waits for the `end` that
 * follows it at once, and the two go out in one write.
 */
const streamTo = (response: Http.ServerResponse): TaskFeed.TaskListener & { readonly resume: () => void } => {
  let waiting: string | undefined
  return {
    change: (change) => {
      if (response.destroyed) return
      if (!response.headersSent) response.writeHead(200, streamHead)
      if (response.writableNeedDrain || TaskInfo.isTerminal(change.info.status)) waiting = change.sseText
      else response.write(change.sseText)
    },
    end: () => {
      if (response.destroyed || response.writableEnded) return
      if (!response.headersSent) response.writeHead(200, streamHead)
      const last = waiting
      waiting = undefined
      // Written in the same tick, the two go out in one write (the response's socket is corked until the next tick).
      if (last !== undefined) response.write(last)
      response.end(endEvent)
    },
    resume: () => {
      if (waiting === undefined || response.destroyed || response.writableEnded) return
      const frame = waiting
      waiting = undefined
      response.write(frame)
    }
  }
}

/**
 * The lean handler over the current principals, access rules, supervisor and
 * feed, keeping finished tasks' status bodies in `bodies`.
 */
export const makeWith = (bodies: StatusBodies) =>
  Effect.gen(function*() {
    const principals = yield* Principal.Principals
    const access = yield* TaskAccess.TaskAccess
    const tasks = yield* Tasks.Tasks
    const feed = yield* TaskFeed.TaskFeed
    const context = yield* Effect.context<never>()
    const run = Effect.runForkWith(context)
    /** The supervisor's synchronous read, if it has one (an in-process supervisor's; not a cluster's). */
    const peek = Tasks.peeker(tasks)
    /** Opens a stream now, or in a coming turn once this poll phase's opens have spent their budget (`OpenBudget`). */
    const budget = OpenBudget.make(Context.get(context, OpenBudget.BudgetMillis), Context.get(context, Scheduler.Scheduler))

    /**
     * Answers a read of `info`, a record the caller may see, unless it opens
     * a stream: its status (a finished task's body from `bodies` when `info`
     * came from memory — `kept`: the object the next read finds again; a
     * store's record is a new object each read, its body not worth keeping),
     * or the 204 that stops a stream that ended. False for a stream to open.
     */
    const answered = (
      request: Http.IncomingMessage,
      response: Http.ServerResponse,
      events: boolean,
      info: TaskInfo.TaskInfo,
      started: number,
      kept: boolean
    ): boolean => {
      if (response.destroyed) return true
      if (!events) {
        const body = kept && TaskInfo.isTerminal(info.status) ? bodies.bodyOf(info, recordText) : recordText(info)
        response.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) })
        response.end(body)
        HotRequest.timedNow(context, "GET", started, 200)
        return true
      }
      // A stream that ended reconnects with `end`: 204 tells the `EventSource` to stop.
      if (request.headers["last-event-id"] === endEventId && TaskInfo.isTerminal(info.status)) {
        response.writeHead(204)
        response.end()
        HotRequest.timedNow(context, "GET", started, 204)
        return true
      }
      return false
    }

    /**
     * A stream now following the feed (`stop` ends that), holding a task-stream slot of `principal`: kept until its
     * response closes, and alive meanwhile; the slot is given back with the feed's listener. A response closed
     * already (its client left while the feed started listening: its `close` is past) stops at once, else the feed
     * would keep the listener, and the response with it, until the task ends.
     */
    const opened = (
      response: Http.ServerResponse,
      writer: ReturnType<typeof streamTo>,
      stop: () => void,
      principal: string,
      started: number
    ): void => {
      const close = () => {
        stop()
        access.taskStreams.leave(principal)
      }
      if (response.destroyed) return close()
      response.on("drain", writer.resume)
      response.once("close", close)
      SseKeepAlive.follow(response)
      HotRequest.timedNow(context, "GET", started, 200)
    }

    /** The read through the effects, when an answer is not at hand at once: the principals', the store's, the feed's. */
    const serve = (
      request: Http.IncomingMessage,
      response: Http.ServerResponse,
      next: () => void,
      hot: { readonly id: string; readonly events: boolean },
      token: string,
      started: number
    ) =>
      Effect.gen(function*() {
        const who = yield* HotRequest.principalOf(principals, request, token)
        if (Option.isNone(who)) return next()
        // A record in memory is answered without a store read, which under load queues behind the commits of every
        // other task's changes: the supervisor's, or else a task's that has just finished, from the feed. Not the
        // feed's over a supervisor that answers for its memory (`peek`): a record it does not hold may have been
        // deleted since the feed heard of it.
        const known = peek !== undefined ? peek(hot.id) : feed.final(hot.id)
        const fromMemory = known !== undefined && Principal.canSee(who.value, known)
        // A read that fails (not found, a store error) goes on to the stack (`unserved`), which answers it.
        const info = fromMemory
          ? known
          : yield* Effect.provideService(access.get(hot.id), Principal.CurrentPrincipal, who.value)
        if (answered(request, response, hot.events, info, started, fromMemory)) return
        // The principal's task streams all open: the stack answers (429 while they still are).
        const principal = who.value.id
        if (!access.taskStreams.enter(principal)) return next()
        const writer = streamTo(response)
        const stop = yield* feed.listen(hot.id, writer, info).pipe(
          Effect.onExit((exit) => exit._tag === "Success" ? Effect.void : Effect.sync(() => access.taskStreams.leave(principal)))
        )
        opened(response, writer, stop, principal, started)
      })

    /**
     * A read `serve` ended without answering — a failure (the task not found or
     * deleted meanwhile, a store error, a feed that cannot follow it) or a
     * defect anywhere in it — goes on to the stack, which answers it as it
     * always has, rather than being left with no answer at all; one whose
     * answer has begun is cut off (its client sees a broken response, not a
     * wait). A defect is logged: the stack's answer hides it from the client.
     */
    const unserved = (response: Http.ServerResponse, next: () => void) => (cause: Cause.Cause<unknown>) =>
      Effect.andThen(
        Cause.hasDies(cause) ? Effect.logWarning("chainjobs: a hot read died; the stack answers it", cause) : Effect.void,
        Effect.sync(() => {
          if (!response.headersSent) next()
          else if (!response.writableEnded) response.destroy()
        })
      )

    const handler: Handler = (request, response, next) => {
      if (request.method !== "GET") return next()
      const hot = request.url === undefined ? undefined : route(request.url)
      const token = hot === undefined ? undefined : HotRequest.queryToken(hot.query)
      if (hot === undefined || token === undefined) return next()
      const started = performance.now()
      // In this callback, with no fiber, when every answer is at hand: the principal, and the record the supervisor
      // holds (a task it runs, or one it finished lately and that was not deleted since).
      const who = HotRequest.principalNow(principals, request, token)
      if (who !== undefined) {
        if (Option.isNone(who)) return next()
        const held = peek?.(hot.id)
        // Not held (any more): a body kept for it is dropped, and the read goes through the effects.
        if (held === undefined) bodies.forget(hot.id)
        // Another principal's task: the stack answers it, as a missing one.
        else if (!Principal.canSee(who.value, held)) return next()
        else if (answered(request, response, hot.events, held, started, true)) return
        // A stream: opened here, or in a coming turn when this poll phase has opened its budget's worth.
        else {
          const throughEffects = () =>
            run(Effect.catchCause(serve(request, response, next, hot, token, started), unserved(response, next)))
          // Opened inline, the record just read (and checked) is the one to follow; queued, the open reads it again in
          // its turn, and follows it only if the caller may see it still: by then the id may name another's task.
          budget((inline) =>
            openHeld(response, inline ? held : visible(who.value, peek?.(hot.id)), hot.id, who.value.id, started, throughEffects, next)
          )
          return
        }
      }
      run(Effect.catchCause(serve(request, response, next, hot, token, started), unserved(response, next)))
    }

    /**
     * Opens the stream of task `id` from `held`, its record as the supervisor
     * holds it now (the request's own read when opened inline; a queued open
     * reads it again when its turn comes, `undefined` if the caller may not
     * see it), following the feed in one of `principal`'s task-stream slots;
     * a task no longer held (or not the caller's), or one the feed cannot
     * follow now, goes `throughEffects`; a principal with no slot free goes
     * on to the stack (`next`). Nothing for a client gone meanwhile.
     */
    const openHeld = (
      response: Http.ServerResponse,
      held: TaskInfo.TaskInfo | undefined,
      id: string,
      principal: string,
      started: number,
      throughEffects: () => void,
      next: () => void
    ): void => {
      if (response.destroyed) return
      if (held !== undefined) {
        if (!access.taskStreams.enter(principal)) return next()
        const writer = streamTo(response)
        const stop = feed.listenNow(id, writer, held)
        if (stop !== undefined) return opened(response, writer, stop, principal, started)
        access.taskStreams.leave(principal)
      }
      throughEffects()
    }
    return handler
  })

/** The lean handler, keeping finished tasks' status bodies in a cache of its own (`StatusBodies`). */
export const make = Effect.suspend(() => makeWith(new StatusBodies()))

/** The handler of the whole lean front: submissions on their own path (`HotSubmit`), the hot reads on this one. */
export const makeFront = Effect.gen(function*() {
  const reads = yield* make
  const submits = yield* HotSubmit.make
  // Each passes on what it does not take.
  const handler: Handler = (request, response, next) =>
    request.method === "POST" ? submits(request, response, next) : reads(request, response, next)
  return handler
})

/**
 * Fills the `Front` the service's Node server was given (if it was: a server
 * without one serves every request on the full stack) with the hot reads and
 * the lean submit path (`HotSubmit`), for as long as the routes last.
 */
export const layer: Layer.Layer<
  never,
  never,
  Principal.Principals | TaskAccess.TaskAccess | Tasks.Tasks | TaskFeed.TaskFeed
> = Layer
  .effectDiscard(Effect.gen(function*() {
    const front = yield* Effect.serviceOption(Front)
    if (Option.isNone(front)) return
    const handler = yield* makeFront
    front.value.handler = handler
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        if (front.value.handler === handler) front.value.handler = undefined
      })
    )
  }))
