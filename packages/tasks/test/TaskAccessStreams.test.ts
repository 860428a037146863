/**
 * The limit of open all-tasks streams per principal (`maxEventStreams`):
 * any sequence of opening and ending streams by two principals admits a
 * stream exactly when its principal holds fewer than the limit, refuses it
 * with `TooManyEventStreams` naming the limit and how many it holds, and an
 * ended stream — closed, or run to its end — frees its slot at once; one
 * principal's streams never count against another's.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Layer, Metric, Scope, Stream } from "effect"
import { CurrentPrincipal } from "../src/Principal.ts"
import * as TaskAccess from "../src/TaskAccess.ts"
import * as StreamSlots from "../src/StreamSlots.ts"
import { AddLive, supervisor } from "./fixtures.ts"
import { as, play, principals, reasonOf, stepFields } from "./slotSteps.ts"

/** How many all-tasks streams were refused so far, as `/metrics` counts them (`StreamSlots.refused`, this limit's name). */
const refusedCount = Effect.map(
  Metric.value(Metric.withAttributes(StreamSlots.refused, { limit: "event-streams-per-principal" })),
  (state) => state.count
)

describe("TaskAccess: open all-tasks streams per principal", () => {
  it.effect.prop(
    "any sequence of openings and endings admits a stream exactly while its principal holds fewer than maxEventStreams",
    stepFields,
    ({ limit, steps }) =>
      Effect.gen(function*() {
        const access = yield* TaskAccess.TaskAccess
        yield* play({
          limit,
          steps,
          open: (who) => as(who)(access.openChanges()),
          refusal: "TooManyEventStreams",
          streams: "all-tasks event streams"
        })
      }).pipe(Effect.provide(TaskAccess.layer({ maxEventStreams: limit }).pipe(Layer.provideMerge(supervisor(AddLive))))),
    { timeout: 60_000, arbitrary: { runs: 40 } }
  )

  it.effect("a stream that ends while others of its principal stay open frees one slot, not all of them", () =>
    Effect.gen(function*() {
      const access = yield* TaskAccess.TaskAccess
      const opening = (scope: Scope.Scope) =>
        Effect.exit(access.openChanges().pipe(Effect.provideService(CurrentPrincipal, principals.alice), Scope.provide(scope)))
      const refusedBefore = yield* refusedCount
      const [first, second, third, fourth] = yield* Effect.all([Scope.make(), Scope.make(), Scope.make(), Scope.make()])
      assert.isTrue(Exit.isSuccess(yield* opening(first)))
      assert.isTrue(Exit.isSuccess(yield* opening(second)))
      yield* Scope.close(first, Exit.void)
      // One of two slots is free again: the third is admitted, the fourth refused with the second and third open.
      assert.isTrue(Exit.isSuccess(yield* opening(third)))
      assert.deepStrictEqual(reasonOf(yield* opening(fourth), "all-tasks event streams"), { _tag: "TooManyEventStreams", principal: "alice", limit: 2, open: 2 })
      assert.strictEqual(yield* refusedCount, refusedBefore + 1, "the refusal counted under event-streams-per-principal")
      for (const scope of [second, third, fourth]) yield* Scope.close(scope, Exit.void)
    }).pipe(Effect.provide(TaskAccess.layer({ maxEventStreams: 2 }).pipe(Layer.provideMerge(supervisor(AddLive))))))

  it.effect("a stream run to its end, or interrupted, frees its slot: `changes` holds one only while it runs", () =>
    Effect.gen(function*() {
      const access = yield* TaskAccess.TaskAccess
      const asAlice = Effect.provideService(CurrentPrincipal, principals.alice)
      const opening = () => Effect.exit(Effect.scoped(Effect.asVoid(asAlice(access.openChanges()))))
      // One slot: a running stream holds it…
      const running = yield* Effect.forkChild(Stream.runDrain(access.changes().pipe(Stream.provideService(CurrentPrincipal, principals.alice))))
      yield* Effect.yieldNow
      let refused = yield* opening()
      for (let turn = 0; turn < 100 && Exit.isSuccess(refused); turn++) {
        yield* Effect.yieldNow
        refused = yield* opening()
      }
      assert.deepStrictEqual(reasonOf(refused, "all-tasks event streams"), { _tag: "TooManyEventStreams", principal: "alice", limit: 1, open: 1 })
      // …until it is interrupted; a stream taken only in part (`take`) ends and frees it too.
      yield* Fiber.interrupt(running)
      assert.isTrue(Exit.isSuccess(yield* opening()))
      const none = yield* Stream.runCollect(Stream.take(access.changes().pipe(Stream.provideService(CurrentPrincipal, principals.alice)), 0))
      assert.strictEqual(none.length, 0)
      assert.isTrue(Exit.isSuccess(yield* opening()))
      // Bob was never counted against alice.
      const bobs = yield* Effect.exit(Effect.scoped(Effect.asVoid(access.openChanges().pipe(Effect.provideService(CurrentPrincipal, principals.bob)))))
      assert.isTrue(Exit.isSuccess(bobs))
    }).pipe(Effect.provide(TaskAccess.layer({ maxEventStreams: 1 }).pipe(Layer.provideMerge(supervisor(AddLive))))))

  it.effect("a library caller's maxEventStreams that is NaN, negative, 0, fractional or infinite is refused when the rules are built", () =>
    Effect.gen(function*() {
      for (const maxEventStreams of [Number.NaN, -1, 0, 2.5, Number.POSITIVE_INFINITY]) {
        const built = yield* Effect.exit(Effect.scoped(Layer.build(TaskAccess.layer({ maxEventStreams }).pipe(Layer.provide(supervisor(AddLive))))))
        assert.deepStrictEqual(
          built,
          Exit.fail(new StreamSlots.InvalidSlotLimit({ setting: "maxEventStreams", limit: maxEventStreams })),
          `maxEventStreams ${maxEventStreams}`
        )
      }
    }))
})
