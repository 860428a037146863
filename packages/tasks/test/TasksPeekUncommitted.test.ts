/**
 * `Tasks.peek` keeps only committed final records: a task whose final write
 * the store refused every time (the supervisor gives up after its retries,
 * logs, and lets the task go, its waiters told the store's error) is not
 * answered from memory — `peek` answers
 * nothing, and `get` reads the record the store holds (still running), so a
 * hot read never tells an outcome the store never took. The memory store
 * refusing final records is the one fault injected.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { isTerminal, type TaskInfo } from "../src/TaskInfo.ts"
import * as TaskStore from "../src/TaskStore.ts"
import { TaskStoreError } from "../src/TaskError.ts"
import * as Tasks from "../src/Tasks.ts"
import { Add, AddLive, testConfig } from "./fixtures.ts"

/** The memory store, refusing every final record (no batch write: each is refused alone). */
const refusingFinals = Layer.effect(
  TaskStore.TaskStore,
  Effect.map(TaskStore.makeMemory, (store) => {
    const { updateAll: _, ...rest } = store
    return TaskStore.TaskStore.of({
      ...rest,
      update: (info: TaskInfo) =>
        isTerminal(info.status)
          ? Effect.fail(new TaskStoreError({ operation: "update", detail: "the disk is full" }))
          : store.update(info)
    })
  })
)

describe("Tasks.peek and an uncommitted final record", () => {
  it.live("a final record the store refused is not answered from memory: get reads the stored record", () =>
    Effect.gen(function*() {
      const tasks = yield* Tasks.Tasks
      const handle = yield* tasks.submit(Add, { a: 1, b: 2 })
      // The supervisor's own waiters learn the store's refusal once it lets the task go (after its retries).
      const refused = yield* Effect.flip(tasks.awaitInfo(handle.id))
      assert.strictEqual(refused.message, "task store update: the disk is full")
      const stored = yield* tasks.get(handle.id)
      assert.notStrictEqual(stored.status, "completed", "the store took the final record after all")
      assert.isUndefined(Tasks.peek(tasks, handle.id), "peek answered a final record the store never took")
    }).pipe(Effect.provide(AddLive.pipe(Layer.provideMerge(Tasks.layer(testConfig)), Layer.provideMerge(refusingFinals)))),
    30_000)
})
