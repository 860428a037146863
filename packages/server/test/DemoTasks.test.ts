/**
 * The built-in demo kinds as a fresh service runs them, on a supervisor over the memory store: `demo-scan`
 * paces itself block by block, reports each block and counts `block % 3` transfers; `demo-fail` reports its
 * steps and then fails with its typed error; their payload rules refuse a range that runs backwards and
 * out-of-range numbers, at their bounds.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Option, Stream } from "effect"
import { TaskEvent, Tasks } from "@chainjobs/tasks"
import { advance, settle, supervisor } from "@chainjobs/tasks/test/fixtures"
import * as DemoTasks from "../src/DemoTasks.ts"

const demos = supervisor(DemoTasks.layer)

/** Submits a demo task and returns how it ended and the progress (percent, message) it reported on the way. */
const runDemo = <K extends typeof DemoTasks.DemoScan | typeof DemoTasks.DemoFail>(kind: K, payload: K["payload"]["Type"]) =>
  Effect.gen(function*() {
    const tasks = yield* Tasks.Tasks
    const progressed = yield* tasks.events.pipe(
      Stream.takeUntil((event: TaskEvent.TaskEvent) => event._tag === "Finished"),
      Stream.filter((event) => event._tag === "Progressed"),
      Stream.map((event) => [event.info.progress, event.info.message] as const),
      Stream.runCollect,
      Effect.forkScoped
    )
    yield* settle
    const handle = yield* tasks.submit(kind, payload)
    const exit = yield* handle.await
    return { exit, progress: Array.from(yield* Fiber.join(progressed)) }
  })

describe("the demo kinds", () => {
  it.effect("demo-scan reports each block with the transfers so far and returns the blocks and transfers", () =>
    Effect.gen(function*() {
      const { exit, progress } = yield* runDemo(DemoTasks.DemoScan, { fromBlock: 4, toBlock: 7, delayMillis: 0 })
      // 4 % 3 + 5 % 3 + 6 % 3 + 7 % 3 = 1 + 2 + 0 + 1
      assert.deepStrictEqual(exit, Exit.succeed({ blocks: 4, transfers: 4 }))
      assert.deepStrictEqual(progress, [
        [25, "block 4 of 7: 1 transfers"],
        [50, "block 5 of 7: 3 transfers"],
        [75, "block 6 of 7: 3 transfers"],
        [100, "block 7 of 7: 4 transfers"]
      ])
    }).pipe(Effect.scoped, Effect.provide(demos)))

  it.effect("demo-scan spends delayMillis on each block before reporting it", () =>
    Effect.gen(function*() {
      const tasks = yield* Tasks.Tasks
      const handle = yield* tasks.submit(DemoTasks.DemoScan, { fromBlock: 1, toBlock: 2, delayMillis: 1000 })
      yield* settle
      assert.strictEqual((yield* handle.info).progress ?? 0, 0)
      yield* advance(1)
      assert.strictEqual((yield* handle.info).progress, 50)
      assert.strictEqual((yield* handle.info).status, "running")
      yield* advance(1)
      assert.deepStrictEqual(yield* handle.await, Exit.succeed({ blocks: 2, transfers: 1 + 2 }))
    }).pipe(Effect.provide(demos)))

  it.effect("demo-fail reports its steps, then fails with DemoError saying so", () =>
    Effect.gen(function*() {
      const { exit, progress } = yield* runDemo(DemoTasks.DemoFail, { steps: 2, delayMillis: 0 })
      assert.isTrue(Exit.isFailure(exit))
      const error = Exit.isFailure(exit) ? Option.getOrUndefined(Exit.findErrorOption(exit)) : undefined
      assert.instanceOf(error, DemoTasks.DemoError)
      assert.strictEqual((error as DemoTasks.DemoError).message, "gave up after 2 steps, as asked")
      assert.deepStrictEqual(progress.map(([, message]) => message), ["step 1 of 2", "step 2 of 2"])
      assert.deepStrictEqual(progress.map(([percent]) => Math.round(percent ?? 0)), [33, 67])
    }).pipe(Effect.scoped, Effect.provide(demos)))

  it.effect("payloads: a backwards range and numbers out of range are refused, their bounds accepted", () =>
    Effect.gen(function*() {
      const tasks = yield* Tasks.Tasks
      const refused = (kind: string, payload: unknown) => Effect.flip(tasks.submitEncoded(kind, payload))
      const backwards = yield* refused("demo-scan", { fromBlock: 5, toBlock: 4, delayMillis: 0 })
      assert.strictEqual(backwards._tag, "InvalidPayload")
      assert.include(backwards.message, "toBlock must not be below fromBlock")
      assert.strictEqual((yield* refused("demo-scan", { fromBlock: 0, toBlock: 0, delayMillis: 60_001 }))._tag, "InvalidPayload")
      assert.strictEqual((yield* refused("demo-fail", { steps: 1001, delayMillis: 0 }))._tag, "InvalidPayload")
      // the bounds themselves: one block, the longest pace, the most steps
      const single = yield* tasks.submitEncoded("demo-scan", { fromBlock: 5, toBlock: 5, delayMillis: 0 })
      assert.deepStrictEqual(yield* single.await, Exit.succeed({ blocks: 1, transfers: 2 }))
      yield* tasks.submitEncoded("demo-scan", { fromBlock: 0, toBlock: 0, delayMillis: 60_000 })
      yield* tasks.submitEncoded("demo-fail", { steps: 1000, delayMillis: 60_000 })
    }).pipe(Effect.provide(demos)))
})
