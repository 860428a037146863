/**
 * The limit of open single-task streams per principal (`maxTaskStreams`):
 * any sequence of opening and ending task streams by two principals admits
 * one exactly when its principal holds fewer than the limit, refuses it with
 * `TooManyTaskStreams` naming the limit and how many it holds (its own count
 * only), and an ended stream — closed, run to its end, interrupted — frees
 * its slot at once; the all-tasks streams are counted apart.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Layer, Metric, Scope, Stream } from "effect"
import * as TaskAccess from "../src/TaskAccess.ts"
import * as StreamSlots from "../src/StreamSlots.ts"
import { TaskNotFound } from "../src/TaskError.ts"
import { AddLive, gateLive, settle, supervisor } from "./fixtures.ts"
import { as, play, reasonOf, stepFields } from "./slotSteps.ts"

/** How many task streams were refused so far, as `/metrics` counts them (`StreamSlots.refused`, this limit's name). */
const refusedCount = Effect.map(
  Metric.value(Metric.withAttributes(StreamSlots.refused, { limit: "task-streams-per-principal" })),
  (state) => state.count
)

/** A finished task of `who`'s: its id. */
const taskOf = (access: TaskAccess.TaskAccess["Service"], who: string) =>
  Effect.map(as(who)(access.submit({ kind: "add", payload: { a: 1, b: 2 } })), ({ id }) => id)

describe("TaskAccess: open task streams per principal", () => {
  it.effect.prop(
    "any sequence of openings and endings admits a task stream exactly while its principal holds fewer than maxTaskStreams",
    stepFields,
    ({ limit, steps }) =>
      Effect.gen(function*() {
        const access = yield* TaskAccess.TaskAccess
        const tasks: Record<string, string> = { alice: yield* taskOf(access, "alice"), bob: yield* taskOf(access, "bob") }
        yield* play({
          limit,
          steps,
          open: (who) => as(who)(access.openWatchChanges(tasks[who]!)),
          refusal: "TooManyTaskStreams",
          streams: "task streams",
          after: (who, held) => assert.strictEqual(access.taskStreams.held(who), held)
        })
        assert.strictEqual(access.taskStreams.holders(), 0, "every slot given back")
      }).pipe(Effect.provide(TaskAccess.layer({ maxTaskStreams: limit }).pipe(Layer.provideMerge(supervisor(AddLive))))),
    { timeout: 60_000, arbitrary: { runs: 40 } }
  )

  it.effect("past the limit watch fails with TooManyTaskStreams and is counted; another task's id not the caller's is not found, no slot taken", () =>
    Effect.gen(function*() {
      const access = yield* TaskAccess.TaskAccess
      const mine = yield* taskOf(access, "alice")
      const bobs = yield* taskOf(access, "bob")
      const refusedBefore = yield* refusedCount
      const [first, second] = yield* Effect.all([Scope.make(), Scope.make()])
      assert.isTrue(Exit.isSuccess(yield* Effect.exit(as("alice")(access.openWatchChanges(mine)).pipe(Scope.provide(first)))))
      assert.isTrue(Exit.isSuccess(yield* Effect.exit(as("alice")(access.openWatchChanges(mine)).pipe(Scope.provide(second)))))
      const refused = yield* Effect.exit(as("alice")(Stream.runCollect(access.watch(mine))))
      assert.deepStrictEqual(reasonOf(refused, "task streams"), { _tag: "TooManyTaskStreams", principal: "alice", limit: 2, open: 2 })
      assert.strictEqual(yield* refusedCount, refusedBefore + 1, "the refusal counted under task-streams-per-principal")
      // Bob's task is not alice's to follow: not found, whatever she holds.
      const foreign = yield* Effect.exit(as("alice")(Stream.runCollect(access.watch(bobs))))
      assert.deepStrictEqual(foreign, Exit.fail(new TaskNotFound({ id: bobs })))
      assert.strictEqual(access.taskStreams.held("alice"), 2)
      // The all-tasks streams are counted apart: alice may still open one.
      assert.isTrue(Exit.isSuccess(yield* Effect.exit(Effect.scoped(Effect.asVoid(as("alice")(access.openChanges()))))))
      // Bob's own task streams are his.
      const bobsRecords = yield* as("bob")(Stream.runCollect(access.watch(bobs)))
      assert.deepStrictEqual(bobsRecords.map((info) => info.status), ["completed"])
      yield* Scope.close(first, Exit.void)
      const again = yield* as("alice")(Stream.runCollect(access.watch(mine)))
      assert.deepStrictEqual(again.map((info) => info.status), ["completed"])
      yield* Scope.close(second, Exit.void)
      assert.strictEqual(access.taskStreams.holders(), 0)
    }).pipe(Effect.provide(TaskAccess.layer({ maxTaskStreams: 2 }).pipe(Layer.provideMerge(supervisor(AddLive))))))

  it.effect("a task stream run to its end, or interrupted while its task runs, frees its slot", () =>
    Effect.gen(function*() {
      const access = yield* TaskAccess.TaskAccess
      const { id } = yield* as("alice")(access.submit({ kind: "gate", payload: { id: "held" } }))
      const running = yield* Effect.forkChild(as("alice")(Stream.runDrain(access.watch(id))), { startImmediately: true })
      yield* settle
      assert.strictEqual(access.taskStreams.held("alice"), 1, "a running watch holds its slot")
      assert.deepStrictEqual(
        reasonOf(yield* Effect.exit(as("alice")(Stream.runDrain(access.watch(id)))), "task streams"),
        { _tag: "TooManyTaskStreams", principal: "alice", limit: 1, open: 1 }
      )
      yield* Fiber.interrupt(running)
      assert.strictEqual(access.taskStreams.held("alice"), 0, "interrupted, it gave its slot back")
      const done = yield* taskOf(access, "alice")
      yield* as("alice")(Stream.runDrain(access.watch(done)))
      assert.strictEqual(access.taskStreams.held("alice"), 0, "run to its end, it gave its slot back")
      yield* as("alice")(Stream.runDrain(Stream.take(access.watch(done), 0)))
      assert.strictEqual(access.taskStreams.held("alice"), 0, "taken in part, it gave its slot back")
    }).pipe(Effect.provide(TaskAccess.layer({ maxTaskStreams: 1 }).pipe(
      Layer.provideMerge(supervisor(Layer.mergeAll(AddLive, Layer.unwrap(Effect.map(gateLive, (gates) => gates.layer)))))
    ))))

  it.effect("a library caller's maxTaskStreams that is NaN, negative, 0, fractional or infinite is refused when the rules are built", () =>
    Effect.gen(function*() {
      for (const maxTaskStreams of [Number.NaN, -1, 0, 2.5, Number.POSITIVE_INFINITY]) {
        const built = yield* Effect.exit(Effect.scoped(Layer.build(TaskAccess.layer({ maxTaskStreams }).pipe(Layer.provide(supervisor(AddLive))))))
        assert.deepStrictEqual(
          built,
          Exit.fail(new StreamSlots.InvalidSlotLimit({ setting: "maxTaskStreams", limit: maxTaskStreams })),
          `maxTaskStreams ${maxTaskStreams}`
        )
      }
    }))

  it.effect("unset, maxTaskStreams is 4096", () =>
    Effect.gen(function*() {
      const access = yield* TaskAccess.TaskAccess
      assert.strictEqual(access.config.maxTaskStreams, 4096)
      assert.strictEqual(access.taskStreams.limit, 4096)
    }).pipe(Effect.provide(TaskAccess.layer().pipe(Layer.provideMerge(supervisor(AddLive))))))
})
