import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Stream } from "effect"
import * as TaskFeed from "../src/TaskFeed.ts"
import * as Tasks from "../src/Tasks.ts"
import { Add, AddLive, supervisor } from "./fixtures.ts"

const feed = TaskFeed.layer().pipe(Layer.provideMerge(supervisor(AddLive)))

describe("TaskFeed", () => {
  it.effect("a task stream opened with a record older than the task's last one starts at the last one, so it ends", () =>
    Effect.gen(function*() {
      const tasks = yield* Tasks.Tasks
      const hub = yield* TaskFeed.TaskFeed
      const before = (yield* hub.stats).lastEventId
      const handle = yield* tasks.submit(Add, { a: 1, b: 2 })
      // Replayed from before the submission: once it carries the final record, the feed has seen the task finish.
      yield* hub.all({ visible: (info) => info.id === handle.id, after: before }).pipe(
        Stream.takeUntil((item) => item._tag === "Change" && item.info.status === "completed"),
        Stream.runDrain
      )
      // A caller read the record while the task ran, then opened the stream after it finished.
      const read = yield* handle.info
      const stale = { ...read, status: "running" as const, finishedAt: null, result: null }
      const records = yield* Stream.runCollect(hub.watch(handle.id, stale))
      assert.deepStrictEqual(records.map((change) => change.info.status), ["completed"])
    }).pipe(Effect.provide(feed)))

  it.effect("a burst of changes is published a slice per turn of the event loop, so the loop does its I/O in between", () =>
    Effect.gen(function*() {
      const tasks = yield* Tasks.Tasks
      const hub = yield* TaskFeed.TaskFeed
      const seqOf = (eventId: string) => Number(eventId.slice(eventId.lastIndexOf("-") + 1))
      const before = seqOf((yield* hub.stats).lastEventId)
      const burst = 4 * TaskFeed.publishSlice
      // Samples the feed's sequence at every turn of the event loop (each `setImmediate` is one turn's check
      // phase) until the burst's pending records are all published, or 2,000 turns have passed.
      const samples = yield* Effect.promise(() =>
        new Promise<Array<number>>((resolve) => {
          const seen: Array<number> = []
          const sample = () => {
            const seq = seqOf(Effect.runSync(hub.stats).lastEventId) - before
            seen.push(seq)
            if (seq >= burst || seen.length >= 2000) resolve(seen)
            else setImmediate(sample)
          }
          setImmediate(sample)
          // Every payload admitted in this one turn: their pending records reach the feed as one batch.
          Effect.runFork(tasks.submitAll(Add, Array.from({ length: burst }, (_, a) => ({ a, b: 1 }))))
        })
      )
      const steps = samples.map((seq, i) => seq - (i === 0 ? 0 : samples[i - 1]))
      assert.isAtLeast(samples[samples.length - 1], burst, `the burst was not published within 2,000 turns: ${samples.join(",")}`)
      assert.isAtMost(Math.max(...steps), TaskFeed.publishSlice, `changes published per turn: ${steps.filter((n) => n > 0).join(",")}`)
    }).pipe(Effect.provide(feed)))
})
