/**
 * The webhook tests' in-process service: a supervisor on the memory store with a kind each task of which waits for
 * its gate, beside the webhook tables' SQLite database in memory.
 */
import { Context, Deferred, Effect, Layer, Schema } from "effect"
import { Task, Tasks, TaskStore } from "@chainjobs/tasks"
import { NodeSqliteClient } from "@chainjobs/store-sql"

/** A task that ends when the test opens gate `n`. */
export const Gated = Task.define("gated", { payload: Schema.Struct({ n: Schema.Number }), success: Schema.Void })

/** Where the webhooks are sent: nobody listens there, so each attempt fails (what is checked is only that one is due). */
export const nowhere = new URL("http://127.0.0.1:9/hook")

/** Builds, in the scope, the supervisor running `Gated` with `count` gates, and the SQLite database beside it. */
export const gatedSupervisor = (count: number) =>
  Effect.gen(function*() {
    const gates = yield* Effect.all(Array.from({ length: count }, () => Deferred.make<void>()))
    const context = yield* Layer.build(Layer.merge(
      Task.implement(Gated, ({ n }) => Deferred.await(gates[n]!)).pipe(
        Layer.provideMerge(Tasks.layer({ shutdownGracePeriod: 0 })),
        Layer.provide(TaskStore.layerMemory)
      ),
      NodeSqliteClient.layer({ filename: ":memory:" })
    ))
    return { gates, context, tasks: Context.get(context, Tasks.Tasks) }
  })
