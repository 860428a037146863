/**
 * The webhook tables, on the `SqlClient` in context (SQLite or PostgreSQL),
 * and every statement over them:
 *
 * - `chainjobs_webhooks`: one row per webhook a submission named: its task
 *   and URL, where its delivery stands (`waiting` for the task to finish,
 *   `due` with the final record to send, `delivered` once the receiver
 *   acknowledged it with a 2xx, `failed` after the last attempt), the
 *   attempts made and when the next one is due;
 * - `chainjobs_webhook_attempts`: every attempt: when, the HTTP status or
 *   the error, how long it took.
 *
 * The final record is written into the row when the task finishes, so a
 * delivery survives a restart and the task's deletion.
 *
 * @since 0.1.0
 */
import { Effect, Option, Schema } from "effect"
import { Migrator, SqlClient } from "effect/sql"
import type { TaskError } from "@chainjobs/tasks"
import { StoreFailure } from "@chainjobs/store-sql"

/** The table of webhooks and their delivery state. */
export const webhooksTable = "chainjobs_webhooks"
/** The table of delivery attempts. */
export const attemptsTable = "chainjobs_webhook_attempts"

/** Where a webhook's delivery stands. */
export const DeliveryState = Schema.Literals(["waiting", "due", "delivered", "failed"])
/** @see DeliveryState */
export type DeliveryState = typeof DeliveryState.Type

/** One attempt to deliver: its number, when, and the receiver's status or the error. */
export const Attempt = Schema.Struct({
  attempt: Schema.Number,
  at: Schema.Number,
  /** The HTTP status the receiver answered; null when there was no answer. */
  status: Schema.NullOr(Schema.Number),
  /** Why the attempt did not count as delivered; null once delivered. */
  error: Schema.NullOr(Schema.String),
  durationMillis: Schema.Number
})
/** @see Attempt */
export type Attempt = typeof Attempt.Type

/** A webhook as the REST API shows it: its URL, its state, its attempts. */
export const Delivery = Schema.Struct({
  /** The delivery's id, sent as `Chainjobs-Delivery`. */
  id: Schema.String,
  taskId: Schema.String,
  url: Schema.String,
  state: DeliveryState,
  /** When the next attempt is due (epoch milliseconds), while `due`. */
  nextAttemptAt: Schema.NullOr(Schema.Number),
  deliveredAt: Schema.NullOr(Schema.Number),
  createdAt: Schema.Number,
  attempts: Schema.Array(Attempt)
})
/** @see Delivery */
export type Delivery = typeof Delivery.Type

/** A webhook row, without its attempts; `body` is the final record once the task has finished. */
export interface WebhookRow {
  readonly id: string
  readonly taskId: string
  readonly url: string
  readonly state: DeliveryState
  readonly attempts: number
  readonly nextAttemptAt: number | null
  readonly body: string | null
  readonly deliveredAt: number | null
  readonly createdAt: number
}

const createTables = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const int64 = sql.onDialectOrElse({ pg: () => "bigint", orElse: () => "INTEGER" })
  yield* sql.unsafe(`CREATE TABLE ${webhooksTable} (
    id text PRIMARY KEY NOT NULL,
    task_id text NOT NULL,
    url text NOT NULL,
    state text NOT NULL,
    attempts integer NOT NULL,
    next_attempt_at ${int64},
    body text,
    delivered_at ${int64},
    created_at ${int64} NOT NULL
  )`)
  yield* sql.unsafe(`CREATE INDEX ${webhooksTable}_task ON ${webhooksTable} (task_id)`)
  yield* sql.unsafe(`CREATE INDEX ${webhooksTable}_due ON ${webhooksTable} (state, next_attempt_at)`)
  yield* sql.unsafe(`CREATE TABLE ${attemptsTable} (
    webhook_id text NOT NULL,
    attempt integer NOT NULL,
    at ${int64} NOT NULL,
    status integer,
    error text,
    duration_millis ${int64} NOT NULL,
    PRIMARY KEY (webhook_id, attempt)
  )`)
})

/** A statement's failure, its detail the database's own message (PostgreSQL's, not only "Query failed"). */
const storeError = (operation: string) => StoreFailure.storeError(`webhooks ${operation}`)

const withSql = <A>(operation: string, f: (sql: SqlClient.SqlClient) => Effect.Effect<A, unknown>) =>
  Effect.flatMap(Effect.service(SqlClient.SqlClient), f).pipe(Effect.mapError(storeError(operation))) as Effect.Effect<
    A,
    TaskError.TaskStoreError,
    SqlClient.SqlClient
  >

/** Creates or upgrades the webhook tables. */
export const migrate: Effect.Effect<void, TaskError.TaskStoreError, SqlClient.SqlClient> = Migrator.make({})({
  loader: Migrator.fromRecord({ "0001_create_webhooks": createTables }),
  table: "chainjobs_webhook_migrations"
}).pipe(Effect.asVoid, Effect.mapError(storeError("migrate")))

type Row = Record<string, unknown>

const nullableNumber = (value: unknown): number | null => value === null || value === undefined ? null : Number(value)

const toWebhook = (row: Row): WebhookRow => ({
  id: row.id as string,
  taskId: row.task_id as string,
  url: row.url as string,
  state: row.state as DeliveryState,
  attempts: Number(row.attempts),
  nextAttemptAt: nullableNumber(row.next_attempt_at),
  body: (row.body as string | null) ?? null,
  deliveredAt: nullableNumber(row.delivered_at),
  createdAt: Number(row.created_at)
})

const toAttempt = (row: Row): Attempt => ({
  attempt: Number(row.attempt),
  at: Number(row.at),
  status: nullableNumber(row.status),
  error: (row.error as string | null) ?? null,
  durationMillis: Number(row.duration_millis)
})

/** Records a webhook waiting for its task to finish. */
export const insert = (row: { readonly id: string; readonly taskId: string; readonly url: string; readonly createdAt: number }) =>
  withSql("insert", (sql) =>
    sql`INSERT INTO ${sql(webhooksTable)} ${
      sql.insert({
        id: row.id,
        task_id: row.taskId,
        url: row.url,
        state: "waiting",
        attempts: 0,
        next_attempt_at: null,
        body: null,
        delivered_at: null,
        created_at: row.createdAt
      })
    }`)

/**
 * Makes the webhooks of a finished task due now, with its final record; how many. Those waiting, and those given up
 * without an attempt (`abandon`): a task that is recorded and finishes after all (its submission slower than the
 * wait `abandon` was called after) still has its webhook delivered.
 */
export const markDue = (taskId: string, body: string, now: number) =>
  withSql("markDue", (sql) =>
    Effect.map(
      sql<Row>`UPDATE ${sql(webhooksTable)} SET state = 'due', body = ${body}, next_attempt_at = ${now}
        WHERE task_id = ${taskId} AND (state = 'waiting' OR (state = 'failed' AND attempts = 0)) RETURNING id`,
      (rows) => rows.length
    ))

/**
 * Gives up the waiting webhooks of a task that does not exist: deleted before it was seen to finish, or never
 * recorded (its submission failed after the webhook was registered). Failed without an attempt, nothing is sent.
 */
export const abandon = (taskId: string) =>
  withSql("abandon", (sql) => sql`UPDATE ${sql(webhooksTable)} SET state = 'failed' WHERE task_id = ${taskId} AND state = 'waiting'`)

/**
 * The ids of the tasks whose webhooks wait for them to finish; with `created`, only those of webhooks registered
 * after `created.after` and at or before `created.upTo` (epoch milliseconds).
 */
export const waitingTasks = (created?: { readonly after: number; readonly upTo: number }) =>
  withSql("waitingTasks", (sql) =>
    Effect.map(
      created === undefined
        ? sql<Row>`SELECT DISTINCT task_id FROM ${sql(webhooksTable)} WHERE state = 'waiting'`
        : sql<Row>`SELECT DISTINCT task_id FROM ${sql(webhooksTable)} WHERE state = 'waiting'
          AND created_at > ${created.after} AND created_at <= ${created.upTo}`,
      (rows) => rows.map((row) => row.task_id as string)
    ))

/** The due webhooks whose next attempt is due by `now`, soonest first, at most `limit`. */
export const due = (now: number, limit: number) =>
  withSql("due", (sql) =>
    Effect.map(
      sql<Row>`SELECT * FROM ${sql(webhooksTable)} WHERE state = 'due' AND next_attempt_at <= ${now}
        ORDER BY next_attempt_at LIMIT ${limit}`,
      (rows) => rows.map(toWebhook)
    ))

/**
 * Takes a due webhook, as `due` read it, for one attempt: its next attempt
 * moves to `until`, and only if the row is still as read (due, the same
 * attempts, the same next attempt), so that of several dispatchers on one
 * database (runners) that read it, exactly one sends it. True when this
 * caller took it. A taker that never records its attempt (it died) leaves
 * the row due at `until`, when another takes it; one that stops gives it
 * back the same way (from `until` to the time it read).
 */
export const claim = (webhook: WebhookRow, until: number) =>
  withSql("claim", (sql) =>
    Effect.map(
      sql<Row>`UPDATE ${sql(webhooksTable)} SET next_attempt_at = ${until}
        WHERE id = ${webhook.id} AND state = 'due' AND attempts = ${webhook.attempts}
        AND next_attempt_at = ${webhook.nextAttemptAt} RETURNING id`,
      (rows) => rows.length > 0
    ))

/** When the soonest due webhook's next attempt is due, if any is. */
export const nextDue = withSql("nextDue", (sql) =>
  Effect.map(
    sql<Row>`SELECT MIN(next_attempt_at) AS next FROM ${sql(webhooksTable)} WHERE state = 'due'`,
    (rows) => Option.fromNullishOr(nullableNumber(rows[0]?.next))
  ))

/**
 * Records an attempt and its outcome in one transaction: delivered, failed
 * for good, or due again at `nextAttemptAt`.
 */
export const recordAttempt = (
  webhook: WebhookRow,
  attempt: Attempt,
  outcome: { readonly state: "delivered" | "failed" | "due"; readonly nextAttemptAt: number | null }
) =>
  withSql("recordAttempt", (sql) =>
    sql.withTransaction(Effect.gen(function*() {
      yield* sql`INSERT INTO ${sql(attemptsTable)} ${
        sql.insert({
          webhook_id: webhook.id,
          attempt: attempt.attempt,
          at: attempt.at,
          status: attempt.status,
          error: attempt.error,
          duration_millis: attempt.durationMillis
        })
      }`
      yield* sql`UPDATE ${sql(webhooksTable)} SET state = ${outcome.state}, attempts = ${attempt.attempt},
        next_attempt_at = ${outcome.nextAttemptAt},
        delivered_at = ${outcome.state === "delivered" ? attempt.at + attempt.durationMillis : null}
        WHERE id = ${webhook.id}`
    })))

/** A task's webhooks with their attempts, oldest first. */
export const ofTask = (taskId: string) =>
  withSql("ofTask", (sql) =>
    Effect.gen(function*() {
      const webhooks = (yield* sql<Row>`SELECT * FROM ${sql(webhooksTable)} WHERE task_id = ${taskId} ORDER BY created_at, id`)
        .map(toWebhook)
      if (webhooks.length === 0) return []
      const attempts = yield* sql<Row>`SELECT * FROM ${sql(attemptsTable)} WHERE ${
        sql.in("webhook_id", webhooks.map((webhook) => webhook.id))
      } ORDER BY attempt`
      return webhooks.map((webhook): Delivery => ({
        id: webhook.id,
        taskId: webhook.taskId,
        url: webhook.url,
        state: webhook.state,
        nextAttemptAt: webhook.state === "due" ? webhook.nextAttemptAt : null,
        deliveredAt: webhook.deliveredAt,
        createdAt: webhook.createdAt,
        attempts: attempts.filter((row) => row.webhook_id === webhook.id).map(toAttempt)
      }))
    }))
