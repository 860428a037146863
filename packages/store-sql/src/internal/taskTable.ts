/**
 * The table that holds task records: its migrations, and the mapping between
 * a `TaskInfo` and a row. Payload, result, error, checkpoint and progress
 * detail are stored as JSON text, timestamps as epoch milliseconds.
 */
import type { TaskInfo as TaskInfoModule } from "@chainjobs/tasks"
import { Effect } from "effect"
import { Migrator, SqlClient } from "effect/sql"

type TaskInfo = TaskInfoModule.TaskInfo

/** The table of task records. */
export const table = "chainjobs_tasks"

/**
 * On PostgreSQL, the ids of the unfinished (pending or running) records of
 * `table` (migration `0007_hot_completions`): it stands in for an index on
 * `status`, so that a state change touches no indexed column of `table`
 * and PostgreSQL can make it a heap-only (HOT) update. A row is inserted
 * with its task's unfinished record and deleted by the state change that
 * finishes it, in the same statement as the record's write.
 */
export const unfinishedTable = "chainjobs_unfinished"

/** The statuses of an unfinished record, as a list of SQL literals. */
export const unfinishedStatuses = "'pending', 'running'"

/**
 * The fill factor of `table` on PostgreSQL: the share of a page its inserts
 * fill. A HOT update writes the new version on the old one's page, so a
 * page must keep room for it; the tasks inserted together (a batch, the
 * rows of a few pages) tend to finish together, in one batch, before the
 * page can be pruned, so half of it is left for their completions. Measured
 * on 2,000 rows completed in one statement: 0, 351, 795, 1,220 and 1,852
 * HOT updates at fill factors 100, 85, 70, 60 and 50.
 */
export const pgFillFactor = 50

/**
 * On PostgreSQL, the column that fences off writers older than migration
 * `0008_writer_fence` (see `writerFence`): this store names it in every
 * write, with `writerLevel`; a write that leaves it out fails.
 */
export const writerColumn = "written_by"

/** What this store writes in `writerColumn`: the last migration it knows. */
export const writerLevel = 8

/** The function whose call is `writerColumn`'s default: it refuses the write (see `writerFence`). */
export const refuseOldWriter = "chainjobs_refuse_old_writer"

/** Where the migrator records which migrations ran. */
export const migrationsTable = "chainjobs_tasks_migrations"

/** Column names, in the order `toValues` produces their values. */
export const columns = [
  "id",
  "kind",
  "status",
  "reason",
  "priority",
  "concurrency_key",
  "owner",
  "attempt",
  "progress",
  "message",
  "detail",
  "payload",
  "result",
  "error",
  "error_message",
  "checkpoint",
  "created_at",
  "started_at",
  "finished_at",
  "heartbeat_at",
  "expires_at",
  "timeout_millis",
  "heartbeat_timeout_millis",
  "runner",
  "max_retries"
] as const

/**
 * Columns fixed when a task is inserted: a state change never alters what the
 * task is, who submitted it or when. Updates leave them, and the indexes on
 * them, untouched.
 */
const insertOnly: ReadonlySet<string> = new Set([
  "id",
  "kind",
  "concurrency_key",
  "owner",
  "payload",
  "created_at",
  "timeout_millis",
  "heartbeat_timeout_millis",
  "max_retries"
])

/** The columns a state change or progress write updates. */
export const updatedColumns = columns.filter((column) => !insertOnly.has(column))

/** A stored task record. */
export type TaskRow = { readonly [K in (typeof columns)[number]]: unknown }

const createTasks = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const float = sql.onDialectOrElse({ pg: () => "double precision", orElse: () => "REAL" })
  const int64 = sql.onDialectOrElse({ pg: () => "bigint", orElse: () => "INTEGER" })
  // Ids compare byte by byte, as in SQLite and in JavaScript, whatever the database's locale.
  const bytewise = sql.onDialectOrElse({ pg: () => ` COLLATE "C"`, orElse: () => "" })
  yield* sql.unsafe(`CREATE TABLE ${table} (
    id text${bytewise} PRIMARY KEY NOT NULL,
    kind text NOT NULL,
    status text NOT NULL,
    reason text,
    priority ${float} NOT NULL,
    concurrency_key text,
    owner text,
    attempt integer NOT NULL,
    progress ${float} NOT NULL,
    message text,
    payload text,
    result text,
    error text,
    error_message text,
    checkpoint text,
    created_at ${int64} NOT NULL,
    started_at ${int64},
    finished_at ${int64},
    heartbeat_at ${int64},
    expires_at ${int64}
  )`)
  // Each list filter walks an index in id order, so keyset pages stay cheap;
  // the retention purge finds finished records through the last two.
  for (
    const index of [
      `${table}_status ON ${table} (status, id)`,
      `${table}_kind ON ${table} (kind, id)`,
      `${table}_owner ON ${table} (owner, id) WHERE owner IS NOT NULL`,
      `${table}_created_at ON ${table} (created_at)`,
      `${table}_finished_at ON ${table} (finished_at) WHERE finished_at IS NOT NULL`,
      `${table}_expires_at ON ${table} (expires_at) WHERE expires_at IS NOT NULL`
    ]
  ) {
    yield* sql.unsafe(`CREATE INDEX ${index}`)
  }
})

/** Progress details arrived after the first release. */
const addDetail = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql.unsafe(`ALTER TABLE ${table} ADD COLUMN detail text`)
})

/** A submission's own time limits arrived later still (null: the kind's). */
const addLimits = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const int64 = sql.onDialectOrElse({ pg: () => "bigint", orElse: () => "INTEGER" })
  yield* sql.unsafe(`ALTER TABLE ${table} ADD COLUMN timeout_millis ${int64}`)
  yield* sql.unsafe(`ALTER TABLE ${table} ADD COLUMN heartbeat_timeout_millis ${int64}`)
})

/** The runner that runs or ran a task, in a cluster of runners (`TaskInfo.runner`). */
const addRunner = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql.unsafe(`ALTER TABLE ${table} ADD COLUMN runner text`)
})

/** A submission's cap on retries (`TaskInfo.retries`; null: the kind's policy). */
const addRetries = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql.unsafe(`ALTER TABLE ${table} ADD COLUMN max_retries integer`)
})

/**
 * What the status index leaves out: completed records, most of the table.
 * A completion then adds no entry to it (a non-HOT update otherwise adds one
 * to every index), and it stays the size of the unfinished, failed and
 * interrupted records. Queries that filter on statuses without this one say
 * so in these words (see `SqlTaskStore`), so that SQLite, which matches a
 * partial index's condition as written, and PostgreSQL both walk the index.
 */
export const statusIndexExcludes = "status <> 'completed'"

/**
 * The status index without completed records (see `statusIndexExcludes`).
 * Measured on PostgreSQL at load 22–23, the completion of 1,000 records took
 * 12–14 ms of server time instead of 15–20; a list of completed records walks
 * the primary key in id order instead, where most records are completed.
 */
const partialStatusIndex = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql.unsafe(`DROP INDEX ${table}_status`)
  yield* sql.unsafe(`CREATE INDEX ${table}_status ON ${table} (status, id) WHERE ${statusIndexExcludes}`)
})

/**
 * PostgreSQL only (SQLite updates in place, touching only the indexes whose
 * columns changed): completions as HOT updates. The columns a state change
 * writes lose their indexes — the status index gives way to
 * `unfinishedTable`, filled here from the unfinished records, and the
 * indexes on `finished_at` and `expires_at` go (the retention purge reads
 * the table) — and the table's pages keep room for new versions
 * (`pgFillFactor`, which applies to pages written from then on). The table
 * is locked first, so that no write of another process falls between the
 * fill and the end of the migration's transaction.
 */
const hotCompletions = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql.onDialectOrElse({
    pg: () =>
      Effect.gen(function*() {
        yield* sql.unsafe(`LOCK TABLE ${table} IN ACCESS EXCLUSIVE MODE`)
        yield* sql.unsafe(`CREATE TABLE ${unfinishedTable} (id text COLLATE "C" PRIMARY KEY NOT NULL)`)
        yield* sql.unsafe(`INSERT INTO ${unfinishedTable} (id) SELECT id FROM ${table} WHERE status IN (${unfinishedStatuses})`)
        for (const index of ["status", "finished_at", "expires_at"]) yield* sql.unsafe(`DROP INDEX ${table}_${index}`)
        yield* sql.unsafe(`ALTER TABLE ${table} SET (fillfactor = ${pgFillFactor})`)
      }),
    orElse: () => Effect.void
  })
})

/**
 * PostgreSQL only: a runner of a version before this one, still running
 * after the upgrade, can no longer write (migration 0007 made every write
 * keep `unfinishedTable` in step, which such a runner does not: a task it
 * recorded would never be recovered). Every write of the store is an
 * `INSERT` (an upsert for state changes) naming its columns; from now on
 * the store names `writerColumn` too, and the column's default — what a
 * write that leaves it out gets, the old runners' — is a call that raises
 * an error saying why, before the row is written or the conflict resolved.
 * The rows written before keep `writerLevel` (set without rewriting the
 * table: a constant default); the store's writes evaluate no default, so
 * they cost nothing more than the column.
 */
const writerFence = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql.onDialectOrElse({
    pg: () =>
      Effect.gen(function*() {
        yield* sql.unsafe(
          `CREATE FUNCTION ${refuseOldWriter}() RETURNS smallint LANGUAGE plpgsql AS $$ BEGIN ` +
            `RAISE EXCEPTION 'chainjobs: a runner older than migration 0008 wrote to ${table}: stop it and run this version instead' ` +
            `USING ERRCODE = 'object_not_in_prerequisite_state', HINT = 'runners older than migration 0007 do not keep ${unfinishedTable} in step: the tasks they record would not be recovered'; ` +
            `END $$`
        )
        yield* sql.unsafe(`ALTER TABLE ${table} ADD COLUMN ${writerColumn} smallint NOT NULL DEFAULT ${writerLevel}`)
        yield* sql.unsafe(`ALTER TABLE ${table} ALTER COLUMN ${writerColumn} SET DEFAULT ${refuseOldWriter}()`)
      }),
    orElse: () => Effect.void
  })
})

/** The migrations of the task table, by name, in order. */
export const migrations = {
  "0001_create_tasks": createTasks,
  "0002_add_detail": addDetail,
  "0003_add_limits": addLimits,
  "0004_add_runner": addRunner,
  "0005_add_retries": addRetries,
  "0006_partial_status_index": partialStatusIndex,
  "0007_hot_completions": hotCompletions,
  "0008_writer_fence": writerFence
}

/** Creates or upgrades the task table. */
export const migrate = Migrator.make({})({
  loader: Migrator.fromRecord(migrations),
  table: migrationsTable
})

/**
 * Rows per statement at most: on SQLite, 25 columns × 512 rows stays well
 * under its limit of 32,766 parameters.
 */
const rowsPerStatement = 512

/**
 * How many rows each statement writing `count` rows takes: the biggest power
 * of two that fits, then the next. On SQLite, where each row is a group of
 * parameters, the statement texts therefore come in 10 shapes per conflict
 * clause, all of them kept in the prepared-statement cache, instead of one
 * text per batch size (each a fresh parse and plan).
 */
export const sizeClasses = (count: number): Array<number> => {
  const sizes: Array<number> = []
  for (let left = count; left > 0;) {
    const size = Math.min(rowsPerStatement, 2 ** Math.floor(Math.log2(left)))
    sizes.push(size)
    left -= size
  }
  return sizes
}

/** A value as JSON text (`null` as "null", without a call: most fields of most records are null). */
const toJson = (value: unknown): string | null =>
  value === null ? "null" : value === undefined ? null : JSON.stringify(value)
const fromJson = (text: unknown): unknown => text === null ? null : JSON.parse(text as string)
/** PostgreSQL returns `bigint` columns as JavaScript bigints. */
const toNumber = (value: unknown): number => Number(value)
const toNullableNumber = (value: unknown): number | null => value === null ? null : Number(value)

/** A statement parameter: what a column holds. */
export type ColumnValue = string | number | null

/**
 * Each column's value of a record, in the order of `columns`: a part of a
 * batch reads its records column by column (see `pgPart`), without an array
 * per record.
 */
export const columnReaders: ReadonlyArray<(info: TaskInfo) => ColumnValue> = [
  (info) => info.id,
  (info) => info.kind,
  (info) => info.status,
  (info) => info.reason,
  (info) => info.priority,
  (info) => info.key,
  (info) => info.owner,
  (info) => info.attempt,
  (info) => info.progress,
  (info) => info.message,
  (info) => toJson(info.detail),
  (info) => toJson(info.payload),
  (info) => toJson(info.result),
  (info) => toJson(info.error),
  (info) => info.errorMessage,
  (info) => toJson(info.checkpoint),
  (info) => info.createdAt,
  (info) => info.startedAt,
  (info) => info.finishedAt,
  (info) => info.heartbeatAt,
  (info) => info.expiresAt,
  (info) => info.timeoutMillis ?? null,
  (info) => info.heartbeatTimeoutMillis ?? null,
  (info) => info.runner ?? null,
  (info) => info.retries ?? null
]

/** A record's column values in the order of `columns`, as parameters of a statement. */
export const toValues = (info: TaskInfo): Array<ColumnValue> => columnReaders.map((read) => read(info))

/**
 * The column values of records, one after the other, as the parameters of a
 * multi-row statement: `records.flatMap(toValues)` without an array per
 * record: half the time (1.8 against 3.7 ms per 1,000 records, load 22).
 */
export const rowsValues = (records: ReadonlyArray<TaskInfo>): Array<ColumnValue> => {
  const values: Array<ColumnValue> = new Array(records.length * columnReaders.length)
  let at = 0
  for (const info of records) {
    for (const read of columnReaders) values[at++] = read(info)
  }
  return values
}

/** A row read back as a record. The table only ever holds rows written from `toValues`. */
export const fromRow = (row: TaskRow): TaskInfo => ({
  id: row.id as string,
  kind: row.kind as string,
  status: row.status as TaskInfo["status"],
  reason: row.reason as TaskInfo["reason"],
  priority: toNumber(row.priority),
  key: row.concurrency_key as string | null,
  owner: row.owner as string | null,
  attempt: toNumber(row.attempt),
  progress: toNumber(row.progress),
  message: row.message as string | null,
  detail: fromJson(row.detail ?? null),
  payload: fromJson(row.payload),
  result: fromJson(row.result),
  error: fromJson(row.error),
  errorMessage: row.error_message as string | null,
  checkpoint: fromJson(row.checkpoint),
  createdAt: toNumber(row.created_at),
  startedAt: toNullableNumber(row.started_at),
  finishedAt: toNullableNumber(row.finished_at),
  heartbeatAt: toNullableNumber(row.heartbeat_at),
  expiresAt: toNullableNumber(row.expires_at),
  // absent from rows written before the column existed, null when the submission set none
  ...(row.timeout_millis == null ? {} : { timeoutMillis: toNumber(row.timeout_millis) }),
  ...(row.heartbeat_timeout_millis == null ? {} : { heartbeatTimeoutMillis: toNumber(row.heartbeat_timeout_millis) }),
  ...(row.runner == null ? {} : { runner: row.runner as string }),
  ...(row.max_retries == null ? {} : { retries: toNumber(row.max_retries) })
})
