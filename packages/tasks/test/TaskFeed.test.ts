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
})
