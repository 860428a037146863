/**
 * The feed's publish bounded by deliveries (`TaskFeed.deliverySlice`) as well
 * as by changes: task streams' listeners write to their sockets in the
 * publishing turn, so changes with many listeners each must not all fan out
 * in one turn. Tasks held at a gate finish together, each with listeners;
 * the deliveries are counted at every turn of the event loop.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as TaskFeed from "../src/TaskFeed.ts"
import * as Tasks from "../src/Tasks.ts"
import { Gate, gateLive, supervisor } from "./fixtures.ts"

/** Tasks finishing together, and listeners of each: their terminal changes fan out to tasks × listeners deliveries. */
const taskCount = 64
const listenersPerTask = 8

describe("TaskFeed delivery slice", () => {
  it.effect("changes with many listeners are published a slice of deliveries per turn, so the loop does its I/O in between", () =>
    Effect.gen(function*() {
      const gates = yield* gateLive
      const feed = TaskFeed.layer().pipe(
        Layer.provideMerge(supervisor(gates.layer, { maxWorkers: taskCount }))
      )
      yield* Effect.gen(function*() {
        const tasks = yield* Tasks.Tasks
        const hub = yield* TaskFeed.TaskFeed
        const handles = yield* tasks.submitAll(Gate, Array.from({ length: taskCount }, () => ({ id: "all" })))
        // Every task running (waiting at its gate) before the listeners come, so they hear only the ends.
        yield* Effect.forEach(handles, (handle) =>
          Effect.repeat(handle.info, { until: (info) => info.status === "running" }), { discard: true })
        let delivered = 0
        let ended = 0
        const listener: TaskFeed.TaskListener = {
          change: (change) => {
            if (change.info.status === "completed") delivered++
          },
          end: () => {
            ended++
          }
        }
        for (const handle of handles) {
          for (let i = 0; i < listenersPerTask; i++) yield* hub.listen(handle.id, listener)
        }
        const total = taskCount * listenersPerTask
        // Samples the deliveries made at every turn of the event loop (each `setImmediate` is one turn's check
        // phase) from the gate's opening until all are made, or 2,000 turns have passed.
        const samples = yield* Effect.promise(() =>
          new Promise<Array<number>>((resolve) => {
            const seen: Array<number> = []
            const sample = () => {
              seen.push(delivered)
              if (delivered >= total || seen.length >= 2000) resolve(seen)
              else setImmediate(sample)
            }
            setImmediate(sample)
            Effect.runFork(gates.open("all"))
          })
        )
        const steps = samples.map((n, i) => n - (i === 0 ? 0 : samples[i - 1]))
        assert.strictEqual(delivered, total, `deliveries within 2,000 turns: ${samples.join(",")}`)
        assert.strictEqual(ended, total)
        // A change is never split: a slice may pass the bound by its last change's listeners.
        assert.isAtMost(
          Math.max(...steps),
          TaskFeed.deliverySlice + listenersPerTask,
          `deliveries per turn: ${steps.filter((n) => n > 0).join(",")}`
        )
      }).pipe(Effect.provide(feed))
    }))
})
