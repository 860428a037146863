/**
 * `TaskFeed` over a producer that carries only what its followers want
 * (`TaskInterest`, as a cluster runner provides): the feed declares every
 * all-tasks stream and every task stream for as long as it is open, and a
 * task stream starts from a read, not from a change heard of a task nobody
 * followed (whose intermediate records were left out).
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Fiber, Layer, Stream } from "effect"
import * as TaskFeed from "../src/TaskFeed.ts"
import * as TaskInterest from "../src/TaskInterest.ts"
import * as Tasks from "../src/Tasks.ts"
import { Gate, gateLive, settle, supervisor } from "./fixtures.ts"

/** Declarations as the producer sees them: open ones, and every one ever made. */
const recording = () => {
  const open = { all: 0, tasks: new Map<string, number>() }
  const made: Array<string> = []
  const interest = TaskInterest.TaskInterest.of({
    all: Effect.acquireRelease(
      Effect.sync(() => {
        open.all++
        made.push("all")
      }),
      () => Effect.sync(() => void open.all--)
    ),
    task: (id) =>
      Effect.acquireRelease(
        Effect.sync(() => {
          open.tasks.set(id, (open.tasks.get(id) ?? 0) + 1)
          made.push(id)
        }),
        () => Effect.sync(() => void open.tasks.set(id, open.tasks.get(id)! - 1))
      )
  })
  return { open, made, interest }
}

/**
 * The supervisor's changes without its `running` records, as a runner hears another's task that was followed while
 * pending and not since: what the feed heard last of a running task is its pending record.
 */
const withoutRunning = (tasks: Tasks.Tasks["Service"]): Tasks.Tasks["Service"] =>
  Tasks.Tasks.of({
    ...tasks,
    changesAndDeletions: Stream.filter(tasks.changesAndDeletions, (item) => "_tag" in item || item.status !== "running")
  })

describe("TaskFeed with a TaskInterest", () => {
  it.effect("declares each stream's interest while it is open, and starts a task stream from a read", () =>
    Effect.gen(function*() {
      const gates = yield* gateLive
      const { interest, made, open } = recording()
      const context = yield* Layer.build(supervisor(gates.layer))
      const tasks = withoutRunning(Context.get(context, Tasks.Tasks))
      const hub = yield* TaskFeed.make().pipe(
        Effect.provideService(Tasks.Tasks, tasks),
        Effect.provideService(TaskInterest.TaskInterest, interest)
      )

      // An all-tasks stream: every task wanted while it is open.
      const all = yield* Effect.forkScoped(Stream.runDrain(hub.all({ visible: () => true })))
      yield* settle
      assert.strictEqual(open.all, 1)
      yield* Fiber.interrupt(all)
      assert.strictEqual(open.all, 0)

      // A task stream: its task wanted while it is open. The feed heard the running task's pending record last; the
      // stream starts from a read of it as it is, running.
      const handle = yield* tasks.submit(Gate, { id: "g" })
      while ((yield* handle.info).status !== "running") yield* settle
      const records: Array<string> = []
      const watch = yield* Effect.forkScoped(
        Stream.runForEach(hub.watch(handle.id), (change) => Effect.sync(() => void records.push(change.info.status)))
      )
      yield* settle
      assert.strictEqual(open.tasks.get(handle.id), 1)
      assert.deepStrictEqual(records, ["running"])
      yield* gates.open("g")
      yield* Fiber.join(watch)
      assert.deepStrictEqual(records, ["running", "completed"])
      assert.strictEqual(open.tasks.get(handle.id), 0)
      assert.deepStrictEqual(made, ["all", handle.id])
    }).pipe(Effect.scoped))
})
