/**
 * Records found unfinished at start wait for their kind to be registered.
 * One deleted before then stays deleted: registering the kind later neither
 * runs it nor brings its record back.
 */
import { record } from "./TaskStoreConformance.ts"
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Layer, Option, Schema } from "effect"
import { Task, TaskStore, TaskSupervisor } from "../src/index.ts"

/** A kind registered only after the supervisor has started. */
const Late = Task.define("dormant-late", {
  payload: Schema.Struct({ n: Schema.Int }),
  success: Schema.Int
})

describe("records waiting for their kind", () => {
  it.effect("one deleted before its kind registers is neither run nor recorded again", () =>
    Effect.gen(function*() {
      const store = yield* TaskStore.makeMemory
      const [deleted, kept] = [record({ kind: Late.name, payload: { n: 1 } }), record({ kind: Late.name, payload: { n: 2 } })]
      yield* store.insert(deleted)
      yield* store.insert(kept)
      const ran: Array<number> = []
      const tasks = Context.get(
        yield* Layer.build(
          TaskSupervisor.layer({ shutdownGracePeriod: 0 }).pipe(Layer.provide(Layer.succeed(TaskStore.TaskStore, store)))
        ),
        TaskSupervisor.Tasks
      )
      yield* tasks.delete(deleted.id)
      yield* Layer.build(
        Task.implement(Late, ({ n }) => Effect.sync(() => ran.push(n)).pipe(Effect.as(n))).pipe(
          Layer.provide(Layer.succeed(TaskSupervisor.Tasks, tasks))
        )
      )
      assert.strictEqual((yield* tasks.handle(kept.id, Late).pipe(Effect.flatMap((handle) => handle.join))), 2)
      assert.deepStrictEqual(ran, [2])
      assert.isTrue(Option.isNone(yield* store.get(deleted.id)))
    }))
})
