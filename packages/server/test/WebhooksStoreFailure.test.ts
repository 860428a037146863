/**
 * A task's finish that the webhook table cannot record (the table gone, a database refusing the write): the
 * webhooks log a warning naming what failed and go on following the supervisor, so a later finish is recorded once
 * the table is back. In process: a supervisor on the memory store with a kind each task of which waits for its gate,
 * the webhook tables in SQLite (one renamed away by the test, then back) and the warnings captured.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Deferred, Effect, Layer, Logger } from "effect"
import { SqlClient } from "effect/sql"
import * as WebhookStore from "../src/WebhookStore.ts"
import * as Webhooks from "../src/Webhooks.ts"
import { Gated, gatedSupervisor, nowhere } from "./gatedTasks.ts"

describe("webhooks whose table fails", () => {
  it.live("a finish that cannot be recorded is logged as such, and later finishes are recorded", () =>
    Effect.gen(function*() {
      const warnings: Array<string> = []
      // Completed by the first warning: the test waits for it (bounded only to say what was seen instead).
      const warned = Deferred.makeUnsafe<void>()
      const capture = Logger.make<unknown, void>(({ logLevel, message }) => {
        if (logLevel !== "Warn") return
        warnings.push(String(Array.isArray(message) ? message[0] : message))
        Deferred.doneUnsafe(warned, Effect.void)
      })
      const { context, gates, tasks } = yield* gatedSupervisor(2)
      const sql = Context.get(context, SqlClient.SqlClient)
      const webhooks = Context.get(
        yield* Layer.build(Webhooks.layer(Webhooks.defaults).pipe(
          Layer.provide(Layer.succeedContext(context)),
          Layer.provide(Logger.layer([capture]))
        )),
        Webhooks.Webhooks
      )
      const first = yield* tasks.submit(Gated, { n: 0 })
      yield* webhooks.register(first.id, nowhere)
      // The table goes away (renamed) while the task runs: its finish cannot be recorded.
      yield* sql.unsafe(`ALTER TABLE ${WebhookStore.webhooksTable} RENAME TO parked_webhooks`)
      yield* Deferred.succeed(gates[0]!, undefined)
      yield* first.join
      yield* Deferred.await(warned).pipe(Effect.timeoutOrElse({
        duration: "20 seconds",
        orElse: () => Effect.die(new Error("no warning of the finish the table could not record"))
      }))
      assert.deepStrictEqual(warnings, ["webhooks: recording a finished task failed"])
      // The table back, a later task's webhook is made due: the webhooks still follow the supervisor.
      yield* sql.unsafe(`ALTER TABLE parked_webhooks RENAME TO ${WebhookStore.webhooksTable}`)
      const later = yield* tasks.submit(Gated, { n: 1 })
      yield* webhooks.register(later.id, nowhere)
      yield* Deferred.succeed(gates[1]!, undefined)
      yield* later.join
      while ((yield* webhooks.deliveries(later.id)).every((delivery) => delivery.state === "waiting")) yield* Effect.sleep("20 millis")
    }).pipe(Effect.scoped), 30_000)
})
