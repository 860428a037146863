/**
 * Watching a task whose final record is settled but not yet committed (its
 * store write in flight): the stream tells the record before it (running, as
 * the store holds it), waits on the write, and tells the final record once
 * the write commits, then ends — never an outcome the store has not taken.
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Option, Scope, Stream } from "effect"
import { isTerminal } from "../src/TaskInfo.ts"
import * as TaskStore from "../src/TaskStore.ts"
import { Add, AddLive, settle, startOn } from "./fixtures.ts"

describe("watching a task whose final write is in flight", () => {
  it.effect("tells the running record, then the final one once the write commits", () =>
    Effect.gen(function*() {
      const memory = yield* TaskStore.makeMemory
      const gate = yield* Deferred.make<void>()
      // Every write of a finished record waits for the gate.
      const store = TaskStore.TaskStore.of({
        ...memory,
        update: (info) => isTerminal(info.status) ? Effect.andThen(Deferred.await(gate), memory.update(info)) : memory.update(info)
      })
      const { scope, tasks } = yield* startOn(store, AddLive)
      const handle = yield* tasks.submit(Add, { a: 2, b: 3 })
      yield* settle
      assert.strictEqual(Option.getOrThrow(yield* memory.get(handle.id)).status, "running")

      const watching = yield* Effect.forkChild(Stream.runCollect(tasks.watch(handle.id)))
      yield* settle
      assert.isUndefined(watching.pollUnsafe(), "the stream ended before the write committed")

      yield* Deferred.succeed(gate, undefined)
      yield* settle
      assert.strictEqual(Option.getOrThrow(yield* memory.get(handle.id)).status, "completed")
      const seen = yield* Fiber.join(watching)
      assert.deepStrictEqual(Array.from(seen, (info) => info.status), ["running", "completed"])
      yield* Scope.close(scope, Exit.void)
    }))
})
