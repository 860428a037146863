/**
 * A kind registers even when taking back its recovered records fails (the
 * store refuses the write that marks one pending again): the failure is
 * logged, the kind is registered, and the record is left as it was.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Exit, Layer, Schema } from "effect"
import { Task, TaskError, TaskStore, TaskSupervisor } from "../src/index.ts"
import { record } from "./TaskStoreConformance.ts"

const Resumable = Task.define("recovery-failure", {
  payload: Schema.Struct({ n: Schema.Int }),
  success: Schema.Int,
  policy: { onRestart: "resume" }
})

describe("recovery that fails", () => {
  it.effect("the kind registers; the record is left as it was", () =>
    Effect.gen(function*() {
      const memory = yield* TaskStore.makeMemory
      const left = record({ kind: Resumable.name, status: "running", payload: { n: 1 }, startedAt: 0 })
      yield* memory.insert(left)
      // Fault injection: updates are refused.
      const store = TaskStore.TaskStore.of({
        ...memory,
        update: () => Effect.fail(new TaskError.TaskStoreError({ operation: "update", detail: "read-only" }))
      })
      const tasks = Context.get(
        yield* Layer.build(TaskSupervisor.layer({ shutdownGracePeriod: 0 }).pipe(Layer.provide(Layer.succeed(TaskStore.TaskStore, store)))),
        TaskSupervisor.Tasks
      )
      const registered = yield* Effect.exit(Layer.build(
        Task.implement(Resumable, ({ n }) => Effect.succeed(n * 2)).pipe(Layer.provide(Layer.succeed(TaskSupervisor.Tasks, tasks)))
      ))
      assert.isTrue(Exit.isSuccess(registered))
      assert.deepStrictEqual((yield* tasks.kinds).map((kind) => kind.name), [Resumable.name])
      assert.strictEqual((yield* memory.get(left.id)).pipe((o) => (o._tag === "Some" ? o.value.status : "gone")), "running")
    }))
})
