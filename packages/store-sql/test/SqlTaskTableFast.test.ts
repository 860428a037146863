/**
 * The task table (`internal/taskTable.ts`) in a few quick tests, for its
 * mutation stages: every mutant in its migrations runs every test that opens
 * a store, so these are few. The row mapping is checked as functions first
 * (no database), then the schema the migrations leave on SQLite (a real file)
 * and, when `CHAINJOBS_TEST_PG_URL` is set, on PostgreSQL (a schema of its own).
 */
import { record } from "@chainjobs/tasks/test/TaskStoreConformance"
import { type TaskInfo, TaskStore } from "@chainjobs/tasks"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer, Option } from "effect"
import { SqlClient } from "effect/sql"
import {
  columns,
  fromRow,
  migrationsTable,
  pgFillFactor,
  refuseOldWriter,
  rowsValues,
  sizeClasses,
  table,
  type TaskRow,
  toValues,
  unfinishedTable,
  updatedColumns,
  writerColumn,
  writerLevel
} from "../src/internal/taskTable.ts"
import * as NodeSqliteClient from "../src/NodeSqliteClient.ts"
import * as SqlTaskStore from "../src/SqlTaskStore.ts"
import * as PgTest from "./pgTestDatabase.ts"
import { tempDatabaseFile } from "./tempDirectory.ts"

/** A record with every field set, JSON fields nested. */
const everyField = (): TaskInfo.TaskInfo =>
  record({
    status: "failed",
    reason: "timeout",
    priority: 1.25,
    key: "key",
    owner: "owner",
    attempt: 4,
    progress: 12.5,
    message: "message",
    detail: { step: ["a", 1] },
    payload: { nested: { n: 1 } },
    result: [null, 2],
    error: "text",
    errorMessage: "error message",
    checkpoint: { block: 9 },
    startedAt: 11,
    finishedAt: 12,
    heartbeatAt: 13,
    expiresAt: 14,
    timeoutMillis: 15,
    heartbeatTimeoutMillis: 16,
    runner: "runner",
    retries: 17
  })

/** `info`'s row as a database gives it back: its column values by name. */
const rowOf = (info: TaskInfo.TaskInfo): TaskRow =>
  Object.fromEntries(columns.map((column, n) => [column, toValues(info)[n]])) as TaskRow

describe("the task table's rows", () => {
  it("a record's column values come in the order of the columns, JSON as text, absent limits as null", () => {
    const info = everyField()
    assert.deepStrictEqual(toValues(info), [
      info.id,
      "noop",
      "failed",
      "timeout",
      1.25,
      "key",
      "owner",
      4,
      12.5,
      "message",
      "{\"step\":[\"a\",1]}",
      "{\"nested\":{\"n\":1}}",
      "[null,2]",
      "\"text\"",
      "error message",
      "{\"block\":9}",
      info.createdAt,
      11,
      12,
      13,
      14,
      15,
      16,
      "runner",
      17
    ])
    const bare = record({ payload: null })
    assert.deepStrictEqual(toValues(bare).slice(9, 16), [null, "null", "null", "null", "null", null, "null"])
    assert.deepStrictEqual(toValues(bare).slice(21), [null, null, null, null])
    assert.deepStrictEqual(rowsValues([info, bare]), [...toValues(info), ...toValues(bare)])
    assert.deepStrictEqual(rowsValues([]), [])
  })

  it("a row reads back as the record written, numbers from bigints, absent limits left out", () => {
    for (const info of [everyField(), record({ payload: null }), record({ payload: 0, detail: false, result: "", checkpoint: 0 })]) {
      assert.deepStrictEqual(fromRow(rowOf(info)), info)
    }
    const big = rowOf(everyField())
    const asBigints = Object.fromEntries(
      Object.entries(big).map(([column, value]) => [column, typeof value === "number" && Number.isInteger(value) ? BigInt(value) : value])
    ) as TaskRow
    assert.deepStrictEqual(fromRow(asBigints), fromRow(big))
    // A row written before the detail column held null reads as no detail.
    const old = { ...rowOf(record()), detail: null, timeout_millis: undefined, max_retries: undefined } as unknown as TaskRow
    const read = fromRow(old)
    assert.isNull(read.detail)
    assert.isFalse("timeoutMillis" in read || "retries" in read)
  })

  it("a state change writes every column but the ones fixed at insert", () => {
    assert.deepStrictEqual(updatedColumns, [
      "status",
      "reason",
      "priority",
      "attempt",
      "progress",
      "message",
      "detail",
      "result",
      "error",
      "error_message",
      "checkpoint",
      "started_at",
      "finished_at",
      "heartbeat_at",
      "expires_at",
      "runner"
    ])
  })

  it("statements take the biggest power of two rows that fits, up to 512, then the next", () => {
    assert.deepStrictEqual(sizeClasses(0), [])
    assert.deepStrictEqual(sizeClasses(1), [1])
    assert.deepStrictEqual(sizeClasses(7), [4, 2, 1])
    assert.deepStrictEqual(sizeClasses(512), [512])
    assert.deepStrictEqual(sizeClasses(1_100), [512, 512, 64, 8, 4])
  })
})

/** Runs `body` with the SQL client of a SQLite file and a store opened on it. */
const onSqliteStore = <A>(filename: string, body: Effect.Effect<A, unknown, SqlClient.SqlClient | TaskStore.TaskStore>) =>
  body.pipe(
    Effect.provide(
      SqlTaskStore.layer().pipe(Layer.provideMerge(NodeSqliteClient.layer({ filename }))),
      { local: true }
    )
  )

describe("the task table on SQLite", () => {
  it.effect("the migrations leave the columns, the indexes (the status index without completed records) and their record", () =>
    Effect.gen(function*() {
      const filename = yield* tempDatabaseFile
      const info = everyField()
      yield* onSqliteStore(
        filename,
        Effect.gen(function*() {
          yield* (yield* TaskStore.TaskStore).insert(info)
        })
      )
      // Opened again: nothing is migrated twice, and the record is there.
      const found = yield* onSqliteStore(
        filename,
        Effect.gen(function*() {
          const sql = yield* SqlClient.SqlClient
          const store = yield* TaskStore.TaskStore
          return {
            read: yield* store.get(info.id),
            columns: yield* sql<{ readonly name: string; readonly type: string }>`SELECT name, type FROM pragma_table_info(${table})`,
            indexes: yield* sql<{ readonly name: string; readonly sql: string }>`SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL ORDER BY name`,
            migrations: yield* sql<{ readonly name: string }>`SELECT name FROM ${sql(migrationsTable)} ORDER BY migration_id`
          }
        })
      )
      assert.deepStrictEqual(Option.getOrThrow(found.read), info)
      assert.deepStrictEqual(found.columns.map((column) => column.name).sort(), [...columns].sort())
      assert.deepStrictEqual(found.indexes.map((index) => index.name), [
        `${table}_created_at`,
        `${table}_expires_at`,
        `${table}_finished_at`,
        `${table}_kind`,
        `${table}_owner`,
        `${table}_status`
      ])
      const status = found.indexes.find((index) => index.name === `${table}_status`)!
      assert.match(status.sql, /\(status, id\) WHERE status <> 'completed'$/)
      assert.deepStrictEqual(found.migrations.map((migration) => migration.name), [
        "create_tasks",
        "add_detail",
        "add_limits",
        "add_runner",
        "add_retries",
        "partial_status_index",
        "hot_completions",
        "writer_fence"
      ])
    }))
})

describe.skipIf(PgTest.pgTestUrl === undefined)("the task table on PostgreSQL", () => {
  it.effect("ids compare byte by byte; state changes leave no status, finish or expiry index; pages keep room; old writers are refused", () =>
    Effect.gen(function*() {
      const schema = yield* PgTest.pgTestSchema
      const info = everyField()
      const [upper, lower] = [record({ id: "B-task" }), record({ id: "a-task" })]
      const page = yield* Effect.gen(function*() {
        const store = yield* TaskStore.TaskStore
        yield* Effect.forEach([info, upper, lower], (each) => store.insert(each), { discard: true })
        assert.deepStrictEqual(Option.getOrThrow(yield* store.get(info.id)), info)
        return yield* store.list({ kind: ["noop"], cursor: "b" })
      }).pipe(Effect.provide(PgTest.pgStoreIn(schema), { local: true }))
      // "B" (0x42) sorts before "a" (0x61) byte by byte; newest (greatest id) first below the cursor "b": "a-task", then "B-task".
      assert.deepStrictEqual(page.items.slice(0, 2).map((each) => each.id), ["a-task", "B-task"])
      const inSchema = (name: string) => `${PgTest.quoted(schema)}.${name}`
      const found = yield* PgTest.onPgTestDatabase(Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const indexes = yield* sql<{ readonly indexname: string }>`SELECT indexname FROM pg_indexes WHERE schemaname = ${schema} AND tablename = ${table} ORDER BY indexname`
        const options = yield* sql<{ readonly reloptions: ReadonlyArray<string> | null }>`SELECT reloptions FROM pg_class WHERE oid = ${inSchema(table)}::regclass`
        const types = yield* sql<{ readonly column_name: string; readonly data_type: string }>`SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = ${schema} AND table_name = ${table} AND column_name IN ('priority', 'created_at', 'timeout_millis', ${writerColumn}) ORDER BY column_name`
        const unfinished = yield* sql<{ readonly id: string }>`SELECT id FROM ${sql.literal(inSchema(unfinishedTable))} ORDER BY id`
        const levels = yield* sql<{ readonly level: number }>`SELECT ${sql.literal(writerColumn)} AS level FROM ${sql.literal(inSchema(table))} WHERE id = ${info.id}`
        const old = yield* Effect.exit(
          sql.unsafe(`INSERT INTO ${inSchema(table)} (id, kind, status, priority, attempt, progress, created_at) VALUES ('old', 'noop', 'pending', 0, 1, 0, 1)`)
        )
        return { indexes, options, types, unfinished, levels, old }
      }))
      assert.deepStrictEqual(found.indexes.map((index) => index.indexname), [
        `${table}_created_at`,
        `${table}_kind`,
        `${table}_owner`,
        `${table}_pkey`
      ])
      assert.deepStrictEqual(found.options[0].reloptions, [`fillfactor=${pgFillFactor}`])
      assert.deepStrictEqual(found.types.map((column) => [column.column_name, column.data_type]), [
        ["created_at", "bigint"],
        ["priority", "double precision"],
        ["timeout_millis", "bigint"],
        [writerColumn, "smallint"]
      ])
      assert.deepStrictEqual(found.unfinished.map((row) => row.id), [upper.id, lower.id])
      assert.deepStrictEqual(found.levels.map((row) => row.level), [writerLevel])
      assert.isTrue(Exit.isFailure(found.old))
      assert.include(String(Exit.isFailure(found.old) ? found.old.cause : ""), "older than migration 0008")
      assert.strictEqual(refuseOldWriter, "chainjobs_refuse_old_writer")
    }))
})
