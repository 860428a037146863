/**
 * A read whose call fails with a defect is not retried, as by
 * `Effect.retry`: the call is made once and fails with its whole cause,
 * a typed failure beside the defect kept (`internal/retryAfterFailure.ts`).
 * `Effect.retry` would keep only the defect; the client fails with the cause
 * as it came, as it does for the failure its retries stop at. The failing
 * calls are injected by a raw client, as the transport's are in
 * `RemoteRetrySchedule.test`.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Fiber, Stream } from "effect"
import { RpcClientError } from "effect/rpc"
import { TestClock } from "effect/testing"
import { TaskRpcClient } from "@chainjobs/rpc"

const broken = () =>
  new RpcClientError.RpcClientError({
    reason: new RpcClientError.RpcClientDefect({ message: "connection refused", cause: null })
  })

/** A raw client whose `Get` fails with `cause()`, counting its calls. */
const failingGet = (cause: () => Cause.Cause<unknown>) => {
  const calls = { count: 0 }
  const rpc = {
    Stats: () => Effect.die("unused"),
    WatchAll: () => Stream.die("unused"),
    Get: () =>
      Effect.suspend(() => {
        calls.count++
        return Effect.failCause(cause())
      })
  } as unknown as TaskRpcClient.RawClient
  return { calls, rpc }
}

/** `get`'s exit, the test clock moved far past any retry window. */
const exitOfGet = (rpc: TaskRpcClient.RawClient) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.forkChild(Effect.exit(TaskRpcClient.make(rpc, { retryFor: "1 second" }).get("t1")))
    yield* TestClock.adjust("1 minute")
    return yield* Fiber.join(fiber)
  })

describe("remote retry of a defect", () => {
  it.effect("a transport failure that comes with a defect is not retried: the call fails once, with both", () =>
    Effect.gen(function*() {
      const { calls, rpc } = failingGet(() => Cause.combine(Cause.fail(broken()), Cause.die("boom")))
      const exit = yield* exitOfGet(rpc)
      assert.strictEqual(calls.count, 1)
      assert.isTrue(Exit.isFailure(exit))
      if (Exit.isFailure(exit)) {
        assert.isTrue(Cause.hasDies(exit.cause), "the defect is kept")
        assert.isTrue(Cause.hasFails(exit.cause), "the transport failure beside it is kept")
        assert.deepStrictEqual(exit.cause.reasons.filter(Cause.isDieReason).map((reason) => reason.defect), ["boom"])
      }
    }))

  it.effect("a defect alone is not retried either, and the call fails with it", () =>
    Effect.gen(function*() {
      const { calls, rpc } = failingGet(() => Cause.die("boom"))
      const exit = yield* exitOfGet(rpc)
      assert.strictEqual(calls.count, 1)
      assert.isTrue(Exit.isFailure(exit) && Cause.hasDies(exit.cause) && !Cause.hasFails(exit.cause))
    }))
})
