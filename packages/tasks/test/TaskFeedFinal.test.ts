/**
 * `TaskFeed.final`: a finished task's record is there while its terminal
 * change is in the ring, and from the change that pushes it out it is not —
 * neither sooner (the ring also pushing out the task's earlier changes must
 * not forget it) nor later. Checked at every change, one deletion of another
 * task at a time, on a feed whose ring holds 8.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Stream } from "effect"
import * as TaskFeed from "../src/TaskFeed.ts"
import * as Tasks from "../src/Tasks.ts"
import { Add, AddLive, supervisor } from "./fixtures.ts"

const replay = 8
const feed = TaskFeed.layer({ replay }).pipe(Layer.provideMerge(supervisor(AddLive)))

describe("TaskFeed.final", () => {
  it.effect("holds a finished task's record exactly while its terminal change is in the ring", () =>
    Effect.gen(function*() {
      const tasks = yield* Tasks.Tasks
      const hub = yield* TaskFeed.TaskFeed
      assert.isUndefined(hub.final("no-such-task"))
      const fillers = yield* Effect.forEach(Array.from({ length: replay + 2 }, (_, a) => a), (a) =>
        Effect.tap(tasks.submit(Add, { a, b: 1 }), (handle) => handle.join))
      // The fillers' changes reach the feed after their joins: once the last one's final record is there, all are.
      while (hub.final(fillers[fillers.length - 1].id) === undefined) yield* Effect.yieldNow
      const before = (yield* hub.stats).lastEventId
      const handle = yield* tasks.submit(Add, { a: 40, b: 2 })
      // Read from before the submission until the feed published the task's final record: its terminal change.
      const last = yield* hub.all({ visible: (info) => info.id === handle.id, after: before }).pipe(
        Stream.takeUntil((item) => item._tag === "Change" && item.info.status === "completed"),
        Stream.runLast
      )
      assert.isTrue(last._tag === "Some" && last.value._tag === "Change")
      const terminal = last._tag === "Some" && last.value._tag === "Change" ? last.value.seq : -1
      assert.strictEqual(hub.final(handle.id)?.status, "completed")
      // Every deletion publishes one change: the ring moves one place at a time.
      const seen: Array<[number, boolean]> = []
      for (const filler of fillers) {
        const after = (yield* hub.stats).lastEventId
        yield* tasks.delete(filler.id)
        const deleted = yield* hub.all({ visible: (info) => info.id === filler.id, after }).pipe(
          Stream.take(1),
          Stream.runLast
        )
        assert.isTrue(deleted._tag === "Some" && deleted.value._tag === "Change" && deleted.value.deleted)
        const seq = deleted._tag === "Some" && deleted.value._tag === "Change" ? deleted.value.seq : -1
        seen.push([seq - terminal, hub.final(handle.id) !== undefined])
      }
      assert.deepStrictEqual(seen, fillers.map((_, i) => [i + 1, i + 1 < replay] as [number, boolean]))
    }).pipe(Effect.provide(feed)))
})
