import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer, Option, Scope } from "effect"
import type { TaskInfo } from "../src/TaskInfo.ts"
import * as TaskStore from "../src/TaskStore.ts"
import { Add, AddLive, Gate, gateLive, settle, startOn } from "./fixtures.ts"

/** A memory store that notes every insert and update it is asked for, as `<operation>:<status>`. */
const countingStore = Effect.map(TaskStore.makeMemory, (store) => {
  const writes: Array<string> = []
  const note = (operation: string, info: TaskInfo) => writes.push(`${operation}:${info.status}`)
  return {
    writes,
    store: TaskStore.TaskStore.of({
      ...store,
      insert: (info) => Effect.andThen(Effect.sync(() => note("insert", info)), store.insert(info)),
      update: (info) => Effect.andThen(Effect.sync(() => note("update", info)), store.update(info))
    })
  }
})

describe("store writes per task", () => {
  it.effect("a task that may start at once is inserted running: two writes in its life, not three", () =>
    Effect.gen(function*() {
      const { store, writes } = yield* countingStore
      const { scope, tasks } = yield* startOn(store, AddLive)
      const handle = yield* tasks.submit(Add, { a: 1, b: 2 })
      assert.strictEqual(yield* handle.join, 3)
      assert.deepStrictEqual(writes, ["insert:running", "update:completed"])
      const stored = Option.getOrThrow(yield* store.get(handle.id))
      assert.strictEqual(stored.startedAt, stored.createdAt)
      yield* Scope.close(scope, Exit.void)
    }))

  it.effect("a task that has to wait is inserted pending and written running when it starts", () =>
    Effect.gen(function*() {
      const { store, writes } = yield* countingStore
      const gates = yield* gateLive
      const { scope, tasks } = yield* startOn(store, Layer.mergeAll(gates.layer, AddLive), { maxWorkers: 1 })
      const first = yield* tasks.submit(Gate, { id: "a" })
      const second = yield* tasks.submit(Add, { a: 1, b: 2 })
      yield* settle
      assert.deepStrictEqual(writes, ["insert:running", "insert:pending"])
      yield* gates.open("a")
      yield* first.join
      assert.strictEqual(yield* second.join, 3)
      assert.deepStrictEqual(writes, ["insert:running", "insert:pending", "update:completed", "update:running", "update:completed"])
      yield* Scope.close(scope, Exit.void)
    }))
})
