import { assert, describe, it } from "@effect/vitest"
import { Cause, Deferred, Effect, Exit, Fiber, Layer, Metric, Option, Scope } from "effect"
import { immediate, writeNow } from "../src/internal/immediate.ts"
import { TaskStoreError } from "../src/TaskError.ts"
import type { TaskInfo } from "../src/TaskInfo.ts"
import * as TaskStore from "../src/TaskStore.ts"
import { Add, AddLive, Gate, gateLive, startOn } from "./fixtures.ts"

type Operation = "insert" | "update"

/**
 * The memory store with its `insert` and `update` marked as done at once (see `immediate`) by forms that note each
 * write (`now`: operation, status and the sum of an `Add` task); `effects` notes the writes run as Effects instead.
 * `refuse` makes the at-once form refuse a record (fault injection); its Effect form stores it.
 */
const markedStore = (refuse: (info: TaskInfo, operation: Operation) => boolean = () => false) =>
  Effect.map(TaskStore.makeMemory, (memory) => {
    const writes = { now: [] as Array<string>, effects: [] as Array<string> }
    const note = (info: TaskInfo, operation: Operation) => `${operation} ${info.status}`
    const atOnce = (operation: Operation) => {
      const write = writeNow(memory[operation])!
      return (info: TaskInfo) => {
        if (refuse(info, operation)) return new TaskStoreError({ operation, detail: "refused for the test" })
        writes.now.push(note(info, operation))
        return write(info)
      }
    }
    const asEffect = (operation: Operation) => (info: TaskInfo) =>
      Effect.suspend(() => {
        writes.effects.push(note(info, operation))
        return memory[operation](info)
      })
    const store = TaskStore.TaskStore.of({
      ...memory,
      insert: immediate(asEffect("insert"), atOnce("insert")),
      update: immediate(asEffect("update"), atOnce("update"))
    })
    return { store, writes }
  })

/**
 * The memory store whose `update` is an Effect of its own (a wrapper: unmarked, so its Effect runs), held until
 * `release` is done, with no `updateAll`: the final write of a task runs apart from the supervisor's call. `insert`
 * keeps the memory store's mark (a task is inserted running at once). `finals` notes the status of each update stored.
 */
const heldUpdates = Effect.gen(function*() {
  const memory = yield* TaskStore.makeMemory
  const release = yield* Deferred.make<void>()
  const finals: Array<string> = []
  const { updateAll: _, ...unbatched } = memory
  const store = TaskStore.TaskStore.of({
    ...unbatched,
    update: (info) =>
      Effect.andThen(Deferred.await(release), Effect.tap(memory.update(info), () => Effect.sync(() => finals.push(info.status))))
  })
  return { finals, memory, release, store }
})

describe("a store whose writes are done at once", () => {
  it.effect("is written at once, never through an Effect: a task's running insert and its final record", () =>
    Effect.gen(function*() {
      const { store, writes } = yield* markedStore()
      const { scope, tasks } = yield* startOn(store, AddLive)
      const handle = yield* tasks.submit(Add, { a: 1, b: 2 })
      assert.strictEqual(yield* handle.join, 3)
      assert.deepStrictEqual(writes, { now: ["insert running", "update completed"], effects: [] })
      assert.strictEqual(Option.getOrThrow(yield* store.get(handle.id)).result, 3)
      yield* Scope.close(scope, Exit.void)
    }))

  it.effect("writes a task that waited for a worker pending, then running, then final, in order", () =>
    Effect.gen(function*() {
      const { store, writes } = yield* markedStore()
      const gates = yield* gateLive
      const { scope, tasks } = yield* startOn(store, Layer.mergeAll(AddLive, gates.layer), { maxWorkers: 1 })
      const held = yield* tasks.submit(Gate, { id: "g" })
      const waiting = yield* tasks.submit(Add, { a: 2, b: 2 })
      assert.strictEqual((yield* waiting.info).status, "pending")
      yield* gates.open("g")
      assert.strictEqual(yield* held.join, "g")
      assert.strictEqual(yield* waiting.join, 4)
      assert.deepStrictEqual(writes, {
        now: ["insert running", "insert pending", "update completed", "update running", "update completed"],
        effects: []
      })
      yield* Scope.close(scope, Exit.void)
    }))

  it.effect("ends a task whose running record is refused as a defect, its handler never run, nothing run as an Effect", () =>
    Effect.gen(function*() {
      const { store, writes } = yield* markedStore((info, operation) => operation === "update" && info.status === "running")
      const gates = yield* gateLive
      const { scope, tasks } = yield* startOn(store, Layer.mergeAll(AddLive, gates.layer), { maxWorkers: 1 })
      const held = yield* tasks.submit(Gate, { id: "g" })
      const waiting = yield* tasks.submit(Add, { a: 2, b: 2 })
      yield* gates.open("g")
      yield* held.join
      const exit = yield* waiting.await
      assert.isTrue(Exit.isFailure(exit) && Cause.hasDies(exit.cause))
      const stored = Option.getOrThrow(yield* store.get(waiting.id))
      assert.deepStrictEqual([stored.status, stored.reason, stored.result], ["failed", "defect", null])
      assert.deepStrictEqual(writes.effects, [])
      yield* Scope.close(scope, Exit.void)
    }))

  it.effect("writes a final record refused at once again, as an Effect, and its task ends told and stored", () =>
    Effect.gen(function*() {
      let refusals = 0
      const { store, writes } = yield* markedStore((info, operation) =>
        operation === "update" && info.status === "completed" && refusals++ === 0
      )
      const { scope, tasks } = yield* startOn(store, AddLive)
      const handle = yield* tasks.submit(Add, { a: 1, b: 1 })
      assert.strictEqual(yield* handle.join, 2)
      assert.deepStrictEqual(writes, { now: ["insert running"], effects: ["update completed"] })
      assert.strictEqual(Option.getOrThrow(yield* store.get(handle.id)).status, "completed")
      assert.strictEqual((yield* tasks.stats).running, 0)
      yield* Scope.close(scope, Exit.void)
    }))

  it.effect("fails a submission whose insert is refused at once, holding nothing of it", () =>
    Effect.gen(function*() {
      const { store, writes } = yield* markedStore((_, operation) => operation === "insert")
      const { scope, tasks } = yield* startOn(store, AddLive, { maxWorkers: 1 })
      const refused = yield* Effect.flip(tasks.submit(Add, { a: 1, b: 1 }))
      assert.instanceOf(refused, TaskStoreError)
      assert.deepStrictEqual(yield* tasks.stats, { pending: 0, running: 0, maxWorkers: 1, runningByKind: {}, accepting: true })
      assert.deepStrictEqual(writes, { now: [], effects: [] })
      yield* Scope.close(scope, Exit.void)
    }))

  it.effect("runs a task whose handler is done at once (it gave an Exit) in no fiber; one whose handler waits in one", () =>
    Effect.gen(function*() {
      let fibers = 0
      const counting: Metric.FiberRuntimeMetricsService = { recordFiberStart: () => void fibers++, recordFiberEnd: () => {} }
      const { store } = yield* markedStore()
      const gates = yield* gateLive
      const { scope, tasks } = yield* Effect.provideService(
        startOn(store, Layer.mergeAll(AddLive, gates.layer)),
        Metric.FiberRuntimeMetrics,
        counting
      )
      const before = fibers
      const sums = yield* Effect.forEach([1, 2, 3], (a) => Effect.flatMap(tasks.submit(Add, { a, b: 1 }), (handle) => handle.join))
      assert.deepStrictEqual(sums, [2, 3, 4])
      assert.strictEqual(fibers - before, 0)
      const held = yield* tasks.submit(Gate, { id: "g" })
      assert.strictEqual(fibers - before, 1)
      yield* gates.open("g")
      yield* held.join
      yield* Scope.close(scope, Exit.void)
    }))

  it.effect("a handler done at once over a store whose final write is an Effect: the runtime's close waits for that write", () =>
    Effect.gen(function*() {
      const { finals, memory, release, store } = yield* heldUpdates
      const { scope, tasks } = yield* startOn(store, AddLive)
      const handle = yield* tasks.submit(Add, { a: 1, b: 2 })
      const closing = yield* Effect.forkChild(Scope.close(scope, Exit.void))
      // the close runs as far as it goes before the held write (every other step is done at once)
      for (let turn = 0; turn < 50; turn++) yield* Effect.yieldNow
      assert.isUndefined(closing.pollUnsafe(), "the close did not wait for the final write")
      assert.deepStrictEqual(finals, [])
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(closing)
      assert.deepStrictEqual(finals, ["completed"])
      assert.strictEqual(Option.getOrThrow(yield* memory.get(handle.id)).result, 3)
    }))

  it.effect("a handler done at once whose final write is an Effect, interrupted while it is held: the interrupt and the close wait for it, the task ends completed", () =>
    Effect.gen(function*() {
      const { finals, memory, release, store } = yield* heldUpdates
      const { scope, tasks } = yield* startOn(store, AddLive)
      const handle = yield* tasks.submit(Add, { a: 1, b: 2 })
      // its handler has ended (done at once); only the final write is left, in no task fiber: the interrupt has no
      // fiber to stop, and must wait for that write as for any task's end
      const interrupting = yield* Effect.forkChild(tasks.interrupt(handle.id))
      const closing = yield* Effect.forkChild(Scope.close(scope, Exit.void))
      for (let turn = 0; turn < 50; turn++) yield* Effect.yieldNow
      assert.isUndefined(interrupting.pollUnsafe(), "the interrupt did not wait for the final write")
      assert.isUndefined(closing.pollUnsafe(), "the close did not wait for the final write")
      assert.deepStrictEqual(finals, [])
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(interrupting)
      yield* Fiber.join(closing)
      // the handler succeeded before the interrupt came: a success whoever asked to stop, stored once
      assert.deepStrictEqual(finals, ["completed"])
      assert.strictEqual(Option.getOrThrow(yield* memory.get(handle.id)).result, 3)
      assert.deepStrictEqual(yield* Effect.flatMap(handle.await, (exit) => exit), 3)
    }))
})
