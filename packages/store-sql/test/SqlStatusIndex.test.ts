/**
 * The status index leaves completed records out (migration 0006): a
 * database made before it upgrades, every status is still listed and
 * counted, and the queries that leave completed records out walk the index.
 * On SQLite and, with `CHAINJOBS_TEST_PG_URL`, on PostgreSQL, where
 * migration 0007 then drops the index for the table of unfinished ids
 * (`SqlHotCompletions.test.ts`).
 */
import { record } from "@chainjobs/tasks/test/TaskStoreConformance"
import type { TaskInfo } from "@chainjobs/tasks"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import { Migrator, SqlClient } from "effect/sql"
import * as SqlTaskStore from "../src/SqlTaskStore.ts"
import * as NodeSqliteClient from "../src/NodeSqliteClient.ts"
import { columns, migrations, migrationsTable, table, toValues } from "../src/internal/taskTable.ts"
import { pgTestSchemaNamed, pgTestUrl, reportSkipped } from "./pgTestDatabase.ts"
import { tempDatabaseFile } from "./tempDirectory.ts"

/** The task table as migrations 0001–0005 left it: a full status index. */
const migrateToFive = Migrator.make({})({
  loader: Migrator.fromRecord(Object.fromEntries(Object.entries(migrations).filter(([name]) => name < "0006"))),
  table: migrationsTable
})

const statuses: ReadonlyArray<TaskInfo.TaskStatus> = ["pending", "running", "completed", "failed", "interrupted"]

/** Two records of each status, written as rows of the old table. */
const records = statuses.flatMap((status) => [record({ status }), record({ status })])

/** The definition of the status index, as the database states it. */
const statusIndex = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const rows = yield* sql.onDialectOrElse({
    pg: () => sql<{ readonly definition: string }>`SELECT indexdef AS definition FROM pg_indexes WHERE indexname = ${`${table}_status`} AND schemaname = current_schema()`,
    orElse: () => sql<{ readonly definition: string }>`SELECT sql AS definition FROM sqlite_master WHERE name = ${`${table}_status`}`
  })
  return rows[0]?.definition ?? ""
})

/**
 * Makes the old table, fills it, starts the store on it (which upgrades it:
 * the status index then matches `indexAfter`) and checks what it answers.
 */
const upgrades = (indexAfter: RegExp) => Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* migrateToFive
  assert.notMatch(yield* statusIndex, /WHERE/i)
  for (const info of records) {
    const parameters = columns.map((_, i) => sql.onDialectOrElse({ pg: () => `$${i + 1}`, orElse: () => "?" }))
    yield* sql.unsafe(`INSERT INTO ${table} (${columns.join(", ")}) VALUES (${parameters.join(", ")})`, toValues(info))
  }
  const store = yield* SqlTaskStore.make()
  assert.match(yield* statusIndex, indexAfter)
  const idsOf = (infos: ReadonlyArray<TaskInfo.TaskInfo>) => infos.map((info) => info.id).sort()
  for (const status of statuses) {
    const page = yield* store.list({ status: [status] })
    assert.deepStrictEqual(idsOf(page.items), idsOf(records.filter((info) => info.status === status)), status)
  }
  const finished = yield* store.list({ status: ["completed", "failed"] })
  assert.deepStrictEqual(idsOf(finished.items), idsOf(records.filter((info) => info.status === "completed" || info.status === "failed")))
  assert.deepStrictEqual(idsOf(yield* store.unfinished), idsOf(records.filter((info) => info.status === "pending" || info.status === "running")))
  assert.deepStrictEqual(yield* store.count({ status: ["completed", "running"] }), { pending: 0, running: 2, completed: 2, failed: 0, interrupted: 0 })
  // A completion leaves the index; the record is still found by its status.
  const running = records.find((info) => info.status === "running")!
  yield* store.update({ ...running, status: "completed", finishedAt: 2 })
  assert.strictEqual((yield* store.list({ status: ["completed"] })).items.length, 3)
  assert.strictEqual((yield* store.list({ status: ["running"] })).items.length, 1)
})

describe("the partial status index", () => {
  it.effect("a SQLite database made before it upgrades, and lists, counts and finds unfinished records of every status", () =>
    Effect.gen(function*() {
      const filename = yield* tempDatabaseFile
      yield* Effect.scoped(upgrades(/WHERE.*status.*<>.*'completed'/i)).pipe(Effect.provide(NodeSqliteClient.layer({ filename }), { local: true }))
    }))

  reportSkipped("the status index upgrade")
  it.effect.skipIf(pgTestUrl === undefined)("a PostgreSQL schema made before it upgrades, and lists, counts and finds unfinished records of every status", () =>
    Effect.gen(function*() {
      const schema = yield* pgTestSchemaNamed("status_index")
      const client = SqlTaskStore.layerPgClient({ url: Redacted.make(pgTestUrl ?? ""), schema, maxConnections: 2 })
      // 0007 drops the status index: unfinished records are found through the table of their ids.
      yield* Effect.scoped(upgrades(/^$/)).pipe(Effect.provide(client, { local: true }))
    }))
})
