/**
 * Moving tasks between processes on one store: `adopt` takes over a record
 * this process does not hold (a pending one runs here; a running one
 * resumes as its next attempt, or fails as `lost` if its kind does not
 * resume; a finished or already held one is left alone; one of a kind not
 * registered here waits for it), and `handOff` lets go of a task for another
 * process (a running one is stopped and left pending from its checkpoint,
 * whatever its kind's `onRestart`; a waiting one stays pending; one that
 * waits for its kind is forgotten here).
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Deferred, Effect, Exit, Fiber, Layer, Option, Schema, Stream } from "effect"
import { Task, TaskContext, TasksConfig, TaskStore, TaskSupervisor } from "../src/index.ts"
import type { TaskInfo } from "../src/TaskInfo.ts"
import { settle } from "./fixtures.ts"
import { record } from "./TaskStoreConformance.ts"

/** Counts up to `to`, checkpointing each step, waiting for the test's go between steps; resumes from its checkpoint. */
const Steps = Task.define("adopt-steps", {
  payload: Schema.Struct({ to: Schema.Int }),
  success: Schema.Int,
  checkpoint: Schema.Struct({ at: Schema.Int }),
  policy: { onRestart: "resume" }
})
/** The same, failing as lost after a restart. */
const Once = Task.define("adopt-once", {
  payload: Schema.Struct({ to: Schema.Int }),
  success: Schema.Int,
  checkpoint: Schema.Struct({ at: Schema.Int }),
  policy: { onRestart: "fail" }
})
/** A kind this process registers only when the test says so. */
const Late = Task.define("adopt-late", { payload: Schema.Struct({ n: Schema.Int }), success: Schema.Int })

/** The handlers, stepping when `go` is opened (a new one each step), noting the checkpoint each run began from. */
const handlers = (go: { current: Deferred.Deferred<void> }, began: Array<number>) => {
  const run = (to: number, context: TaskContext.Typed<{ readonly at: number }, never>) =>
    Effect.gen(function*() {
      const from = Option.match(yield* context.lastCheckpoint, { onNone: () => 0, onSome: (c) => c.at })
      began.push(from)
      for (let at = from + 1; at <= to; at++) {
        yield* Deferred.await(go.current)
        yield* context.checkpoint({ at })
      }
      return to
    })
  return Layer.mergeAll(
    Task.implement(Steps, ({ to }, context) => run(to, context)),
    Task.implement(Once, ({ to }, context) => run(to, context))
  )
}

/** A supervisor over `store` with the step kinds, and a gate the test opens to let them step. */
const process = (store: TaskStore.TaskStore["Service"], options: Partial<TasksConfig.TasksConfig["Service"]> = {}) =>
  Effect.gen(function*() {
    const go = { current: yield* Deferred.make<void>() }
    const began: Array<number> = []
    const context = yield* Layer.build(
      handlers(go, began).pipe(
        Layer.provideMerge(TaskSupervisor.layer({ shutdownGracePeriod: 0, ...options })),
        Layer.provide(Layer.succeed(TaskStore.TaskStore, store))
      )
    )
    const step = Effect.gen(function*() {
      const open = go.current
      go.current = yield* Deferred.make<void>()
      yield* Deferred.succeed(open, undefined)
      yield* settle
    })
    return { tasks: Context.get(context, TaskSupervisor.Tasks), step, began }
  })

const stored = (store: TaskStore.TaskStore["Service"], id: string) =>
  Effect.map(store.get(id), (found): TaskInfo => Option.getOrThrow(found))

describe("adopt", () => {
  it.effect("a pending record written by another process runs here once adopted", () =>
    Effect.gen(function*() {
      const store = yield* TaskStore.makeMemory
      const { step, tasks } = yield* process(store)
      const other = record({ kind: Steps.name, payload: { to: 1 } })
      yield* store.insert(other)
      yield* settle
      assert.strictEqual((yield* stored(store, other.id)).status, "pending", "not taken before adopt")
      yield* tasks.adopt(other.id)
      yield* settle
      assert.strictEqual((yield* tasks.get(other.id)).status, "running")
      yield* step
      const done = yield* stored(store, other.id)
      assert.deepStrictEqual([done.status, done.result], ["completed", 1])
    }))

  it.effect("a running record resumes from its checkpoint as its next attempt; one of a kind that does not resume fails as lost, and is told", () =>
    Effect.gen(function*() {
      const store = yield* TaskStore.makeMemory
      const { began, step, tasks } = yield* process(store)
      const resumable = record({ kind: Steps.name, status: "running", payload: { to: 3 }, checkpoint: { at: 2 }, startedAt: 1 })
      const once = record({ kind: Once.name, status: "running", payload: { to: 3 }, checkpoint: { at: 1 }, startedAt: 1 })
      yield* store.insert(resumable)
      yield* store.insert(once)
      const finished = yield* Effect.forkChild(
        Stream.runCollect(Stream.take(Stream.filter(tasks.events, (event) => event._tag === "Finished"), 1)),
        { startImmediately: true }
      )
      yield* tasks.adopt(resumable.id)
      yield* tasks.adopt(once.id)
      yield* settle
      assert.deepStrictEqual(began, [2])
      assert.strictEqual((yield* tasks.get(resumable.id)).attempt, 2)
      const lost = yield* stored(store, once.id)
      assert.deepStrictEqual([lost.status, lost.reason], ["failed", "lost"])
      const told = yield* Fiber.join(finished)
      assert.deepStrictEqual(told.map((event) => event.info.id), [once.id])
      yield* step
      assert.deepStrictEqual([(yield* stored(store, resumable.id)).status, (yield* stored(store, resumable.id)).result], ["completed", 3])
    }))

  it.effect("a finished record, or one already held here, is left alone; an unknown id is not found", () =>
    Effect.gen(function*() {
      const store = yield* TaskStore.makeMemory
      const { began, step, tasks } = yield* process(store)
      const finished = record({ kind: Steps.name, status: "completed", payload: { to: 1 }, result: 1, finishedAt: 5, expiresAt: 10 })
      yield* store.insert(finished)
      yield* tasks.adopt(finished.id)
      yield* settle
      assert.deepStrictEqual(yield* stored(store, finished.id), finished)
      const held = yield* tasks.submit(Steps, { to: 1 })
      yield* settle
      yield* tasks.adopt(held.id)
      yield* settle
      assert.deepStrictEqual(began, [0], "one run, not two")
      assert.strictEqual((yield* tasks.get(held.id)).attempt, 1)
      yield* step
      assert.deepStrictEqual(yield* held.await, Exit.succeed(1))
      const missing = yield* Effect.flip(tasks.adopt("01a00000-0000-7000-8000-000000000000"))
      assert.strictEqual(missing._tag, "TaskNotFound")
    }))

  it.effect("a record of a kind not registered here waits for it; interrupted or handed off before, it never runs here", () =>
    Effect.gen(function*() {
      const store = yield* TaskStore.makeMemory
      const { tasks } = yield* process(store)
      const [waits, interrupted, handedOff] = [1, 2, 3].map((n) => record({ kind: Late.name, payload: { n } }))
      for (const one of [waits, interrupted, handedOff]) {
        yield* store.insert(one)
        yield* tasks.adopt(one.id)
      }
      yield* tasks.interrupt(interrupted.id)
      yield* tasks.handOff(handedOff.id)
      const ran: Array<number> = []
      yield* Layer.build(
        Task.implement(Late, ({ n }) => Effect.sync(() => ran.push(n)).pipe(Effect.as(n))).pipe(
          Layer.provide(Layer.succeed(TaskSupervisor.Tasks, tasks))
        )
      )
      yield* settle
      assert.deepStrictEqual(ran, [1])
      assert.strictEqual((yield* stored(store, waits.id)).status, "completed")
      assert.strictEqual((yield* stored(store, handedOff.id)).status, "pending")
    }))
})

describe("handOff", () => {
  it.effect("a running task is stopped and left pending as its next attempt, from its checkpoint, whatever its kind's onRestart", () =>
    Effect.gen(function*() {
      const store = yield* TaskStore.makeMemory
      const { step, tasks } = yield* process(store)
      for (const kind of [Steps, Once]) {
        const handle = yield* tasks.submit(kind, { to: 5 })
        yield* settle
        yield* step
        yield* step
        yield* tasks.handOff(handle.id)
        const left = yield* stored(store, handle.id)
        assert.deepStrictEqual([left.status, left.attempt, left.checkpoint], ["pending", 2, { at: 2 }], kind.name)
        assert.strictEqual((yield* tasks.stats).running, 0)
        // another process adopts it and carries on from the checkpoint
        const next = yield* process(store)
        yield* next.tasks.adopt(handle.id)
        yield* settle
        assert.deepStrictEqual(next.began, [2])
        for (let i = 0; i < 3; i++) yield* next.step
        assert.strictEqual((yield* stored(store, handle.id)).status, "completed")
      }
    }))

  it.effect("a waiting task stays pending in the store and is let go here (its waiters told); an id not held here is ignored", () =>
    Effect.gen(function*() {
      const store = yield* TaskStore.makeMemory
      const { step, tasks } = yield* process(store, { maxWorkers: 1 })
      const running = yield* tasks.submit(Steps, { to: 1 })
      const waiting = yield* tasks.submit(Steps, { to: 1 })
      yield* settle
      assert.strictEqual((yield* tasks.stats).pending, 1)
      const awaiting = yield* Effect.forkChild(tasks.awaitInfo(waiting.id), { startImmediately: true })
      yield* tasks.handOff(waiting.id)
      assert.strictEqual((yield* tasks.stats).pending, 0)
      // its local waiters learn its last record here
      assert.strictEqual((yield* Fiber.join(awaiting)).status, "pending")
      yield* step
      yield* settle
      assert.strictEqual((yield* stored(store, running.id)).status, "completed")
      // the freed worker did not start it: it waits in the store for its next owner
      assert.deepStrictEqual([(yield* stored(store, waiting.id)).status, (yield* stored(store, waiting.id)).attempt], ["pending", 1])
      yield* tasks.handOff("01a00000-0000-7000-8000-000000000000")
      yield* tasks.handOff(running.id)
      assert.strictEqual((yield* stored(store, running.id)).status, "completed")
    }))
})

describe("handOff of a task still being recorded", () => {
  it.effect("it never starts here and stays pending in the store, whether it would start at once or wait; handOff returns once it is stored so", () =>
    Effect.gen(function*() {
      const memory = yield* TaskStore.makeMemory
      const gate = yield* Deferred.make<void>()
      // Every insert waits for the gate: the submissions are being recorded when their shard moves.
      const store = TaskStore.TaskStore.of({ ...memory, insert: (info) => Effect.andThen(Deferred.await(gate), memory.insert(info)) })
      const { began, tasks } = yield* process(store, { maxWorkers: 1 })
      // the first would start at once, the second wait for the one worker
      const ids = ["01a00000-0000-7000-8000-0000000000a1", "01a00000-0000-7000-8000-0000000000a2"]
      const submitting = yield* Effect.forEach(ids, (id) => Effect.forkChild(tasks.submit(Steps, { to: 1 }, { id }), { startImmediately: true }))
      yield* settle
      const handingOff = yield* Effect.forkChild(Effect.forEach(ids, (id) => tasks.handOff(id), { discard: true }), { startImmediately: true })
      yield* settle
      // not before the inserts are done
      assert.isUndefined(handingOff.pollUnsafe())
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(handingOff)
      yield* Effect.forEach(submitting, Fiber.join)
      yield* settle
      assert.deepStrictEqual(began, [])
      for (const id of ids) {
        const left = Option.getOrThrow(yield* memory.get(id))
        assert.deepStrictEqual([left.status, left.attempt, left.startedAt], ["pending", 1, null])
      }
      assert.deepStrictEqual([(yield* tasks.stats).running, (yield* tasks.stats).pending], [0, 0])
    }))
})
