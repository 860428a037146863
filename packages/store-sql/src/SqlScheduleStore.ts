/**
 * The durable `ScheduleStore`: declared schedules and daemons in a table of
 * their own (`chainjobs_schedules`, migrated when the store starts) beside the
 * task records, on SQLite or PostgreSQL. The payload and the trigger are JSON
 * text; declarations are few and written rarely, so each write is its own
 * statement. A name holding U+0000, which PostgreSQL's text cannot hold, is
 * removed from there as a name not stored (`PersistedSchedules` refuses to
 * declare one).
 *
 * @since 0.1.0
 */
import { TaskError, ScheduleStore } from "@chainjobs/tasks"
import { Effect, Layer, Schema } from "effect"
import { Migrator, SqlClient } from "effect/sql"
import { unstorableKey } from "./internal/pgText.ts"
import { storeError } from "./internal/storeFailure.ts"

/** The table of declarations. */
export const table = "chainjobs_schedules"

/** Where the migrator records which of this table's migrations ran. */
const migrationsTable = "chainjobs_schedules_migrations"

const createSchedules = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const int64 = sql.onDialectOrElse({ pg: () => "bigint", orElse: () => "INTEGER" })
  // Names compare byte by byte, as in SQLite and in JavaScript, whatever the database's locale.
  const bytewise = sql.onDialectOrElse({ pg: () => ` COLLATE "C"`, orElse: () => "" })
  yield* sql.unsafe(`CREATE TABLE ${table} (
    name text${bytewise} PRIMARY KEY NOT NULL,
    kind text NOT NULL,
    payload text,
    trigger_spec text NOT NULL,
    created_at ${int64} NOT NULL
  )`)
})

/** Creates or upgrades the table. */
const migrate = Migrator.make({})({
  loader: Migrator.fromRecord({ "0001_create_schedules": createSchedules }),
  table: migrationsTable
})

const decodeTrigger = Schema.decodeUnknownSync(Schema.fromJsonString(ScheduleStore.Trigger))

interface Row {
  readonly name: string
  readonly kind: string
  readonly payload: string | null
  readonly trigger_spec: string
  readonly created_at: number | bigint
}

const fromRow = (row: Row): ScheduleStore.StoredSchedule => ({
  name: row.name,
  kind: row.kind,
  payload: row.payload === null ? null : JSON.parse(row.payload),
  trigger: decodeTrigger(row.trigger_spec),
  createdAt: Number(row.created_at)
})

/** Builds the store on the `SqlClient` in context, migrating its table first. */
export const make = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* migrate.pipe(
    // Processes starting together on a fresh database race the same CREATE TABLE (a unique violation on the
    // catalog): the loser's second try finds the table and its migration recorded.
    Effect.retry({ times: 2 }),
    Effect.mapError(storeError("migrateSchedules"))
  )
  return ScheduleStore.ScheduleStore.of({
    list: sql<Row>`SELECT name, kind, payload, trigger_spec, created_at FROM ${sql(table)} ORDER BY name`.pipe(
      Effect.map((rows) => rows.map(fromRow)),
      Effect.mapError(storeError("listSchedules"))
    ),
    put: (schedule) =>
      sql`INSERT INTO ${sql(table)} (name, kind, payload, trigger_spec, created_at)
        VALUES (${schedule.name}, ${schedule.kind}, ${JSON.stringify(schedule.payload ?? null)}, ${JSON.stringify(schedule.trigger)}, ${schedule.createdAt})
        ON CONFLICT (name) DO UPDATE SET kind = excluded.kind, payload = excluded.payload,
          trigger_spec = excluded.trigger_spec, created_at = excluded.created_at`.pipe(
        Effect.asVoid,
        Effect.mapError(storeError("putSchedule"))
      ),
    remove: (name) =>
      unstorableKey(sql, name) ? Effect.succeed(false) : sql`DELETE FROM ${sql(table)} WHERE name = ${name} RETURNING name`.pipe(
        Effect.map((rows) => rows.length > 0),
        Effect.mapError(storeError("removeSchedule"))
      )
  })
})

/** The store on the `SqlClient` provided to it. */
export const layer: Layer.Layer<ScheduleStore.ScheduleStore, TaskError.TaskStoreError, SqlClient.SqlClient> = Layer.effect(
  ScheduleStore.ScheduleStore,
  make
)
