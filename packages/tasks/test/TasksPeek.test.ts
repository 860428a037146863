/**
 * `Tasks.peek`, the supervisor's read without the store: a held task's
 * record is what `get` answers; a finished one's stays until it is deleted
 * or purged (gone before the deletion returns) or pushed out by newer ones;
 * a store-only record and a copy of the supervisor (another object) answer
 * nothing. And `TaskFeed.listenNow` starts a listener at once, with the
 * latest record heard or the one given, as `listen` does.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { RecentFinals } from "../src/internal/recentFinals.ts"
import * as TaskFeed from "../src/TaskFeed.ts"
import type { TaskInfo } from "../src/TaskInfo.ts"
import * as Tasks from "../src/Tasks.ts"
import { Add, AddLive, Gate, gateLive, supervisor } from "./fixtures.ts"

describe("Tasks.peek", () => {
  it.effect("answers held and lately finished records as `get` does, and nothing once deleted or purged", () =>
    Effect.gen(function*() {
      const gates = yield* gateLive
      yield* Effect.gen(function*() {
        const tasks = yield* Tasks.Tasks
        const waiting = yield* tasks.submit(Gate, { id: "g" })
        assert.strictEqual(Tasks.peek(tasks, waiting.id), yield* tasks.get(waiting.id))
        // A copy of the supervisor is another implementation: read through `get`.
        assert.isUndefined(Tasks.peek(Tasks.Tasks.of({ ...tasks }), waiting.id))
        assert.isUndefined(Tasks.peeker(Tasks.Tasks.of({ ...tasks })))
        assert.strictEqual(Tasks.peeker(tasks)?.(waiting.id), yield* tasks.get(waiting.id))
        yield* gates.open("g")
        const final = yield* tasks.awaitInfo(waiting.id)
        assert.strictEqual(Tasks.peek(tasks, waiting.id), final)
        assert.strictEqual(final.status, "completed")
        yield* tasks.delete(waiting.id)
        assert.isUndefined(Tasks.peek(tasks, waiting.id))

        const purged = yield* Effect.flatMap(tasks.submit(Add, { a: 1, b: 2 }), (handle) => Effect.as(handle.join, handle.id))
        assert.strictEqual(Tasks.peek(tasks, purged)?.status, "completed")
        assert.strictEqual(yield* tasks.purge({ status: ["completed"] }), 1)
        assert.isUndefined(Tasks.peek(tasks, purged))
        assert.isUndefined(Tasks.peek(tasks, "no-such-task"))
      }).pipe(Effect.provide(supervisor(Layer.merge(gates.layer, AddLive))))
    }))

  it("keeps the latest finished records up to its capacity, the oldest pushed out first", () => {
    const finals = new RecentFinals(2)
    const record = (id: string) => ({ id }) as TaskInfo
    const [a, b, c] = [record("a"), record("b"), record("c")]
    finals.add(a)
    finals.add(b)
    finals.add(c)
    assert.deepStrictEqual([finals.get("a"), finals.get("b"), finals.get("c"), finals.size], [undefined, b, c, 2])
    finals.delete("b")
    assert.deepStrictEqual([finals.get("b"), finals.size], [undefined, 1])
  })
})

describe("TaskFeed.listenNow", () => {
  it.effect("starts at once with the record given, then hears every change to the end", () =>
    Effect.gen(function*() {
      const gates = yield* gateLive
      yield* Effect.gen(function*() {
        const tasks = yield* Tasks.Tasks
        const feed = yield* TaskFeed.TaskFeed
        const handle = yield* tasks.submit(Gate, { id: "l" })
        const heard: Array<string> = []
        let ended = false
        const stop = feed.listenNow(handle.id, {
          change: (change) => heard.push(change.info.status),
          end: () => {
            ended = true
          }
        }, yield* tasks.get(handle.id))
        assert.isDefined(stop)
        // Delivered before `listenNow` returned: the latest record heard of it (or the one given).
        assert.strictEqual(heard.length, 1)
        assert.oneOf(heard[0], ["pending", "running"])
        assert.strictEqual((yield* feed.stats).task, 1)
        yield* gates.open("l")
        yield* tasks.awaitInfo(handle.id)
        while (!ended) yield* Effect.yieldNow
        assert.strictEqual(heard[heard.length - 1], "completed")
        assert.strictEqual((yield* feed.stats).task, 0)
        stop!()
      }).pipe(Effect.provide(TaskFeed.layer().pipe(Layer.provideMerge(supervisor(gates.layer)))))
    }))

  it.effect("with no record given and none heard, declines (the caller reads the task) and registers nothing", () =>
    Effect.gen(function*() {
      const feed = yield* TaskFeed.TaskFeed
      let heard = 0
      const stop = feed.listenNow("never-submitted", { change: () => void heard++, end: () => void heard++ })
      assert.isUndefined(stop)
      assert.strictEqual(heard, 0)
      assert.strictEqual((yield* feed.stats).task, 0)
    }).pipe(Effect.provide(TaskFeed.layer().pipe(Layer.provideMerge(supervisor(Layer.empty))))))
})
