/**
 * `RecordOrder` agrees with the order a supervisor writes a task's records in,
 * over random lives of a task: progress reports, failed attempts retried, and
 * hand-offs (the task let go at its checkpoint and adopted again, as when its
 * shard moves).
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Fiber, Queue, Schedule, Schema, Stream } from "effect"
import * as RecordOrder from "../src/RecordOrder.ts"
import * as Task from "../src/Task.ts"
import * as TaskContext from "../src/TaskContext.ts"
import * as TaskInfo from "../src/TaskInfo.ts"
import * as Tasks from "../src/Tasks.ts"
import * as TasksConfig from "../src/TasksConfig.ts"
import * as TaskStore from "../src/TaskStore.ts"
import { record } from "./TaskStoreConformance.ts"

/** A step of a task's life: a progress report, a failed attempt (retried), or a hand-off to be adopted again. */
const Step = Schema.Literals(["progress", "fail", "handOff"])

class Failed extends Schema.TaggedError<Failed>("@chainjobs/tasks/test/Failed")("Failed", {}) {}

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

  it("ranks each step of a task's life strictly after the one before, whoever compares; a deletion after them all", () => {
    const base = record({ id: TaskInfo.makeId(0), kind: "driven", payload: {}, createdAt: 0 })
    const at = (fields: Partial<TaskInfo.TaskInfo>): TaskInfo.TaskInfo => ({ ...base, ...fields })
    // in the order a supervisor writes them: a pending attempt, running, its heartbeats (none yet before the
    // first), a retry's later attempt whatever its status and heartbeat (another runner's clock), the final record
    // whatever its attempt
    const life = [
      at({}),
      at({ status: "running" }),
      at({ status: "running", heartbeatAt: 0 }),
      at({ status: "running", heartbeatAt: 5 }),
      at({ status: "pending", attempt: 2, heartbeatAt: 5 }),
      at({ status: "running", attempt: 2, heartbeatAt: 3 }),
      at({ status: "completed", attempt: 1, heartbeatAt: 0 })
    ]
    life.forEach((earlier, i) => {
      assert.strictEqual(RecordOrder.compare(earlier, { ...earlier }), 0, `record ${i} against itself`)
      life.slice(i + 1).forEach((later, j) => {
        assert.isBelow(RecordOrder.compare(earlier, later), 0, `record ${i} before record ${i + 1 + j}`)
        assert.isAbove(RecordOrder.compare(later, earlier), 0, `record ${i + 1 + j} after record ${i}`)
      })
      assert.isBelow(RecordOrder.compareRanks(RecordOrder.rankOf(earlier), RecordOrder.deleted), 0, `record ${i} before its deletion`)
      assert.isAbove(RecordOrder.compareRanks(RecordOrder.deleted, RecordOrder.rankOf(earlier)), 0, `its deletion after record ${i}`)
    })
    for (const status of ["completed", "failed", "interrupted"] as const) {
      assert.isAbove(RecordOrder.compare(at({ status }), at({ status: "running", attempt: 9, heartbeatAt: 9 })), 0, `${status} is final`)
    }
    assert.strictEqual(RecordOrder.compareRanks(RecordOrder.deleted, RecordOrder.deleted), 0)
  })
})
