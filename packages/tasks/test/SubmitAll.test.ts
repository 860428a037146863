import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Schema, Scope } from "effect"
import * as Task from "../src/Task.ts"
import { TaskStoreError } from "../src/TaskError.ts"
import type { TaskInfo } from "../src/TaskInfo.ts"
import * as TaskStore from "../src/TaskStore.ts"
import { Add, AddLive, startOn } from "./fixtures.ts"

/** One task per key at a time; a second submission of a busy key is refused. */
const Keyed = Task.define("keyed", {
  payload: Schema.Struct({ key: Schema.String }),
  success: Schema.String,
  policy: { key: (p: { key: string }) => p.key, onConflict: "reject" }
})
const KeyedLive = Task.implement(Keyed, ({ key }) => Effect.succeed(key))

describe("Tasks.submitAll", () => {
  it.effect("records every task and returns their handles in order", () =>
    Effect.gen(function*() {
      const store = yield* TaskStore.makeMemory
      const { scope, tasks } = yield* startOn(store, AddLive, { maxWorkers: 3 })
      const handles = yield* tasks.submitAll(Add, Array.from({ length: 10 }, (_, a) => ({ a, b: 1 })))
      assert.deepStrictEqual(yield* Effect.forEach(handles, (handle) => handle.join), Array.from({ length: 10 }, (_, a) => a + 1))
      const stored = yield* store.list({})
      assert.deepStrictEqual(
        stored.items.map((info) => info.status),
        Array.from({ length: 10 }, () => "completed")
      )
      yield* Scope.close(scope, Exit.void)
    }))

  it.effect.prop(
    "a payload that does not validate fails the call, and none of the tasks is recorded or holds its key",
    [Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 20 })), Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 19 }))],
    ([count, at]) =>
      Effect.gen(function*() {
        const store = yield* TaskStore.makeMemory
        const { scope, tasks } = yield* startOn(store, KeyedLive)
        const bad = Math.min(at, count - 1)
        const payloads = Array.from({ length: count }, (_, i) => (i === bad ? { key: 42 } : { key: `k${i}` }))
        const error = yield* Effect.flip(tasks.submitAll(Keyed, payloads as Array<{ key: string }>))
        assert.strictEqual(error._tag, "InvalidPayload")
        assert.deepStrictEqual((yield* store.list({})).items, [])
        const stats = yield* tasks.stats
        assert.deepStrictEqual([stats.pending, stats.running], [0, 0])
        // The keys of the valid payloads are free: each can be submitted now.
        const valid = payloads.filter((_, i) => i !== bad) as Array<{ key: string }>
        yield* Effect.forEach(valid, (payload) => tasks.submit(Keyed, payload))
        yield* Scope.close(scope, Exit.void)
      })
  )

  it.effect("two payloads of one busy key in the same call: the second is refused and nothing is recorded", () =>
    Effect.gen(function*() {
      const store = yield* TaskStore.makeMemory
      const { scope, tasks } = yield* startOn(store, KeyedLive)
      const error = yield* Effect.flip(tasks.submitAll(Keyed, [{ key: "a" }, { key: "b" }, { key: "a" }]))
      assert.strictEqual(error._tag, "SubmitRejected")
      assert.deepStrictEqual((yield* store.list({})).items, [])
      yield* Scope.close(scope, Exit.void)
    }))

  it.effect("a store with insertAll records the whole call with one insertAll, and no insert", () =>
    Effect.gen(function*() {
      const memory = yield* TaskStore.makeMemory
      const calls = { insert: 0, insertAll: [] as Array<number> }
      const store = TaskStore.TaskStore.of({
        ...memory,
        insert: (info) => Effect.suspend(() => (calls.insert++, memory.insert(info))),
        insertAll: (infos) => Effect.suspend(() => (calls.insertAll.push(infos.length), memory.insertAll!(infos)))
      })
      const { scope, tasks } = yield* startOn(store, AddLive, { maxWorkers: 3 })
      const handles = yield* tasks.submitAll(Add, Array.from({ length: 10 }, (_, a) => ({ a, b: 1 })))
      assert.deepStrictEqual(calls, { insert: 0, insertAll: [10] })
      assert.deepStrictEqual(yield* Effect.forEach(handles, (handle) => handle.join), Array.from({ length: 10 }, (_, a) => a + 1))
      yield* Scope.close(scope, Exit.void)
    }))

  it.effect("a record insertAll refuses fails the call, lets its key go, and the recorded tasks run to the end", () =>
    Effect.gen(function*() {
      const memory = yield* TaskStore.makeMemory
      // Fault injection: the store refuses the record of key "b" and stores the others.
      const refusal = new TaskStoreError({ operation: "insert", detail: "refused for the test" })
      const store = TaskStore.TaskStore.of({
        ...memory,
        insertAll: (infos: ReadonlyArray<TaskInfo>) =>
          Effect.map(
            memory.insertAll!(infos.filter((info) => (info.payload as { key: string }).key !== "b")),
            (stored) => {
              let i = 0
              return infos.map((info) => (info.payload as { key: string }).key === "b" ? refusal : stored[i++])
            }
          )
      })
      const { scope, tasks } = yield* startOn(store, KeyedLive)
      const error = yield* Effect.flip(tasks.submitAll(Keyed, [{ key: "a" }, { key: "b" }, { key: "c" }]))
      assert.strictEqual(error, refusal)
      const awaitAll = Effect.gen(function*() {
        for (;;) {
          const { items } = yield* store.list({})
          if (items.length === 2 && items.every((info) => info.status === "completed")) return items
          yield* Effect.yieldNow
        }
      })
      const finished = yield* awaitAll
      assert.deepStrictEqual(finished.map((info) => info.result).sort(), ["a", "c"])
      // The refused task holds nothing: its key can be submitted again.
      yield* Effect.flatMap(tasks.submit(Keyed, { key: "b" }), (handle) => handle.join)
      yield* Scope.close(scope, Exit.void)
    }))
})
