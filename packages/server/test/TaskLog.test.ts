import { assert, describe, it } from "@effect/vitest"
import { Effect, Logger } from "effect"
import type { TaskEvent, TaskInfo } from "@chainjobs/tasks"
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
})
