/**
 * The webhook tables' statements on real SQLite and PostgreSQL, in process:
 * a webhook waits until its task finishes (only waiting ones are made due
 * or abandoned, and say how many); the due ones come soonest first, only
 * those due by now, at most `limit`; the soonest next attempt; an attempt
 * recorded with its outcome (delivered at its end, due again, failed); a
 * task's webhooks oldest first, each with its own attempts in order. A
 * refused statement is a store error naming it, its detail the database's
 * own message (on PostgreSQL the server's, with its SQLSTATE).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Option, Redacted } from "effect"
import { SqlClient } from "effect/sql"
import type { TaskError } from "@chainjobs/tasks"
import { NodeSqliteClient, SqlTaskStore } from "@chainjobs/store-sql"
import * as WebhookStore from "../src/WebhookStore.ts"
import { freshDatabase } from "./freshDatabase.ts"

const pgUrl = process.env.CHAINJOBS_TEST_PG_URL

const hook = (id: string, taskId: string, createdAt: number) =>
  WebhookStore.insert({ id, taskId, url: `https://hooks.example.com/${id}`, createdAt })

/** What each database says of the two refusals below, which a store error's detail must carry. */
interface Refusals {
  /** The attempts' key broken by the same attempt twice. */
  readonly duplicate: RegExp
  /** A statement over the dropped webhooks table. */
  readonly missing: RegExp
}

const sqliteRefusals: Refusals = {
  duplicate: /UNIQUE constraint failed: chainjobs_webhook_attempts\.webhook_id, chainjobs_webhook_attempts\.attempt/,
  missing: /no such table: chainjobs_webhooks/
}

// PostgreSQL's SqlError says only "PgConnection: Query failed"; the server's own message and SQLSTATE are what tell.
const pgRefusals: Refusals = {
  duplicate: /duplicate key value violates unique constraint "chainjobs_webhook_attempts_pkey".*SQLSTATE 23505/,
  missing: /relation "chainjobs_webhooks" does not exist.*SQLSTATE 42P01/
}

/** The statements' behaviour, on the `SqlClient` the test provides. */
const statements = (refusals: Refusals) => Effect.gen(function*() {
  yield* WebhookStore.migrate
  // Migrating twice is harmless (a restart migrates again).
  yield* WebhookStore.migrate
  yield* hook("w1", "t1", 100)
  yield* hook("w2", "t1", 50)
  yield* hook("w3", "t2", 10)
  yield* hook("w4", "t3", 10)
  assert.deepStrictEqual([...(yield* WebhookStore.waitingTasks())].sort(), ["t1", "t2", "t3"])
  assert.isTrue(Option.isNone(yield* WebhookStore.nextDue))
  assert.deepStrictEqual(yield* WebhookStore.due(1_000_000, 10), [])

  // A task's waiting webhooks become due with its record; a second finish changes nothing.
  assert.strictEqual(yield* WebhookStore.markDue("t1", `{"id":"t1"}`, 1000), 2)
  assert.strictEqual(yield* WebhookStore.markDue("t1", `{"id":"t1","again":true}`, 5000), 0)
  assert.strictEqual(yield* WebhookStore.markDue("t2", `{"id":"t2"}`, 900), 1)
  assert.strictEqual(yield* WebhookStore.markDue("nobody", "{}", 900), 0)
  assert.deepStrictEqual(yield* WebhookStore.waitingTasks(), ["t3"])
  // A deleted task's waiting webhook is given up; a due one is not.
  yield* WebhookStore.abandon("t3")
  yield* WebhookStore.abandon("t1")
  assert.deepStrictEqual(yield* WebhookStore.waitingTasks(), [])

  assert.deepStrictEqual(yield* WebhookStore.nextDue, Option.some(900))
  assert.deepStrictEqual(yield* WebhookStore.due(899, 10), [])
  const dueNow = yield* WebhookStore.due(1000, 10)
  // Soonest first: w3 (900), then w1 and w2 (both 1000, in either order).
  assert.deepStrictEqual(dueNow.map((row) => row.nextAttemptAt), [900, 1000, 1000])
  assert.deepStrictEqual(dueNow.map((row) => row.id).slice(1).sort(), ["w1", "w2"])
  assert.deepStrictEqual((yield* WebhookStore.due(1000, 1)).map((row) => row.id), ["w3"])
  const [w3] = dueNow
  assert.deepStrictEqual(w3, {
    id: "w3", taskId: "t2", url: "https://hooks.example.com/w3", state: "due", attempts: 0,
    nextAttemptAt: 900, body: `{"id":"t2"}`, deliveredAt: null, createdAt: 10
  })
  const w1 = dueNow.find((row) => row.id === "w1")!
  assert.strictEqual(w1.body, `{"id":"t1"}`)

  // Attempts: w3 answered 500 and is due again; then delivered. w1 failed for good. w2 is left due.
  yield* WebhookStore.recordAttempt(w3, { attempt: 1, at: 950, status: 500, error: "HTTP 500", durationMillis: 7 }, { state: "due", nextAttemptAt: 2000 })
  assert.deepStrictEqual((yield* WebhookStore.due(1999, 10)).map((row) => row.id).sort(), ["w1", "w2"])
  const again = (yield* WebhookStore.due(2000, 10)).find((row) => row.id === "w3")!
  assert.strictEqual(again.attempts, 1)
  yield* WebhookStore.recordAttempt(again, { attempt: 2, at: 2010, status: 204, error: null, durationMillis: 5 }, { state: "delivered", nextAttemptAt: null })
  yield* WebhookStore.recordAttempt(w1, { attempt: 1, at: 1010, status: null, error: "no answer", durationMillis: 30 }, { state: "failed", nextAttemptAt: null })
  assert.deepStrictEqual(yield* WebhookStore.nextDue, Option.some(1000))
  assert.deepStrictEqual((yield* WebhookStore.due(1_000_000, 10)).map((row) => row.id), ["w2"])

  assert.deepStrictEqual(yield* WebhookStore.ofTask("t2"), [{
    id: "w3", taskId: "t2", url: "https://hooks.example.com/w3", state: "delivered", nextAttemptAt: null,
    deliveredAt: 2015, createdAt: 10,
    attempts: [
      { attempt: 1, at: 950, status: 500, error: "HTTP 500", durationMillis: 7 },
      { attempt: 2, at: 2010, status: 204, error: null, durationMillis: 5 }
    ]
  }])
  const t1 = yield* WebhookStore.ofTask("t1")
  assert.deepStrictEqual(t1.map((delivery) => [delivery.id, delivery.state, delivery.nextAttemptAt, delivery.deliveredAt]), [
    ["w2", "due", 1000, null],
    ["w1", "failed", null, null]
  ])
  assert.deepStrictEqual(t1.map((delivery) => delivery.attempts.length), [0, 1])
  assert.deepStrictEqual(t1[1].attempts, [{ attempt: 1, at: 1010, status: null, error: "no answer", durationMillis: 30 }])
  assert.deepStrictEqual((yield* WebhookStore.ofTask("t3")).map((delivery) => delivery.state), ["failed"])
  assert.deepStrictEqual(yield* WebhookStore.ofTask("nobody"), [])

  // The same attempt twice breaks the attempts' key: a typed store error naming the statement, and nothing changed.
  const refused = yield* Effect.flip(
    WebhookStore.recordAttempt(again, { attempt: 2, at: 3000, status: 200, error: null, durationMillis: 1 }, { state: "delivered", nextAttemptAt: null })
  )
  assert.strictEqual(refused._tag, "TaskStoreError")
  assert.strictEqual(refused.operation, "webhooks recordAttempt")
  // The detail is the database's own message.
  assert.match(refused.detail, refusals.duplicate)
  assert.strictEqual((yield* WebhookStore.ofTask("t2"))[0].deliveredAt, 2015)

  // A due webhook is taken once: the first claim of it as read moves its next attempt; a claim of the same read
  // again, of a row read before an attempt, or of a delivered one takes nothing.
  const w2 = (yield* WebhookStore.due(1_000_000, 10)).find((row) => row.id === "w2")!
  assert.isTrue(yield* WebhookStore.claim(w2, 7000))
  assert.isFalse(yield* WebhookStore.claim(w2, 8000))
  assert.deepStrictEqual(yield* WebhookStore.due(6999, 10), [])
  const taken = yield* WebhookStore.due(7000, 10)
  assert.deepStrictEqual(taken.map((row) => [row.id, row.nextAttemptAt]), [["w2", 7000]])
  assert.isFalse(yield* WebhookStore.claim({ ...taken[0], attempts: 1 }, 9000))
  assert.isFalse(yield* WebhookStore.claim({ ...again, nextAttemptAt: 2000 }, 9000))
  assert.isTrue(yield* WebhookStore.claim(taken[0], 9000))
  assert.deepStrictEqual(yield* WebhookStore.nextDue, Option.some(9000))

  // With the tables gone, every statement fails with a store error naming it.
  const sql = yield* SqlClient.SqlClient
  yield* sql.unsafe(`DROP TABLE ${WebhookStore.webhooksTable}`)
  const failures = yield* Effect.forEach([
    hook("w9", "t9", 1),
    WebhookStore.markDue("t9", "{}", 1),
    WebhookStore.abandon("t9"),
    WebhookStore.waitingTasks(),
    WebhookStore.due(1, 1),
    WebhookStore.claim(w2, 1),
    WebhookStore.nextDue,
    WebhookStore.ofTask("t9")
  ] as ReadonlyArray<Effect.Effect<unknown, TaskError.TaskStoreError, SqlClient.SqlClient>>, (statement) => Effect.flip(statement))
  assert.deepStrictEqual(failures.map((failure) => failure.operation), [
    "webhooks insert", "webhooks markDue", "webhooks abandon", "webhooks waitingTasks", "webhooks due", "webhooks claim", "webhooks nextDue", "webhooks ofTask"
  ])
  for (const failure of failures) assert.match(failure.detail, refusals.missing, failure.operation)
})

const run = (client: Layer.Layer<SqlClient.SqlClient, unknown>, refusals: Refusals) =>
  Effect.provide(statements(refusals), client as Layer.Layer<SqlClient.SqlClient>)

describe("WebhookStore", () => {
  it.effect("SQLite: waiting, due, attempts and deliveries", () => run(NodeSqliteClient.layer({ filename: ":memory:" }), sqliteRefusals))

  it.live.skipIf(pgUrl === undefined)("PostgreSQL: waiting, due, attempts and deliveries", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase(pgUrl!, "chainjobs_webhookstore")
      yield* run(SqlTaskStore.layerPgClient({ url: Redacted.make(url), maxConnections: 2 }), pgRefusals)
    }).pipe(Effect.scoped), 60_000)
})
