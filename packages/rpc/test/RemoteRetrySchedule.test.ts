/**
 * When the transport fails, the client's reads retry with exponential backoff
 * from `retryDelay`, capped at `retryMaxDelay`, for `retryFor` (defaults 50 ms,
 * 1 s and 30 s); a typed answer is final; the failure the call ends with
 * keeps its cause (trace, annotations); `watchAll` also subscribes again
 * after the server dropped it for falling behind, after the last change it
 * delivered. The transport's failures are
 * injected by a client whose calls fail as a broken connection would.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Clock, Context, Effect, Exit, Fiber, Stream } from "effect"
import { RpcClientError } from "effect/rpc"
import { TestClock } from "effect/testing"
import { TaskError, TaskFeed, type TaskInfo } from "@chainjobs/tasks"
import { TaskRpcClient } from "@chainjobs/rpc"

const broken = () =>
  new RpcClientError.RpcClientError({
    reason: new RpcClientError.RpcClientDefect({ message: "connection refused", cause: null })
  })

/** The number of the call a failure came from, annotated on its cause. */
class Call extends Context.Service<Call, number>()("test/RemoteRetrySchedule/Call") {}

/** A raw client with the given calls; `make` builds `stats` and `watchAll` at once, so they exist, unused. */
const rawClient = (calls: object): TaskRpcClient.RawClient =>
  ({ Stats: () => Effect.die("unused"), WatchAll: () => Stream.die("unused"), ...calls }) as unknown as TaskRpcClient.RawClient

/** A raw client whose `Get` fails with what `failure()` makes, noting the clock at each call. */
const failingGet = (failure: () => unknown) => {
  const calls: Array<number> = []
  const rpc = rawClient({
    Get: () =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Effect.suspend(() => {
          calls.push(now)
          return Effect.fail(failure())
        }))
  })
  return { calls, rpc }
}

/** Runs `client.get` to its failure, moving the test clock far past any retry window. */
const getUntilFailure = (client: TaskRpcClient.TaskRpcClient["Service"]) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.forkChild(Effect.flip(client.get("t1")))
    yield* TestClock.adjust("1 minute")
    return yield* Fiber.join(fiber)
  })

describe("remote retry schedule", () => {
  it.effect("a transport failure is retried with doubling delays up to the cap, for the configured time", () =>
    Effect.gen(function*() {
      const { calls, rpc } = failingGet(broken)
      const client = TaskRpcClient.make(rpc, { retryDelay: "100 millis", retryMaxDelay: "400 millis", retryFor: "2 seconds" })
      const error = yield* getUntilFailure(client)
      assert.strictEqual(error._tag, "RpcClientError")
      // The last retry is decided at 1.9 s, within the 2 seconds; none after.
      assert.deepStrictEqual(calls, [0, 100, 300, 700, 1100, 1500, 1900, 2300])
    }))

  it.effect("by default: from 50 milliseconds, doubling up to 1 second, for 30 seconds", () =>
    Effect.gen(function*() {
      const { calls, rpc } = failingGet(broken)
      const error = yield* getUntilFailure(TaskRpcClient.make(rpc))
      assert.strictEqual(error._tag, "RpcClientError")
      assert.deepStrictEqual(calls.slice(0, 8), [0, 50, 150, 350, 750, 1550, 2550, 3550])
      const gaps = calls.slice(1).map((at, i) => at - calls[i])
      assert.deepStrictEqual(gaps.slice(6), gaps.slice(6).map(() => 1000))
      // Retries are decided for 30 seconds: the failure before the last came within them, the last after.
      assert.isAtMost(calls[calls.length - 2], 30_000)
      assert.isAbove(calls[calls.length - 1], 30_000)
    }))

  it.effect("a typed answer (not found) is not retried", () =>
    Effect.gen(function*() {
      const { calls, rpc } = failingGet(() => new TaskError.TaskNotFound({ id: "t1" }))
      const error = yield* getUntilFailure(TaskRpcClient.make(rpc))
      assert.strictEqual(error._tag, "TaskNotFound")
      assert.deepStrictEqual(calls, [0])
    }))

  it.effect("a failure the retries stop at fails the call with its own cause, its annotations kept: the first when not retried, else the last", () =>
    Effect.gen(function*() {
      // each call's failure annotated with the call's number
      let call = 0
      const annotatedGet = (failure: () => unknown) =>
        rawClient({ Get: () => Effect.suspend(() => Effect.failCause(Cause.annotate(Cause.fail(failure()), Context.make(Call, ++call)))) })
      const causeOf = (rpc: TaskRpcClient.RawClient) =>
        Effect.gen(function*() {
          const fiber = yield* Effect.forkChild(Effect.exit(TaskRpcClient.make(rpc, { retryFor: "1 second" }).get("t1")))
          yield* TestClock.adjust("1 minute")
          const exit = yield* Fiber.join(fiber)
          assert.isTrue(Exit.isFailure(exit))
          return Exit.isFailure(exit) ? Context.getOrUndefined(Cause.annotations(exit.cause), Call) : undefined
        })
      assert.strictEqual(yield* causeOf(annotatedGet(() => new TaskError.TaskNotFound({ id: "t1" }))), 1)
      call = 0
      const retried = yield* causeOf(annotatedGet(broken))
      assert.isAbove(retried!, 1)
      assert.strictEqual(retried, call)
    }))

  it.effect("watchAll subscribes again after being dropped for falling behind, and after a transport failure, after the last change it delivered", () =>
    Effect.gen(function*() {
      const change = (eventId: string, id: string) => ({
        _tag: "Change" as const,
        eventId,
        event: { id, status: "completed" } as unknown as TaskInfo.TaskInfo
      })
      const answers: Array<Stream.Stream<unknown, unknown>> = [
        Stream.concat(Stream.make(change("f-1", "t1")), Stream.fail(broken())),
        // The server read on to f-5: the changes after f-2 were not the caller's to see.
        Stream.concat(
          Stream.make(change("f-2", "t2")),
          Stream.fail(new TaskFeed.SubscriberDropped({ reason: "slow-consumer", limit: 1, lastEventId: "f-5" }))
        ),
        Stream.make(change("f-6", "t3"))
      ]
      const asked: Array<unknown> = []
      const rpc = rawClient({
        WatchChanges: (payload: unknown) =>
          Stream.suspend(() => {
            asked.push(payload)
            return answers.shift() ?? Stream.die("unused")
          })
      })
      const fiber = yield* Effect.forkChild(Stream.runCollect(TaskRpcClient.make(rpc).watchAll))
      yield* TestClock.adjust("1 minute")
      const events = yield* Fiber.join(fiber)
      assert.deepStrictEqual(events.map((event) => (event as TaskInfo.TaskInfo).id), ["t1", "t2", "t3"])
      assert.deepStrictEqual(asked, [{}, { after: "f-1" }, { after: "f-5" }])
    }))

  it.effect("watchChanges dropped resumes where the server's cursor stood (past changes it was not to see)", () =>
    Effect.gen(function*() {
      const answers: Array<Stream.Stream<unknown, unknown>> = [
        Stream.fail(new TaskFeed.SubscriberDropped({ reason: "slow-consumer", limit: 1, lastEventId: "f-7" })),
        Stream.make({ _tag: "Reset", reason: "expired", after: "f-7" })
      ]
      const asked: Array<unknown> = []
      const rpc = rawClient({
        WatchChanges: (payload: unknown) =>
          Stream.suspend(() => {
            asked.push(payload)
            return answers.shift() ?? Stream.die("unused")
          })
      })
      const fiber = yield* Effect.forkChild(Stream.runCollect(TaskRpcClient.make(rpc).watchChanges("f-3")))
      yield* TestClock.adjust("1 minute")
      const items = yield* Fiber.join(fiber)
      assert.deepStrictEqual(items, [{ _tag: "Reset", reason: "expired", after: "f-7" }])
      assert.deepStrictEqual(asked, [{ after: "f-3" }, { after: "f-7" }])
    }))

  it.effect("watchChanges gives up after retryFor of transport failures, with the transport's error", () =>
    Effect.gen(function*() {
      const calls: Array<number> = []
      const rpc = rawClient({
        WatchChanges: () =>
          Stream.fromEffect(Effect.flatMap(Clock.currentTimeMillis, (now) => {
            calls.push(now)
            return Effect.fail(broken())
          }))
      })
      const client = TaskRpcClient.make(rpc, { retryDelay: "100 millis", retryMaxDelay: "400 millis", retryFor: "2 seconds" })
      const fiber = yield* Effect.forkChild(Effect.flip(Stream.runCollect(client.watchChanges())))
      yield* TestClock.adjust("1 minute")
      const error = yield* Fiber.join(fiber)
      assert.strictEqual(error._tag, "RpcClientError")
      assert.deepStrictEqual(calls, [0, 100, 300, 700, 1100, 1500, 1900, 2300])
    }))

  it.effect("a Reset and a drop naming no change leave the resume point where it was; watchAll passes changes only", () =>
    Effect.gen(function*() {
      const change = (eventId: string, id: string) => ({
        _tag: "Change" as const,
        eventId,
        event: { id, status: "completed" } as unknown as TaskInfo.TaskInfo
      })
      const script = () => [
        Stream.concat(Stream.make({ _tag: "Reset", reason: "expired", after: "f-3" }), Stream.fail(broken())),
        Stream.fail(new TaskFeed.SubscriberDropped({ reason: "slow-consumer", limit: 1, lastEventId: "" })),
        Stream.make(change("f-9", "t9"))
      ]
      const scripted = () => {
        const answers: Array<Stream.Stream<unknown, unknown>> = script()
        const asked: Array<unknown> = []
        const rpc = rawClient({
          WatchChanges: (payload: unknown) =>
            Stream.suspend(() => {
              asked.push(payload)
              return answers.shift() ?? Stream.never
            })
        })
        return { asked, client: TaskRpcClient.make(rpc) }
      }
      const changes = scripted()
      const fiber = yield* Effect.forkChild(Stream.runCollect(Stream.take(changes.client.watchChanges("f-3"), 2)))
      yield* TestClock.adjust("1 minute")
      const items = yield* Fiber.join(fiber)
      assert.deepStrictEqual(items.map((item) => item._tag), ["Reset", "Change"])
      assert.deepStrictEqual(changes.asked, [{ after: "f-3" }, { after: "f-3" }, { after: "f-3" }])
      const all = scripted()
      const watched = yield* Effect.forkChild(Stream.runCollect(Stream.take(all.client.watchAll, 1)))
      yield* TestClock.adjust("1 minute")
      assert.deepStrictEqual((yield* Fiber.join(watched)).map((event) => (event as TaskInfo.TaskInfo).id), ["t9"])
    }))
})
