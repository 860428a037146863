/**
 * The start's sweep without a webhook secret: such a service follows the finishes only of tasks whose webhooks wait,
 * so a webhook the table holds at start (written by a run with a secret) for a task still running must be followed
 * from the sweep on, or its task's finish is never recorded and the webhook waits for ever. In process: a supervisor
 * on the memory store with a kind each task of which waits for its gate, and the webhook tables in SQLite.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Deferred, Effect, Layer } from "effect"
import * as WebhookStore from "../src/WebhookStore.ts"
import * as Webhooks from "../src/Webhooks.ts"
import { Gated, gatedSupervisor, nowhere } from "./gatedTasks.ts"

describe("webhooks without a secret, at start", () => {
  it.live("a webhook the table holds for a task still running is made due once that task finishes", () =>
    Effect.gen(function*() {
      const { context, gates, tasks } = yield* gatedSupervisor(2)
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
