/**
 * What the supervisor holds of a task while it lives here: `submitAll` over
 * a busy exclusive key joins the holder for that payload and records the
 * rest (and lets go of everything if a later payload is invalid, the holder
 * untouched); a submission the store refused is not known by its id
 * afterwards; `get` of a running task reads the live record (a heartbeat
 * not yet stored included); every follower of a task gets every change; and
 * `interrupt` returns once the task's finalizers have run.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Layer, Ref, Schema, Stream } from "effect"
import { TestClock } from "effect/testing"
import * as Task from "../src/Task.ts"
import { TaskContext } from "../src/TaskContext.ts"
import { TaskStoreError } from "../src/TaskError.ts"
import * as TaskStore from "../src/TaskStore.ts"
import * as Tasks from "../src/Tasks.ts"
import { settle, supervisor, testConfig } from "./fixtures.ts"

/** Holds its key until its gate (the test's ref) says go; joins a submission of a busy key. */
const Joining = Task.define("holding-joining", {
  payload: Schema.Struct({ key: Schema.String, n: Schema.Int }),
  success: Schema.Int,
  policy: { key: ({ key }) => key, onConflict: "join" }
})

/** Heartbeats every second, reports progress every 2 s, and notes when its finalizer has run (after a second). */
const Beating = Task.define("holding-beating", { payload: Schema.Struct({}), success: Schema.Void })

const kinds = (finalized: Ref.Ref<boolean>) =>
  Layer.mergeAll(
    Task.implement(Joining, ({ n }) => Effect.as(Effect.sleep("10 seconds"), n)),
    Task.implement(Beating, () =>
      Effect.gen(function*() {
        const context = yield* TaskContext
        yield* Effect.addFinalizer(() => Effect.andThen(Effect.sleep("1 second"), Ref.set(finalized, true)))
        for (let i = 1; ; i++) {
          yield* Effect.sleep("1 second")
          if (i % 2 === 0) yield* context.progress(i)
          else yield* context.heartbeat
        }
      }).pipe(Effect.scoped))
  )

/** Interrupts a task whose finalizer takes a second of the test clock. */
const stop = (id: string) =>
  Effect.gen(function*() {
    const tasks = yield* Tasks.Tasks
    const interrupting = yield* Effect.forkChild(tasks.interrupt(id), { startImmediately: true })
    yield* settle
    yield* TestClock.adjust("1 second")
    yield* Fiber.join(interrupting)
  })

const withKinds = <A, E>(body: (finalized: Ref.Ref<boolean>) => Effect.Effect<A, E, Tasks.Tasks | TaskStore.TaskStore>) =>
  Effect.gen(function*() {
    const finalized = yield* Ref.make(false)
    return yield* body(finalized).pipe(Effect.provide(supervisor(kinds(finalized))))
  })

describe("what the supervisor holds", () => {
  it.effect("submitAll over a busy key joins the holder for that payload and records the others", () =>
    withKinds(() =>
      Effect.gen(function*() {
        const tasks = yield* Tasks.Tasks
        const holder = yield* tasks.submit(Joining, { key: "k", n: 1 })
        const handles = yield* tasks.submitAll(Joining, [{ key: "a", n: 2 }, { key: "k", n: 3 }, { key: "b", n: 4 }])
        assert.strictEqual(handles[1].id, holder.id)
        assert.strictEqual(new Set(handles.map((handle) => handle.id)).size, 3)
        yield* TestClock.adjust("10 seconds")
        assert.deepStrictEqual(yield* Effect.forEach(handles, (handle) => handle.join), [2, 1, 4])
      })))

  it.effect("submitAll with a later invalid payload lets go of everything, the joined holder untouched", () =>
    withKinds(() =>
      Effect.gen(function*() {
        const tasks = yield* Tasks.Tasks
        const holder = yield* tasks.submit(Joining, { key: "k", n: 1 })
        const refused = yield* Effect.exit(tasks.submitAll(Joining, [{ key: "k", n: 2 }, { key: "a", n: 3 }, { key: "b", n: "x" } as never]))
        assert.isTrue(Exit.isFailure(refused))
        assert.strictEqual((yield* Effect.flip(refused)).constructor.name, "InvalidPayload")
        assert.strictEqual((yield* tasks.stats).running, 1)
        // "a" was let go: a new submission of it is admitted and runs
        const a = yield* tasks.submit(Joining, { key: "a", n: 5 })
        assert.notStrictEqual(a.id, holder.id)
        yield* TestClock.adjust("10 seconds")
        assert.deepStrictEqual([yield* holder.join, yield* a.join], [1, 5])
      })))

  it.effect("a submission the store refused is not known by its id afterwards", () =>
    Effect.gen(function*() {
      const memory = yield* TaskStore.makeMemory
      // Fault injection: every insert is refused.
      const store = TaskStore.TaskStore.of({
        ...memory,
        insert: () => Effect.fail(new TaskStoreError({ operation: "insert", detail: "disk full" }))
      })
      const finalized = yield* Ref.make(false)
      yield* Effect.gen(function*() {
        const tasks = yield* Tasks.Tasks
        const id = "01a00000-0000-7000-8000-0000000000aa"
        assert.isTrue(Exit.isFailure(yield* Effect.exit(tasks.submit(Joining, { key: "k", n: 1 }, { id }))))
        assert.strictEqual((yield* Effect.flip(tasks.get(id)))._tag, "TaskNotFound")
      }).pipe(
        Effect.provide(kinds(finalized).pipe(
          Layer.provideMerge(Tasks.layer(testConfig)),
          Layer.provide(Layer.succeed(TaskStore.TaskStore, store))
        ))
      )
    }))

  it.effect("get of a running task reads its live record, a heartbeat not yet stored included", () =>
    withKinds(() =>
      Effect.gen(function*() {
        const tasks = yield* Tasks.Tasks
        const handle = yield* tasks.submit(Beating, {})
        yield* settle
        for (let i = 0; i < 3; i++) {
          yield* TestClock.adjust("1 second")
          yield* settle
        }
        // at 3 s: a heartbeat, after the progress at 2 s
        const live = yield* tasks.get(handle.id)
        assert.deepStrictEqual([live.heartbeatAt, live.progress], [3_000, 2])
        yield* stop(handle.id)
      })))

  it.effect("every follower of a task gets every change", () =>
    withKinds(() =>
      Effect.gen(function*() {
        const tasks = yield* Tasks.Tasks
        const handle = yield* tasks.submit(Beating, {})
        yield* settle
        const follow = Effect.forkChild(
          Stream.runCollect(Stream.take(Stream.filter(tasks.watch(handle.id), (info) => info.progress > 0), 2)),
          { startImmediately: true }
        )
        const first = yield* follow
        const second = yield* follow
        for (let i = 0; i < 4; i++) {
          yield* TestClock.adjust("1 second")
          yield* settle
        }
        for (const fiber of [first, second]) assert.deepStrictEqual((yield* Fiber.join(fiber)).map((info) => info.progress), [2, 4])
        yield* stop(handle.id)
      })))

  it.effect("interrupt returns once the task's finalizers have run", () =>
    withKinds((finalized) =>
      Effect.gen(function*() {
        const tasks = yield* Tasks.Tasks
        const handle = yield* tasks.submit(Beating, {})
        yield* settle
        const interrupting = yield* Effect.forkChild(tasks.interrupt(handle.id), { startImmediately: true })
        yield* settle
        assert.isUndefined(interrupting.pollUnsafe())
        assert.isFalse(yield* Ref.get(finalized))
        yield* TestClock.adjust("1 second")
        yield* Fiber.join(interrupting)
        assert.isTrue(yield* Ref.get(finalized))
        assert.strictEqual((yield* handle.info).status, "interrupted")
      })))
})
