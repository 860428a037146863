/**
 * `RecordOrder` agrees with the order a supervisor writes a task's records in,
 * over random lives of a task: progress reports, failed attempts retried, and
 * hand-offs (the task let go at its checkpoint and adopted again, as when its
 * shard moves).
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Fiber, Queue, Schedule, Schema, Stream } from "effect"
import { Task, TaskContext, type TaskInfo, Tasks, TasksConfig, TaskStore } from "@chainjobs/tasks"
import { RecordOrder } from "@chainjobs/cluster"

/** A step of a task's life: a progress report, a failed attempt (retried), or a hand-off to be adopted again. */
const Step = Schema.Literals(["progress", "fail", "handOff"])

class Failed extends Schema.TaggedError<Failed>("@chainjobs/cluster/test/Failed")("Failed", {}) {}

/** Does what the test hands it: reports progress, fails (retried at once), or completes. */
const Driven = Task.define("driven", {
  payload: Schema.Struct({}),
  success: Schema.Void,
  error: Failed,
  policy: { onRestart: "resume", retry: { schedule: Schedule.spaced("1 millis") } }
})

describe("RecordOrder", () => {
  it.live.prop(
    "puts a task's records in the order its supervisor wrote them",
    { life: Schema.Array(Step).check(Schema.isMaxLength(8)) },
    ({ life }) =>
      Effect.gen(function*() {
        const store = yield* TaskStore.makeMemory
        const tasks = yield* Tasks.make.pipe(
          Effect.provideService(TasksConfig.TasksConfig, TasksConfig.make({})),
          Effect.provideService(TaskStore.TaskStore, store)
        )
        const commands = yield* Queue.unbounded<"progress" | "fail" | "done">()
        /** Each command taken, told once the handler acted on it. */
        const taken = yield* Queue.unbounded<void>()
        yield* tasks.register(Driven, () =>
          Effect.gen(function*() {
            const context = yield* TaskContext.TaskContext
            for (let step = 1;; step++) {
              const command = yield* Queue.take(commands)
              yield* Queue.offer(taken, undefined)
              if (command === "done") return
              if (command === "fail") return yield* new Failed()
              yield* context.progress(step)
            }
          }), Context.empty())
        const records: Array<TaskInfo.TaskInfo> = []
        const handle = yield* tasks.submit(Driven, {})
        const collected = yield* Effect.forkScoped(Stream.runForEach(
          Stream.takeUntil(Stream.filter(tasks.changes, (info) => info.id === handle.id), (info) => info.status === "completed"),
          (info) => Effect.sync(() => records.push(info))
        ))
        for (const step of life) {
          // a millisecond apart: heartbeats of one attempt differ
          yield* Effect.sleep("2 millis")
          if (step === "handOff") {
            yield* tasks.handOff(handle.id)
            yield* tasks.adopt(handle.id)
          } else {
            yield* Queue.offer(commands, step)
            yield* Queue.take(taken)
          }
        }
        yield* Queue.offer(commands, "done")
        yield* Fiber.join(collected)
        const first = yield* tasks.get(handle.id)
        assert.strictEqual(first.status, "completed")
        for (let i = 1; i < records.length; i++) {
          assert.isAtMost(
            RecordOrder.compare(records[i - 1]!, records[i]!),
            0,
            `record ${i} of ${JSON.stringify(life)} is earlier than the one before: ${JSON.stringify(records.slice(i - 1, i + 1))}`
          )
        }
      }).pipe(Effect.scoped),
    { timeout: 60_000, arbitrary: { runs: 40 } }
  )
})
