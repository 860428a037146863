import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Option, Schema, Scope } from "effect"
import { TaskStoreError } from "../src/TaskError.ts"
import type { TaskInfo } from "../src/TaskInfo.ts"
import * as TaskStore from "../src/TaskStore.ts"
import { Add, AddLive, joinWithin, settle, startOn } from "./fixtures.ts"

/**
 * The memory store with an `updateAll` (the memory store has none): it notes
 * the size of every call and every `update`, waits for `gate` before writing,
 * and refuses the records `refuse` names (fault injection), storing the others.
 */
const batchingStore = (gate: Deferred.Deferred<void>, refuse: (info: TaskInfo) => boolean = () => false) =>
  Effect.map(TaskStore.makeMemory, (memory) => {
    const calls = { update: [] as Array<string>, updateAll: [] as Array<number> }
    const refusal = new TaskStoreError({ operation: "update", detail: "refused for the test" })
    const store = TaskStore.TaskStore.of({
      ...memory,
      update: (info) => Effect.suspend(() => (calls.update.push(info.status), memory.update(info))),
      updateAll: (infos) =>
        Effect.suspend(() => {
          calls.updateAll.push(infos.length)
          return Effect.andThen(
            Deferred.await(gate),
            Effect.forEach(infos, (info) => refuse(info) ? Effect.succeed(refusal) : Effect.as(memory.update(info), undefined))
          )
        })
    })
    return { calls, store }
  })

const sums = (count: number) => Array.from({ length: count }, (_, a) => a + 1)

describe("the final writes of tasks over a store with updateAll", () => {
  it.effect("tasks ending together are written with one updateAll and no update, and none is told before it committed", () =>
    Effect.gen(function*() {
      const gate = yield* Deferred.make<void>()
      const { calls, store } = yield* batchingStore(gate)
      const { scope, tasks } = yield* startOn(store, AddLive, { maxWorkers: 10 })
      const handles = yield* tasks.submitAll(Add, Array.from({ length: 10 }, (_, a) => ({ a, b: 1 })))
      const joins = yield* Effect.forkChild(Effect.forEach(handles, (handle) => handle.join))
      yield* settle
      assert.deepStrictEqual(calls, { update: [], updateAll: [10] })
      // Not committed yet: nobody is told, the tasks still hold their workers and read as running.
      assert.isUndefined(joins.pollUnsafe())
      assert.strictEqual((yield* tasks.stats).running, 10)
      assert.deepStrictEqual((yield* tasks.list({})).items.map((info) => info.status), Array(10).fill("running"))
      yield* Deferred.succeed(gate, undefined)
      assert.deepStrictEqual(yield* joinWithin(joins, 1, "the joins"), sums(10))
      assert.strictEqual((yield* tasks.stats).running, 0)
      assert.deepStrictEqual((yield* tasks.list({})).items.map((info) => info.status), Array(10).fill("completed"))
      yield* Scope.close(scope, Exit.void)
    }))

  it.effect.prop(
    "a record updateAll refuses is written again alone and its task still ends told and stored; the others are not written twice",
    [Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 12 })), Schema.Array(Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 11 })))],
    ([count, refused]) =>
      Effect.gen(function*() {
        const gate = yield* Deferred.make<void>()
        yield* Deferred.succeed(gate, undefined)
        const refusedSums = new Set(refused.filter((a) => a < count).map((a) => a + 1))
        const { calls, store } = yield* batchingStore(gate, (info) => refusedSums.has(info.result as number))
        const { scope, tasks } = yield* startOn(store, AddLive, { maxWorkers: count })
        const handles = yield* tasks.submitAll(Add, Array.from({ length: count }, (_, a) => ({ a, b: 1 })))
        const joins = yield* Effect.forkChild(Effect.forEach(handles, (handle) => handle.join))
        assert.deepStrictEqual(yield* joinWithin(joins, 1, "the joins"), sums(count))
        assert.deepStrictEqual(calls.updateAll, [count])
        assert.deepStrictEqual(calls.update, Array(refusedSums.size).fill("completed"))
        for (const handle of handles) {
          assert.strictEqual(Option.getOrThrow(yield* store.get(handle.id)).status, "completed")
        }
        yield* Scope.close(scope, Exit.void)
      })
  )
})
