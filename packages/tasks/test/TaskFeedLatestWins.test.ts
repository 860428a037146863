/**
 * When delivering every record of a batch the feed takes from the supervisor
 * would fill more than a delivery slice, a task stream's listeners get the
 * task's latest record of the batch, not every one: a record is the whole
 * task, so the earlier ones are superseded. With many task streams each
 * delivery is a socket write, and delivering every record of a batch made
 * the feed fall further behind the more it was behind. The all-tasks streams
 * still get every change, and a batch within a slice is delivered whole. A
 * task reports five progress values at once (one batch), between two gates,
 * beside a task nobody follows doing the same.
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Layer, Result, Schema, Stream } from "effect"
import * as Task from "../src/Task.ts"
import { TaskContext } from "../src/TaskContext.ts"
import * as TaskFeed from "../src/TaskFeed.ts"
import * as Tasks from "../src/Tasks.ts"
import { makeGates, settle, supervisor } from "./fixtures.ts"

/**
 * Waits at the gate `start` all share, reports 10, 20, … (`steps` values, 10% apart) without waiting in between, then
 * waits at its gate `<id>-end`.
 */
const Burst = Task.define("burst", { payload: Schema.Struct({ id: Schema.String, steps: Schema.Number }), success: Schema.Void })

/**
 * Runs task `b` (followed by `listeners` listeners) and task `q` (followed by none) to their bursts of `steps` progress
 * values together, then to their ends: what each listener heard, and every progress value the all-tasks stream
 * carried for `b`.
 */
const burstHeard = (listeners: number, steps = 5) =>
  Effect.gen(function*() {
    const gateOf = makeGates()
    const burstLive = Task.implement(Burst, ({ id, steps }) =>
      Effect.gen(function*() {
        const context = yield* TaskContext
        yield* Deferred.await(gateOf("start"))
        for (let step = 1; step <= steps; step++) yield* context.progress(10 * step)
        yield* Deferred.await(gateOf(`${id}-end`))
      }))
    const layer = TaskFeed.layer().pipe(Layer.provideMerge(supervisor(burstLive)))
    return yield* Effect.gen(function*() {
      const tasks = yield* Tasks.Tasks
      const hub = yield* TaskFeed.TaskFeed
      const handle = yield* tasks.submit(Burst, { id: "b", steps })
      // A task nobody follows, whose records share the batch: the feed counts only listened tasks' deliveries.
      const quiet = yield* tasks.submit(Burst, { id: "q", steps })
      yield* Effect.repeat(handle.info, { until: (info) => info.status === "running" })
      yield* Effect.repeat(quiet.info, { until: (info) => info.status === "running" })
      const heard = Array.from({ length: listeners }, () => [] as Array<TaskFeed.Change>)
      let ended = 0
      for (const records of heard) {
        yield* hub.listen(handle.id, {
          change: (change) => records.push(change),
          end: () => {
            ended++
          }
        })
      }
      // Every change of the task, from the all-tasks stream, until the last progress value.
      const all = yield* Effect.forkChild(
        hub.all({ visible: (info) => info.id === handle.id }).pipe(
          // The task's running record may be published after this subscribed: the progress values reported after it.
          Stream.filterMap((item) => item._tag === "Change" && item.info.progress > 0 ? Result.succeed(item.info.progress) : Result.failVoid),
          Stream.takeUntil((progress) => progress === 10 * steps),
          Stream.runCollect
        )
      )
      // The all-tasks stream subscribed before the burst.
      yield* settle
      yield* Deferred.succeed(gateOf("start"), undefined)
      const everyChange = yield* Fiber.join(all)
      yield* Deferred.succeed(gateOf("b-end"), undefined)
      yield* Deferred.succeed(gateOf("q-end"), undefined)
      yield* Effect.repeat(Effect.sync(() => ended), { until: (count) => count === heard.length })
      return {
        everyChange,
        // Each listener's running records past 0%, and its last record's status.
        running: heard.map((records) =>
          records.filter((change) => change.info.status === "running" && change.info.progress > 0).map((change) => change.info.progress)
        ),
        last: heard.map((records) => records[records.length - 1].info.status)
      }
    }).pipe(Effect.provide(layer))
  })

describe("TaskFeed task streams", () => {
  it.effect("get the latest record of a batch of a task's changes past a slice; the all-tasks streams get every one", () =>
    Effect.gen(function*() {
      // A slice's worth of listeners: the batch's five records would be five slices of deliveries.
      const { everyChange, last, running } = yield* burstHeard(TaskFeed.deliverySlice)
      assert.deepStrictEqual(everyChange, [10, 20, 30, 40, 50])
      running.forEach((values, i) => assert.deepStrictEqual(values, [50], `listener ${i}`))
      last.forEach((status) => assert.strictEqual(status, "completed"))
    }))

  it.effect("get every record of a batch of exactly one slice of deliveries; one delivery more, the latest", () =>
    Effect.gen(function*() {
      // The rule: latest-wins only when delivering every record would fill MORE than a slice (`deliverySlice`).
      // Four records to a quarter slice of listeners: exactly a slice of deliveries, delivered whole.
      const whole = yield* burstHeard(TaskFeed.deliverySlice / 4, 4)
      assert.deepStrictEqual(whole.everyChange, [10, 20, 30, 40])
      whole.running.forEach((values, i) => assert.deepStrictEqual(values, [10, 20, 30, 40], `listener ${i} of a slice's deliveries`))
      // Three records to a third of a slice and one listeners (43 × 3 = 129): one delivery past it, the latest only.
      const past = yield* burstHeard((TaskFeed.deliverySlice + 1) / 3, 3)
      assert.deepStrictEqual(past.everyChange, [10, 20, 30])
      past.running.forEach((values, i) => assert.deepStrictEqual(values, [30], `listener ${i} of a slice's deliveries and one`))
      past.last.forEach((status) => assert.strictEqual(status, "completed"))
    }))

  it.effect("get every record of a batch within a slice", () =>
    Effect.gen(function*() {
      const { everyChange, last, running } = yield* burstHeard(1)
      assert.deepStrictEqual(everyChange, [10, 20, 30, 40, 50])
      assert.deepStrictEqual(running, [[10, 20, 30, 40, 50]])
      assert.deepStrictEqual(last, ["completed"])
    }))
})
