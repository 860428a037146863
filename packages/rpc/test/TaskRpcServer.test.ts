import { assert, describe, layer } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Layer, Option, Stream } from "effect"
import { RpcMiddleware, RpcTest } from "effect/rpc"
import { Auth, TaskRpcClient, TaskRpcs, TaskRpcServer } from "@chainjobs/rpc"
import type { TaskAccess, TaskAccessError } from "@chainjobs/tasks"
import { failureOf } from "./assertions.ts"
import { Add, Boom, Exclusive, Fail, kinds, serverDependencies, Steps } from "./fixtures.ts"

const finished = new Map<string, string>()

const Server = (access: Partial<TaskAccess.TaskAccessConfig> = {}) =>
  TaskRpcServer.layerHandlers.pipe(
    Layer.provideMerge(serverDependencies(kinds((id, how) => Effect.sync(() => finished.set(id, how))), access))
  )

/** The reason of a `TaskAccessError`, or the error itself for any other. */
const reasonOf = (error: { readonly _tag: string }): any =>
  error._tag === "TaskAccessError" ? (error as TaskAccessError.TaskAccessError).reason : error

/** An in-memory typed client (no serialization) whose calls carry `token`. */
const clientFor = (token: string) =>
  RpcTest.makeClient(TaskRpcs.TaskRpcs).pipe(
    Effect.provide(Auth.layerClient(token)),
    Effect.map((rpc) => TaskRpcClient.make(rpc))
  )

/** A client that sends no token at all. */
const anonymous = RpcTest.makeClient(TaskRpcs.TaskRpcs).pipe(
  Effect.provide(RpcMiddleware.layerClient(Auth.Authentication, ({ next, request }) => next(request))),
  Effect.map((rpc) => TaskRpcClient.make(rpc))
)


describe("TaskRpcServer", () => {
  layer(Server({ payloadLimit: { maxBytes: 200, maxDepth: 32 } }), { excludeTestServices: true })("handles and ownership", (it) => {
    it.effect("submit then await decodes the kind's success Schema", () =>
      Effect.gen(function*() {
        const alice = yield* clientFor("alice-token")
        const sum = yield* alice.submit(Add, { a: 2, b: 3 })
        assert.deepStrictEqual(yield* sum.await, Exit.succeed(5))
        const steps = yield* alice.submit(Steps, { steps: 1, delayMs: 1 })
        const result = yield* steps.join
        assert.instanceOf(result.at, Date)
        assert.strictEqual((yield* steps.info).owner, "alice")
      }))

    it.effect("watchChanges after an id the server never sent starts with Reset (unknown); a deletion comes as a Change carrying Deleted", () =>
      Effect.gen(function*() {
        const alice = yield* clientFor("alice-token")
        // The Reset is the stream's first item, once it is subscribed: the changes after it are live.
        const subscribed = yield* Deferred.make<void>()
        let id = ""
        const watching = yield* alice.watchChanges("nope-1").pipe(
          Stream.tap((item) => item._tag === "Reset" ? Deferred.succeed(subscribed, undefined) : Effect.void),
          Stream.takeUntil((item) =>
            item._tag === "Change" && "_tag" in item.event && item.event._tag === "Deleted" && item.event.info.id === id
          ),
          Stream.runCollect,
          Effect.forkChild
        )
        yield* Deferred.await(subscribed)
        const handle = yield* alice.submit(Add, { a: 2, b: 2 })
        id = handle.id
        yield* handle.join
        yield* alice.delete(handle.id)
        const items = yield* Fiber.join(watching)
        assert.deepStrictEqual(items[0], { _tag: "Reset", reason: "unknown", after: "nope-1" })
        const ours = items.flatMap((item) =>
          item._tag === "Change" && ("_tag" in item.event ? item.event.info.id : item.event.id) === id ? [item] : []
        )
        assert.deepStrictEqual(ours.map((item) => "_tag" in item.event ? "deleted" : item.event.status).slice(-2), ["completed", "deleted"])
        const deleted = ours[ours.length - 1].event
        assert.isTrue("_tag" in deleted && deleted._tag === "Deleted" && deleted.info.status === "completed")
        assert.strictEqual(new Set(ours.map((item) => item.eventId)).size, ours.length)
      }))

    it.effect("await of a failing task gives the kind's typed error", () =>
      Effect.gen(function*() {
        const alice = yield* clientFor("alice-token")
        const handle = yield* alice.submit(Fail, { message: "no luck" })
        const error = failureOf(yield* handle.await)
        assert.instanceOf(error, Boom)
        assert.strictEqual((error as Boom).message, "no luck")
      }))

    it.effect("run submits and awaits in one call: the typed success, or the kind's typed error", () =>
      Effect.gen(function*() {
        const alice = yield* clientFor("alice-token")
        assert.strictEqual(yield* alice.run(Add, { a: 40, b: 2 }), 42)
        const error = yield* Effect.flip(alice.run(Fail, { message: "nope" }))
        assert.instanceOf(error, Boom)
        const invalid = yield* Effect.flip(alice.run(Add, { a: 1 } as any))
        assert.strictEqual(invalid._tag, "InvalidPayload")
      }))

    it.effect("stopping a run call leaves its task running to completion", () =>
      Effect.gen(function*() {
        const alice = yield* clientFor("alice-token")
        assert.isTrue(Option.isNone(yield* Effect.timeoutOption(alice.run(Steps, { steps: 3, delayMs: 10 }), "5 millis")))
        const page = yield* alice.list({ kind: ["steps"], limit: 1 })
        const handle = alice.handle(Steps, page.items[0].id)
        assert.isTrue(Exit.isSuccess(yield* handle.await))
        assert.strictEqual(finished.get(handle.id), "done")
      }))

    it.effect("events report progress and end at the terminal status", () =>
      Effect.gen(function*() {
        const alice = yield* clientFor("alice-token")
        const handle = yield* alice.submit(Steps, { steps: 3, delayMs: 5 })
        const events = yield* Stream.runCollect(handle.events)
        const last = events[events.length - 1]
        assert.strictEqual(last.status, "completed")
        const running = events.filter((e) => e.status === "running" && e.progress > 0)
        assert.deepStrictEqual(running.map((e) => e.message), ["step 1", "step 2", "step 3"])
      }))

    it.effect("stopping a client-side await or watch leaves the task running", () =>
      Effect.gen(function*() {
        const alice = yield* clientFor("alice-token")
        const handle = yield* alice.submit(Steps, { steps: 4, delayMs: 10 })
        assert.isTrue(Option.isNone(yield* Effect.timeoutOption(handle.await, "5 millis")))
        yield* Stream.runDrain(Stream.take(handle.events, 1))
        assert.isTrue(Exit.isSuccess(yield* handle.await))
        assert.strictEqual(finished.get(handle.id), "done")
      }))

    it.effect("interrupt stops the task on the server and runs its finalizer", () =>
      Effect.gen(function*() {
        const alice = yield* clientFor("alice-token")
        const handle = yield* alice.submit(Steps, { steps: 1000, delayMs: 10 })
        yield* Stream.runDrain(Stream.take(Stream.filter(handle.events, (e) => e.status === "running"), 1))
        yield* handle.interrupt
        assert.strictEqual(yield* handle.status, "interrupted")
        assert.strictEqual(finished.get(handle.id), "interrupted")
        assert.isTrue(Exit.hasInterrupts(yield* handle.await))
      }))

    it.effect("another principal can neither see nor control a task: it is not found, as a missing one", () =>
      Effect.gen(function*() {
        const alice = yield* clientFor("alice-token")
        const bob = yield* clientFor("bob-token")
        const root = yield* clientFor("root-token")
        const handle = yield* alice.submit(Steps, { steps: 1000, delayMs: 10 })
        const foreign = bob.handle(Steps, handle.id)
        for (const attempt of [foreign.info, foreign.interrupt, Effect.asVoid(foreign.await), bob.delete(handle.id)]) {
          const error = failureOf(yield* Effect.exit(attempt))
          assert.strictEqual(error._tag, "TaskNotFound")
        }
        assert.strictEqual(failureOf(yield* Effect.exit(Stream.runDrain(foreign.events)))._tag, "TaskNotFound")
        assert.strictEqual(yield* handle.status, "running")
        const bobs = yield* bob.list()
        assert.isFalse(bobs.items.some((info) => info.id === handle.id))
        assert.deepInclude(reasonOf(failureOf(yield* Effect.exit(bob.list({ owner: "alice" })))), { _tag: "Forbidden", operation: "list-others" })
        assert.deepInclude(reasonOf(failureOf(yield* Effect.exit(alice.purge({})))), { _tag: "Forbidden", operation: "purge" })
        // an admin sees and controls every task
        assert.isTrue((yield* root.list({ owner: "alice" })).items.some((info) => info.id === handle.id))
        yield* root.interrupt(handle.id)
        assert.strictEqual(yield* handle.status, "interrupted")
      }))

    it.effect("joining a keyed task of another principal is refused", () =>
      Effect.gen(function*() {
        const alice = yield* clientFor("alice-token")
        const bob = yield* clientFor("bob-token")
        const first = yield* alice.submit(Exclusive, { key: "wallet-1", delayMs: 1000 })
        const again = yield* alice.submit(Exclusive, { key: "wallet-1", delayMs: 1000 })
        assert.strictEqual(again.id, first.id)
        const error = failureOf(yield* Effect.exit(bob.submit(Exclusive, { key: "wallet-1", delayMs: 1000 })))
        assert.deepInclude(error, { _tag: "SubmitRejected", reason: "key-busy" })
        assert.notInclude(JSON.stringify(error), first.id)
        assert.notInclude(error.message, first.id)
        yield* first.interrupt
      }))

    it.effect("watchAll shows a principal only its own tasks", () =>
      Effect.gen(function*() {
        const alice = yield* clientFor("alice-token")
        const bob = yield* clientFor("bob-token")
        const seen = yield* Effect.forkChild(Stream.runHead(alice.watchAll))
        yield* Effect.sleep("20 millis")
        yield* bob.submit(Add, { a: 1, b: 1 })
        const mine = yield* alice.submit(Add, { a: 1, b: 2 })
        const first = Option.getOrThrow(yield* Fiber.join(seen))
        assert.strictEqual("_tag" in first ? first.info.id : first.id, mine.id)
      }))

    it.effect("a call without a known token is refused and changes nothing", () =>
      Effect.gen(function*() {
        const root = yield* clientFor("root-token")
        const before = (yield* root.list()).items.length
        const none = failureOf(yield* Effect.exit(Effect.flatMap(anonymous, (c) => c.submit(Add, { a: 1, b: 1 }))))
        assert.deepInclude(reasonOf(none), { _tag: "Unauthenticated", credential: "missing-token" })
        const stranger = yield* clientFor("forged-token")
        const unknown = failureOf(yield* Effect.exit(stranger.submit(Add, { a: 1, b: 1 })))
        assert.deepInclude(reasonOf(unknown), { _tag: "Unauthenticated", credential: "unknown-token" })
        assert.strictEqual(reasonOf(failureOf(yield* Effect.exit(stranger.stats)))._tag, "Unauthenticated")
        assert.strictEqual((yield* root.list()).items.length, before)
      }))

    it.effect("an oversized or Schema-invalid payload is refused with a typed error and nothing is recorded", () =>
      Effect.gen(function*() {
        const alice = yield* clientFor("alice-token")
        const before = (yield* alice.list()).items.length
        const big = failureOf(yield* Effect.exit(alice.submit(Fail, { message: "x".repeat(500) })))
        assert.deepInclude(reasonOf(big), { _tag: "PayloadTooLarge", limit: 200 })
        const invalid = failureOf(yield* Effect.exit(alice.submit(Add, { a: 1, b: "two" } as never)))
        assert.strictEqual(invalid._tag, "InvalidPayload")
        assert.deepStrictEqual(invalid._tag === "InvalidPayload" ? invalid.issues.map((i) => i.path) : [], [["b"]])
        const unknownKind = failureOf(yield* Effect.exit(alice.submit({ ...Add, name: "nope" } as unknown as typeof Add, {
          a: 1,
          b: 1
        })))
        assert.strictEqual(unknownKind._tag, "UnknownTaskKind")
        assert.strictEqual((yield* alice.list()).items.length, before)
      }))
  })

  layer(Server({ submitLimit: 2, submitWindow: "1 hour", submitBurst: 2 }), { excludeTestServices: true })("rate limit", (it) => {
    it.effect("submissions beyond the quota fail with QuotaExceeded and a retry-after, per principal", () =>
      Effect.gen(function*() {
        const alice = yield* clientFor("alice-token")
        const bob = yield* clientFor("bob-token")
        yield* alice.submit(Add, { a: 1, b: 1 })
        yield* alice.submit(Add, { a: 1, b: 2 })
        const error = reasonOf(failureOf(yield* Effect.exit(alice.submit(Add, { a: 1, b: 3 }))))
        assert.strictEqual(error._tag, "QuotaExceeded")
        assert.strictEqual(error.limit, 2)
        assert.isAbove(error.retryAfterMillis, 0)
        assert.strictEqual((yield* alice.list()).items.length, 2)
        yield* bob.submit(Add, { a: 2, b: 2 })
      }))
  })
})
