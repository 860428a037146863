/**
 * A purge that removes a final record between its commit and the release of
 * its task (the write's reply not yet handled: over PostgreSQL a round trip)
 * leaves no copy for `Tasks.peek`: once the task is let go, `peek` answers
 * nothing, as the store does. The one fault injected: a memory store whose
 * update of that task's final record commits, then holds its reply until the
 * test lets it go.
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Layer, Option } from "effect"
import { isTerminal, makeId, type TaskInfo } from "../src/TaskInfo.ts"
import * as TaskStore from "../src/TaskStore.ts"
import * as Tasks from "../src/Tasks.ts"
import { Add, AddLive, testConfig } from "./fixtures.ts"

describe("Tasks.peek and a purge racing a task's release", () => {
  it.effect("a final record purged before its task is released is not kept", () =>
    Effect.gen(function*() {
      const id = makeId(Date.now())
      const committed = yield* Deferred.make<void>()
      const reply = yield* Deferred.make<void>()
      const store = yield* TaskStore.makeMemory
      const { updateAll: _, ...rest } = store
      // the final record of task `id` is stored, and its write answers only once the test lets it
      const holding = TaskStore.TaskStore.of({
        ...rest,
        update: (info: TaskInfo) =>
          info.id === id && isTerminal(info.status)
            ? Effect.andThen(store.update(info), Effect.andThen(Deferred.succeed(committed, undefined), Deferred.await(reply)))
            : store.update(info)
      })
      yield* Effect.gen(function*() {
        const tasks = yield* Tasks.Tasks
        yield* tasks.submit(Add, { a: 1, b: 2 }, { id })
        yield* Deferred.await(committed)
        assert.strictEqual(Option.getOrThrow(yield* store.get(id)).status, "completed")
        assert.strictEqual(yield* tasks.purge({ status: ["completed"] }), 1)
        // still held: a wait for it ends when the task is let go, once its write answered
        const released = yield* Effect.forkChild(tasks.awaitInfo(id), { startImmediately: true })
        yield* Deferred.succeed(reply, undefined)
        assert.strictEqual((yield* Fiber.join(released)).status, "completed")
        assert.isUndefined(Tasks.peek(tasks, id), "peek answered a purged task's final record")
      }).pipe(Effect.provide(AddLive.pipe(Layer.provideMerge(Tasks.layer(testConfig)), Layer.provide(Layer.succeed(TaskStore.TaskStore, holding)))))
    }))
})
