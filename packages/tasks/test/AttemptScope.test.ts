import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Layer, Ref, Schema, Scope } from "effect"
import * as Task from "../src/Task.ts"
import { TaskContext } from "../src/TaskContext.ts"
import * as TaskStore from "../src/TaskStore.ts"
import * as Tasks from "../src/Tasks.ts"

/** How a scoped handler ends. */
const Ending = Schema.Literals(["succeed", "fail", "hang"])

class Refused extends Schema.TaggedError<Refused>()("AttemptScopeTest/Refused", { message: Schema.String }) {}

/** A kind without retries (one attempt, in the task's own scope) whose handler adds a finalizer and forks a scoped fiber. */
const Scoped = Task.define("scoped", { payload: Schema.Struct({ ending: Ending }), success: Schema.String, error: Refused })

/** What the handler had: its scope, and its task context. */
interface Had {
  readonly scope: Scope.Scope
  readonly context: unknown
}

const scopedLive = (log: Ref.Ref<ReadonlyArray<string>>, started: Deferred.Deferred<Had>) =>
  Task.implement(Scoped, ({ ending }) =>
    Effect.gen(function*() {
      const scope = yield* Scope.Scope
      yield* Effect.addFinalizer((exit) => Ref.update(log, (lines) => [...lines, `finalizer ${exit._tag}`]))
      yield* Effect.forkScoped(Effect.onInterrupt(Effect.never, () => Ref.update(log, (lines) => [...lines, "child interrupted"])))
      // the forked fiber starts
      yield* Effect.yieldNow
      yield* Deferred.succeed(started, { scope, context: yield* TaskContext })
      if (ending === "fail") return yield* new Refused({ message: "no" })
      if (ending === "hang") return yield* Effect.never
      return "done"
    }))

const runtime = (log: Ref.Ref<ReadonlyArray<string>>, started: Deferred.Deferred<Had>) =>
  scopedLive(log, started).pipe(
    Layer.provideMerge(Tasks.layer({ shutdownGracePeriod: 0 })),
    Layer.provideMerge(TaskStore.layerMemory)
  )

/** Runs a task that ends as `ending`; gives its outcome, what its finalizers logged, and the scope its handler had. */
const runScoped = (ending: typeof Ending.Type, interrupt = false) =>
  Effect.gen(function*() {
    const log = yield* Ref.make<ReadonlyArray<string>>([])
    const started = yield* Deferred.make<Had>()
    return yield* Effect.gen(function*() {
      const tasks = yield* Tasks.Tasks
      const handle = yield* tasks.submit(Scoped, { ending })
      const { context, scope } = yield* Deferred.await(started)
      if (interrupt) yield* tasks.interrupt(handle.id)
      const exit = yield* handle.await
      const info = yield* tasks.get(handle.id)
      return { exit, info, lines: yield* Ref.get(log), scope, context }
    }).pipe(Effect.provide(runtime(log, started)))
  })

describe("the scope of a task's one attempt", () => {
  it.effect("closes when the attempt succeeds, before the outcome is told: finalizers see the exit, scoped fibers end", () =>
    Effect.gen(function*() {
      const { exit, info, lines, scope } = yield* runScoped("succeed")
      assert.deepStrictEqual(exit, Exit.succeed("done"))
      assert.strictEqual(info.status, "completed")
      assert.deepStrictEqual([...lines].sort(), ["child interrupted", "finalizer Success"])
      assert.strictEqual(scope.state._tag, "Closed")
    }))

  it.effect("closes with the failure when the attempt fails", () =>
    Effect.gen(function*() {
      const { exit, info, lines, scope } = yield* runScoped("fail")
      assert.isTrue(Exit.isFailure(exit))
      assert.strictEqual(info.status, "failed")
      assert.deepStrictEqual([...lines].sort(), ["child interrupted", "finalizer Failure"])
      assert.strictEqual(scope.state._tag, "Closed")
    }))

  it.effect("closes when the task is interrupted", () =>
    Effect.gen(function*() {
      const { info, lines, scope } = yield* runScoped("hang", true)
      assert.strictEqual(info.status, "interrupted")
      assert.deepStrictEqual([...lines].sort(), ["child interrupted", "finalizer Failure"])
      assert.strictEqual(scope.state._tag, "Closed")
    }))

  it.effect("is sequential and parentless, and the same object as the task's context (an idle task keeps one for both)", () =>
    Effect.gen(function*() {
      const { context, scope } = yield* runScoped("succeed")
      assert.strictEqual(scope.strategy, "sequential")
      assert.strictEqual(scope.parent, undefined)
      assert.strictEqual(scope, context)
    }))

  it.effect("a scope forked from it is closed with it, and is a child that leaves it when closed first", () =>
    Effect.gen(function*() {
      const log = yield* Ref.make<ReadonlyArray<string>>([])
      const Forks = Task.define("forks", { payload: Schema.Struct({}), success: Schema.Number })
      const live = Task.implement(Forks, () =>
        Effect.gen(function*() {
          const scope = yield* Scope.Scope
          const early = yield* Scope.fork(scope)
          yield* Scope.addFinalizer(early, Ref.update(log, (lines) => [...lines, "early"]))
          yield* Scope.close(early, Exit.void)
          const late = yield* Scope.fork(scope)
          yield* Scope.addFinalizer(late, Ref.update(log, (lines) => [...lines, "late"]))
          // the early child left the task's scope when closed: only the late one is still held
          return scope.state._tag === "Open" && scope.state.finalizer !== undefined ? 1 : 0
        }))
      const held = yield* Effect.gen(function*() {
        const tasks = yield* Tasks.Tasks
        const context = yield* Effect.gen(function*() {
          const handle = yield* tasks.submit(Forks, {})
          return yield* handle.join
        })
        return context
      }).pipe(Effect.provide(live.pipe(
        Layer.provideMerge(Tasks.layer({ shutdownGracePeriod: 0 })),
        Layer.provideMerge(TaskStore.layerMemory)
      )))
      assert.strictEqual(held, 1)
      assert.deepStrictEqual(yield* Ref.get(log), ["early", "late"])
    }))

  it.effect("the handler's TaskContext still answers for its task", () =>
    Effect.gen(function*() {
      const Reports = Task.define("reports", { payload: Schema.Struct({}), success: Schema.String })
      const live = Task.implement(Reports, () =>
        Effect.gen(function*() {
          const context = yield* TaskContext
          yield* context.progress(40, "half")
          return context.taskId
        }))
      const [id, info] = yield* Effect.gen(function*() {
        const tasks = yield* Tasks.Tasks
        const handle = yield* tasks.submit(Reports, {})
        const id = yield* handle.join
        return [id, yield* tasks.get(handle.id)] as const
      }).pipe(Effect.provide(live.pipe(
        Layer.provideMerge(Tasks.layer({ shutdownGracePeriod: 0 })),
        Layer.provideMerge(TaskStore.layerMemory)
      )))
      assert.strictEqual(id, info.id)
      assert.strictEqual(info.progress, 40)
      assert.strictEqual(info.message, "half")
    }))
})

