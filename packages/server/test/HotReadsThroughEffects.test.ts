/**
 * The hot reads through the effects (`serve`): the path a read takes when its
 * answer is not at hand in the request's own callback — principals that
 * answer with an effect to run (a lookup, not a table's `Exit`), or a
 * supervisor that does not answer for its memory (no `Tasks.peeker`, as a
 * cluster's), or a feed that cannot start listening in the callback (no
 * `listenNow`: one that declares its interest first). On the stack-and-front bench of `hotFront.ts`: there too a
 * read without a known token, or of another principal's task, goes on to the
 * stack, and a finished task's record is answered from memory (the
 * supervisor's, else the feed's final record) with its body kept, and a
 * running task's stream follows it to its final record and the `end` event;
 * a stream whose feed cannot follow the task (its listen fails) goes to the stack,
 * and so does a read during which any of them dies (a defect); a stream
 * that dies once begun is cut off, not left open; a stream whose client left
 * while the feed started listening stops listening at once.
 */
import { assert, describe, layer } from "@effect/vitest"
import { Deferred, Effect, Exit, Logger, Option, Schema } from "effect"
import { Principal, TaskAccess, TaskError, TaskFeed, TaskInfo, Tasks, TaskStore } from "@chainjobs/tasks"
import * as HotReads from "../src/HotReads.ts"
import { TaskRecord, toRecord } from "../src/RestApi.ts"
import { endEvent } from "../src/RestServer.ts"
import { StatusBodies } from "../src/StatusBodies.ts"
import { frontServerWith, get, readBoundMillis, services, submit, tokens } from "./hotFront.ts"

const encodeRecord = Schema.encodeSync(Schema.toCodecJson(TaskRecord))

/** The service's principals answering through an effect to run: never at hand in the request's callback. */
const deferredPrincipals = Effect.map(Principal.Principals, (principals) =>
  Principal.Principals.of({ authenticate: (token) => Effect.suspend(() => principals.authenticate(token)) }))

/** The supervisor without its synchronous read of its memory (`Tasks.peeker` has none for a copy), as a cluster's. */
const unpeekableTasks = Effect.map(Tasks.Tasks, (tasks) => Tasks.Tasks.of({ ...tasks }))

/** A front of the hot reads with `adapt`'s services, keeping bodies in a cache of its own, and alice's task finished. */
const frontAndFinished = <R>(
  adapt: (lean: ReturnType<typeof HotReads.makeWith>) => Effect.Effect<HotReads.Handler, never, R>
) =>
  Effect.gen(function*() {
    const bodies = new StatusBodies()
    const base = yield* frontServerWith(adapt(HotReads.makeWith(bodies)))
    const tasks = yield* Tasks.Tasks
    const task = yield* submit("alice")
    const final = yield* tasks.awaitInfo(task.id)
    return { bodies, url: `${base}/api/tasks/${task.id}`, body: JSON.stringify(encodeRecord(toRecord(final))) }
  })

/** The feed without its synchronous start (`listenNow` answers that it cannot), as one that declares its interest first. */
const laterListening = Effect.map(TaskFeed.TaskFeed, (feed) => TaskFeed.TaskFeed.of({ ...feed, listenNow: () => undefined }))

describe("HotReads through the effects", () => {
  layer(services(TaskStore.layerMemory), { excludeTestServices: true })((it) => {
    it.effect("with principals that answer through effects: no known token, or another's task, goes to the stack; the owner's record is answered and kept", () =>
      Effect.gen(function*() {
        const { bodies, url, body } = yield* frontAndFinished(
          Effect.provideServiceEffect(Principal.Principals, deferredPrincipals)
        )
        for (
          const [who, headers] of [
            ["no token", {}],
            ["an unknown token", { authorization: "Bearer nobody" }],
            ["bob, not the owner", { authorization: `Bearer ${tokens.bob}` }]
          ] as const
        ) {
          const reply = yield* get(url, headers)
          assert.deepStrictEqual([reply.status, reply.text], [418, "stack"], who)
        }
        assert.strictEqual(bodies.size, 0)
        const record = yield* get(url, { authorization: `Bearer ${tokens.alice}` })
        assert.deepStrictEqual([record.status, record.text], [200, body])
        // The supervisor's own record: its body is kept for the next read.
        assert.strictEqual(bodies.size, 1)
      }))

    it.effect("over a supervisor without a synchronous read, a finished task is answered from the feed's final record, its body kept", () =>
      Effect.gen(function*() {
        const { bodies, url, body } = yield* frontAndFinished(Effect.provideServiceEffect(Tasks.Tasks, unpeekableTasks))
        const bearer = { authorization: `Bearer ${tokens.alice}` }
        const record = yield* get(url, bearer)
        assert.deepStrictEqual([record.status, record.text], [200, body])
        assert.strictEqual(bodies.size, 1)
        const stream = yield* get(`${url}/events`, bearer)
        assert.strictEqual(stream.status, 200)
        assert.include(stream.text, `"status":"completed"`)
        assert.isTrue(stream.text.endsWith(new TextDecoder().decode(endEvent)), stream.text)
        const notOwner = yield* get(url, { authorization: `Bearer ${tokens.bob}` })
        assert.strictEqual(notOwner.status, 418)
      }))

    it.effect("over a feed that cannot start listening in the callback, a running task's stream opens through the effects", () =>
      Effect.gen(function*() {
        const base = yield* frontServerWith(Effect.provideServiceEffect(HotReads.make, TaskFeed.TaskFeed, laterListening))
        const task = yield* submit("alice", 50)
        const stream = yield* get(`${base}/api/tasks/${task.id}/events?access_token=${tokens.alice}`)
        assert.strictEqual(stream.status, 200)
        assert.strictEqual(stream.headers.get("content-type"), "text/event-stream")
        const records = stream.text.split("\n\n").filter((frame) => frame.includes("data: ")).map((frame) =>
          JSON.parse(frame.slice(frame.indexOf("data: ") + 6)) as TaskInfo.TaskInfo
        )
        assert.strictEqual(records[records.length - 1]?.status, "completed", stream.text)
        assert.isTrue(stream.text.endsWith(new TextDecoder().decode(endEvent)), stream.text)
      }))

    it.effect("over a feed whose listen fails (a store error), a task's stream is answered by the stack, not left unanswered", () =>
      Effect.gen(function*() {
        const failing = Effect.map(laterListening, (feed) =>
          TaskFeed.TaskFeed.of({ ...feed, listen: () => Effect.fail(new TaskError.TaskStoreError({ operation: "get", detail: "injected" })) }))
        const base = yield* frontServerWith(Effect.provideServiceEffect(HotReads.make, TaskFeed.TaskFeed, failing))
        const task = yield* submit("alice", 50)
        // `get` fails the test if the answer does not end within its bound: before, no status line ever came.
        const stream = yield* get(`${base}/api/tasks/${task.id}/events?access_token=${tokens.alice}`)
        // The bench's stack answers 418 "stack".
        assert.deepStrictEqual([stream.status, stream.text], [418, "stack"])
      }))

    it.effect("a read during which the principals, the store read or the feed dies (a defect) is answered by the stack, not left unanswered", () =>
      Effect.gen(function*() {
        const dies = () => Effect.die(new Error("injected"))
        const dyingPrincipals = Effect.succeed(Principal.Principals.of({ authenticate: dies }))
        const dyingRead = Effect.map(TaskAccess.TaskAccess, (access) => TaskAccess.TaskAccess.of({ ...access, get: dies }))
        const dyingListen = Effect.map(laterListening, (feed) => TaskFeed.TaskFeed.of({ ...feed, listen: dies }))
        // The front's warnings: a defect the stack's answer hides from the client is logged for the operator.
        const warnings: Array<unknown> = []
        const capture = Logger.make<unknown, void>(({ logLevel, message }) => {
          if (logLevel === "Warn") warnings.push(Array.isArray(message) ? message[0] : message)
        })
        const task = yield* submit("alice", 50)
        for (
          const [what, lean, path] of [
            ["the principals die", Effect.provideServiceEffect(HotReads.make, Principal.Principals, dyingPrincipals), task.id],
            // A task the supervisor does not hold: read from the store.
            ["the store read dies", Effect.provideServiceEffect(HotReads.make, TaskAccess.TaskAccess, dyingRead), "not-held"],
            ["the feed's listen dies", Effect.provideServiceEffect(HotReads.make, TaskFeed.TaskFeed, dyingListen), `${task.id}/events`]
          ] as const
        ) {
          const base = yield* frontServerWith(Effect.provideService(lean, Logger.CurrentLoggers, new Set([capture])))
          warnings.length = 0
          // `get` fails the test if the answer does not end within its bound: before, no status line ever came.
          const reply = yield* get(`${base}/api/tasks/${path}?access_token=${tokens.alice}`)
          assert.deepStrictEqual([reply.status, reply.text], [418, "stack"], what)
          assert.deepStrictEqual(warnings, ["chainjobs: a hot read died; the stack answers it"], what)
        }
      }))

    it.effect("a stream whose client leaves while the feed starts listening stops listening once the listen is made", () =>
      Effect.gen(function*() {
        const listenBegun = yield* Deferred.make<void>()
        const gate = yield* Deferred.make<void>()
        const stopped = yield* Deferred.make<void>()
        // The feed's listen waits for the test's gate; the stop it answers is noted.
        const gatedListen = Effect.map(laterListening, (feed) =>
          TaskFeed.TaskFeed.of({
            ...feed,
            listen: (id, listener, info) =>
              Deferred.succeed(listenBegun, undefined).pipe(
                Effect.andThen(Deferred.await(gate)),
                Effect.andThen(feed.listen(id, listener, info)),
                Effect.map((stop) => () => {
                  Deferred.doneUnsafe(stopped, Exit.void)
                  stop()
                })
              )
          }))
        const socketClosed = yield* Deferred.make<void>()
        const base = yield* frontServerWith(
          Effect.provideServiceEffect(HotReads.make, TaskFeed.TaskFeed, gatedListen),
          // told once every listener of the socket's close has run (the response's close among them)
          (server) =>
            server.on("connection", (socket) => socket.once("close", () => setImmediate(() => Deferred.doneUnsafe(socketClosed, Exit.void))))
        )
        // running for seconds: its feed would keep the listener that long
        const task = yield* submit("alice", 20_000)
        const client = new AbortController()
        fetch(`${base}/api/tasks/${task.id}/events?access_token=${tokens.alice}`, { signal: client.signal }).catch(() => undefined)
        yield* Deferred.await(listenBegun)
        client.abort()
        // the server has seen the client leave (its response's close is past) before the listen is made
        yield* Deferred.await(socketClosed)
        yield* Deferred.succeed(gate, undefined)
        // bounded as the file's reads are (a loaded machine): without the stop it would wait for the task's end
        const stop = yield* Effect.timeoutOption(Deferred.await(stopped), readBoundMillis)
        assert.isTrue(Option.isSome(stop), "the listen of a gone client's stream was never stopped")
      }), 30_000)

    it.effect("a stream whose feed dies after its first frame is cut off: its client sees the connection close, not a wait", () =>
      Effect.gen(function*() {
        // The feed writes the task's record, then dies: the answer has begun, the stack can no longer give its own.
        const dyingAfterAFrame = Effect.map(laterListening, (feed) =>
          TaskFeed.TaskFeed.of({
            ...feed,
            listen: (_id, listener, info) =>
              Effect.suspend(() => {
                if (info !== undefined) listener.change(new TaskFeed.Change(1, "test-1", info))
                return Effect.die(new Error("injected"))
              })
          }))
        const base = yield* frontServerWith(Effect.provideServiceEffect(HotReads.make, TaskFeed.TaskFeed, dyingAfterAFrame))
        const task = yield* submit("alice", 50)
        // Cut off: the connection closes (before or after the head reaches the client), not left open to the bound.
        const outcome = yield* Effect.promise(async () => {
          const signal = AbortSignal.timeout(readBoundMillis)
          try {
            const response = await fetch(`${base}/api/tasks/${task.id}/events?access_token=${tokens.alice}`, { signal })
            await response.text()
            return `ended, ${response.status}`
          } catch {
            return signal.aborted ? `not ended within ${readBoundMillis} ms` : "cut off"
          }
        })
        assert.strictEqual(outcome, "cut off")
      }))
  })
})
