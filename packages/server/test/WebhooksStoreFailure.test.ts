/**
 * The webhooks when their tables fail (a table gone, a database refusing the write). A task's finish that cannot be
 * recorded is logged naming what failed, and the webhooks go on following the supervisor, so a later finish is
 * recorded once the table is back. A delivery round whose attempt cannot be recorded is logged as a failed round,
 * and the dispatcher tries again, so the webhook is delivered once the table is back. In process: a supervisor on
 * the memory store with a kind each task of which waits for its gate, the webhook tables in SQLite (one renamed away
 * by the test, then back) and the warnings captured.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Deferred, Effect, Layer, Logger } from "effect"
import { SqlClient } from "effect/sql"
import * as WebhookStore from "../src/WebhookStore.ts"
import * as Webhooks from "../src/Webhooks.ts"
import { Gated, gatedSupervisor, nowhere } from "./gatedTasks.ts"

/**
 * The supervisor of `gatedSupervisor(2)`, the webhooks without a secret over it, the warnings they log (each one's
 * text), `firstWarning` (waits for one: bounded only to say what was seen) and `park`/`unpark`, which rename a
 * table away and back.
 */
const failingTables = Effect.gen(function*() {
  const warnings: Array<string> = []
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
  const firstWarning = Deferred.await(warned).pipe(Effect.timeoutOrElse({
    duration: "20 seconds",
    orElse: () => Effect.die(new Error("no warning of the write the table refused"))
  }))
  const park = (table: string) => sql.unsafe(`ALTER TABLE ${table} RENAME TO parked`)
  const unpark = (table: string) => sql.unsafe(`ALTER TABLE parked RENAME TO ${table}`)
  return { gates, tasks, webhooks, warnings, firstWarning, park, unpark }
})

/** Waits (looking every 20 ms) until `done` holds. Not a speed bound: it gives up at 20 s only to say what was not seen. */
const eventually = <E>(done: Effect.Effect<boolean, E>, what: string) =>
  Effect.gen(function*() {
    while (!(yield* done)) yield* Effect.sleep("20 millis")
  }).pipe(Effect.timeoutOrElse({ duration: "20 seconds", orElse: () => Effect.die(new Error(`not seen: ${what}`)) }))

describe("webhooks whose table fails", () => {
  it.live("a finish that cannot be recorded is logged as such, and later finishes are recorded", () =>
    Effect.gen(function*() {
      const { firstWarning, gates, park, tasks, unpark, warnings, webhooks } = yield* failingTables
      const first = yield* tasks.submit(Gated, { n: 0 })
      yield* webhooks.register(first.id, nowhere)
      // The table goes away while the task runs: its finish cannot be recorded.
      yield* park(WebhookStore.webhooksTable)
      yield* Deferred.succeed(gates[0]!, undefined)
      yield* first.join
      yield* firstWarning
      assert.deepStrictEqual(warnings, ["webhooks: recording a finished task failed"])
      // The table back, a later task's webhook is made due: the webhooks still follow the supervisor.
      yield* unpark(WebhookStore.webhooksTable)
      const later = yield* tasks.submit(Gated, { n: 1 })
      yield* webhooks.register(later.id, nowhere)
      yield* Deferred.succeed(gates[1]!, undefined)
      yield* later.join
      yield* eventually(
        Effect.map(webhooks.deliveries(later.id), (deliveries) => deliveries.some((delivery) => delivery.state !== "waiting")),
        "the later task's webhook made due"
      )
    }).pipe(Effect.scoped), 30_000)

  it.live("a round whose attempt cannot be recorded is logged as failed, and the next round delivers", () =>
    Effect.gen(function*() {
      const { firstWarning, gates, park, tasks, unpark, warnings, webhooks } = yield* failingTables
      const task = yield* tasks.submit(Gated, { n: 0 })
      yield* Deferred.succeed(gates[0]!, undefined)
      yield* task.join
      // The attempts table gone, a webhook of the finished task is due at once: its attempt cannot be recorded.
      yield* park(WebhookStore.attemptsTable)
      yield* webhooks.register(task.id, nowhere)
      yield* firstWarning
      assert.strictEqual(warnings[0], "webhooks: a delivery round failed")
      yield* unpark(WebhookStore.attemptsTable)
      yield* eventually(
        Effect.map(webhooks.deliveries(task.id), (deliveries) => deliveries.some((delivery) => delivery.attempts.length > 0)),
        "an attempt recorded once the table is back"
      )
    }).pipe(Effect.scoped), 30_000)
})
