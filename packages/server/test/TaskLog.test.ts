import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Exit, Layer, Logger, Schema, Scope, Stream } from "effect"
import { Task, type TaskEvent, type TaskInfo, Tasks, TaskStore } from "@chainjobs/tasks"
import * as TaskLog from "../src/TaskLog.ts"
import { logEvent } from "../src/TaskLog.ts"

const pending: TaskInfo.TaskInfo = {
  id: "t-1", kind: "demo-scan", status: "pending", reason: null, priority: 0, key: null, owner: "alice", attempt: 1,
  progress: 0, message: null, detail: null, payload: {}, result: null, error: null, errorMessage: null, checkpoint: null,
  createdAt: 1000, startedAt: null, finishedAt: null, heartbeatAt: null, expiresAt: null
}

/** Runs `effect`, returning the structured log entries it wrote. */
const logsOf = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.gen(function*() {
    const entries: Array<{ readonly level: string; readonly message: unknown; readonly annotations: Record<string, unknown> }> = []
    const capture = Logger.map(Logger.formatStructured, (entry) => {
      entries.push(entry)
    })
    yield* Effect.provide(effect, Logger.layer([capture]))
    return entries
  })

describe("TaskLog", () => {
  it.effect("a submission and each outcome is one structured line; starts and progress are not logged", () =>
    Effect.gen(function*() {
      const entries = yield* logsOf(Effect.forEach([
        { _tag: "Submitted", info: pending },
        { _tag: "Started", info: { ...pending, status: "running", startedAt: 1100 } },
        { _tag: "Progressed", info: { ...pending, status: "running", startedAt: 1100, progress: 50 } },
        { _tag: "Finished", info: { ...pending, status: "completed", startedAt: 1100, finishedAt: 1600, progress: 100 } },
        {
          _tag: "Finished",
          info: { ...pending, id: "t-2", status: "failed", reason: "timeout", errorMessage: "timed out after 1s", startedAt: 1100, finishedAt: 2100 }
        }
      ] satisfies Array<TaskEvent.TaskEvent>, logEvent))
      assert.deepStrictEqual(entries.map((entry) => [entry.level, entry.message]), [
        ["INFO", "task submitted"],
        ["INFO", "task completed"],
        ["WARN", "task failed"]
      ])
      assert.deepStrictEqual(entries[1].annotations, { taskId: "t-1", kind: "demo-scan", owner: "alice", attempt: 1, durationMillis: 500 })
      assert.deepStrictEqual(entries[2].annotations, {
        taskId: "t-2", kind: "demo-scan", owner: "alice", attempt: 1, reason: "timeout", error: "timed out after 1s", durationMillis: 1000
      })
    }))

  it.effect("an outcome says only what is known: no run time for a task that never started, an empty owner for none", () =>
    Effect.gen(function*() {
      const entries = yield* logsOf(Effect.forEach([
        { _tag: "Finished", info: { ...pending, owner: null, status: "interrupted", finishedAt: 1200 } },
        { _tag: "Finished", info: { ...pending, status: "interrupted", attempt: 3, startedAt: 1100, finishedAt: 1100 } }
      ] satisfies Array<TaskEvent.TaskEvent>, logEvent))
      assert.deepStrictEqual(entries.map((entry) => [entry.level, entry.message]), [["INFO", "task interrupted"], ["INFO", "task interrupted"]])
      assert.deepStrictEqual(entries[0].annotations, { taskId: "t-1", kind: "demo-scan", owner: "", attempt: 1 })
      assert.deepStrictEqual(entries[1].annotations, { taskId: "t-1", kind: "demo-scan", owner: "alice", attempt: 3, durationMillis: 0 })
    }))
})

/** Runs forever; a shutdown interrupts it (its kind does not resume). */
const Endless = Task.define("endless", { payload: Schema.Struct({ n: Schema.Number }), success: Schema.Void })
const EndlessLive = Task.implement(Endless, () => Effect.never)

/** Starts a supervisor with the task log on `store`, in a scope of its own that the caller closes (a shutdown). */
const startOn = (store: TaskStore.TaskStore["Service"]) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const context = yield* Layer.buildWithScope(
      EndlessLive.pipe(
        // The log is built before the kinds register, so it hears of the tasks their registration recovers.
        Layer.provideMerge(TaskLog.layer),
        Layer.provideMerge(Tasks.layer({ shutdownGracePeriod: 0 })),
        Layer.provide(Layer.succeed(TaskStore.TaskStore, store))
      ),
      scope
    )
    const log = Context.get(context, TaskLog.TaskLog)
    /** Shuts the supervisor down and waits until the log has written everything. */
    const shutdown = Effect.andThen(Scope.close(scope, Exit.void), log.drained)
    return { tasks: Context.get(context, Tasks.Tasks), shutdown }
  })

/** The messages of the captured entries about task `id`. */
const linesOf = (entries: ReadonlyArray<{ readonly message: unknown; readonly annotations: Record<string, unknown> }>, id: string) =>
  entries.filter((entry) => entry.annotations.taskId === id).map((entry) => String(entry.message))

describe("TaskLog with a supervisor", () => {
  it.live("a shutdown logs each task it interrupts once, whoever caused it", () =>
    Effect.gen(function*() {
      const store = yield* TaskStore.makeMemory
      const entries = yield* logsOf(Effect.gen(function*() {
        const { shutdown, tasks } = yield* startOn(store)
        const handles = yield* Effect.forEach([1, 2, 3], (n) => tasks.submit(Endless, { n }))
        for (const handle of handles) {
          yield* Stream.runHead(Stream.filter(handle.events, (info) => info.status === "running"))
        }
        yield* shutdown
        return handles.map((handle) => handle.id)
      }).pipe(Effect.map((ids) => ids)))
      const ids = [...new Set(entries.map((entry) => entry.annotations.taskId as string))]
      assert.strictEqual(ids.length, 3)
      for (const id of ids) assert.deepStrictEqual(linesOf(entries, id), ["task submitted", "task interrupted"])
    }))

  it.live("a recovered task that is lost is logged as failed, and a recovered pending one is not submitted again", () =>
    Effect.gen(function*() {
      const store = yield* TaskStore.makeMemory
      const base = { ...pending, kind: "endless", payload: { n: 1 }, owner: null }
      yield* store.insert({ ...base, id: "01a00000-0000-7000-8000-000000000001", status: "running", startedAt: 1100, heartbeatAt: 1100 })
      yield* store.insert({ ...base, id: "01a00000-0000-7000-8000-000000000002" })
      const entries = yield* logsOf(Effect.gen(function*() {
        const { shutdown, tasks } = yield* startOn(store)
        const recovered = yield* tasks.handle("01a00000-0000-7000-8000-000000000002")
        yield* Stream.runHead(Stream.filter(recovered.events, (info) => info.status === "running"))
        yield* shutdown
      }))
      assert.deepStrictEqual(linesOf(entries, "01a00000-0000-7000-8000-000000000001"), ["task failed"])
      const lost = entries.find((entry) => entry.annotations.taskId === "01a00000-0000-7000-8000-000000000001")!
      assert.strictEqual(lost.annotations.reason, "lost")
      assert.deepStrictEqual(linesOf(entries, "01a00000-0000-7000-8000-000000000002"), ["task interrupted"])
    }))
})
