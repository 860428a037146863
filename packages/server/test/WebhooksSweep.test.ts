/**
 * The start's sweep without a webhook secret: such a service follows the finishes only of tasks whose webhooks wait,
 * so a webhook the table holds at start (written by a run with a secret) for a task still running must be followed
 * from the sweep on, or its task's finish is never recorded and the webhook waits for ever. In process: a supervisor
 * on the memory store with a kind each task of which waits for its gate, and the webhook tables in SQLite.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Deferred, Effect, Layer, Schema } from "effect"
import { Task, Tasks, TaskStore } from "@chainjobs/tasks"
import { NodeSqliteClient } from "@chainjobs/store-sql"
import * as WebhookStore from "../src/WebhookStore.ts"
import * as Webhooks from "../src/Webhooks.ts"

/** A task that ends when the test opens gate `n`. */
const Gated = Task.define("gated", { payload: Schema.Struct({ n: Schema.Number }), success: Schema.Void })

/** Where the webhooks are sent: nobody listens there, so each attempt fails (what is checked is only that one is due). */
const nowhere = new URL("http://127.0.0.1:9/hook")

describe("webhooks without a secret, at start", () => {
  it.live("a webhook the table holds for a task still running is made due once that task finishes", () =>
    Effect.gen(function*() {
      const gates = [yield* Deferred.make<void>(), yield* Deferred.make<void>()]
      const context = yield* Layer.build(Layer.merge(
        Task.implement(Gated, ({ n }) => Deferred.await(gates[n]!)).pipe(
          Layer.provideMerge(Tasks.layer({ shutdownGracePeriod: 0 })),
          Layer.provide(TaskStore.layerMemory)
        ),
        NodeSqliteClient.layer({ filename: ":memory:" })
      ))
      const tasks = Context.get(context, Tasks.Tasks)
      const held = yield* tasks.submit(Gated, { n: 0 })
      // The table already holds a webhook of the running task, as a run with a secret left it.
      yield* Effect.provideContext(
        Effect.andThen(WebhookStore.migrate, WebhookStore.insert({ id: "held", taskId: held.id, url: nowhere.href, createdAt: 1 })),
        context
      )
      const webhooks = Context.get(
        yield* Layer.build(Webhooks.layer(Webhooks.defaults).pipe(Layer.provide(Layer.succeedContext(context)))),
        Webhooks.Webhooks
      )
      // A later task with a webhook registered directly: the webhooks follow the supervisor's changes in order, so
      // once its webhook is due, the held task's earlier finish has been seen too.
      const later = yield* tasks.submit(Gated, { n: 1 })
      yield* webhooks.register(later.id, nowhere)
      yield* Deferred.succeed(gates[0]!, undefined)
      yield* held.join
      yield* Deferred.succeed(gates[1]!, undefined)
      yield* later.join
      while ((yield* webhooks.deliveries(later.id)).every((delivery) => delivery.state === "waiting")) yield* Effect.sleep("20 millis")
      const [delivery] = yield* webhooks.deliveries(held.id)
      assert.notStrictEqual(delivery?.state, "waiting")
    }).pipe(Effect.scoped), 30_000)
})
