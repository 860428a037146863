/**
 * The PostgreSQL layers beyond a schema given in code: without `schema` the
 * tables go where the connection's `search_path` says, `layerPgConfig` reads
 * the URL and the schema from configuration, and the key columns compare
 * byte by byte (collation "C") whatever the database's default collation.
 * Stores starting together on a fresh schema all open.
 */
import { record } from "@chainjobs/tasks/test/TaskStoreConformance"
import { ScheduleStore, type TaskInfo, TaskStore } from "@chainjobs/tasks"
import { assert, describe, it } from "@effect/vitest"
import { Config, ConfigProvider, Effect, Exit, type Layer, Option, Redacted } from "effect"
import { SqlClient } from "effect/sql"
import * as SqlTaskStore from "../src/SqlTaskStore.ts"
import { onPgTestDatabase, pgStoreIn, pgTestSchemaNamed, pgTestUrl, quoted, reportSkipped } from "./pgTestDatabase.ts"

reportSkipped("the PostgreSQL layers' settings")

/** The ids stored in `schema`'s task table, read on a connection of its own. */
const storedIds = (schema: string) =>
  onPgTestDatabase(Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const rows = yield* sql<{ id: string }>`SELECT id FROM ${sql.literal(quoted(schema))}.chainjobs_tasks ORDER BY id`
    return rows.map((row) => row.id)
  }))

/** Stores `info` through the store `layer` gives, and reads it back. */
const insertAndGet = <E>(layer: Layer.Layer<TaskStore.TaskStore, E>, info: TaskInfo.TaskInfo) =>
  Effect.gen(function*() {
    const store = yield* TaskStore.TaskStore
    yield* store.insert(info)
    return Option.getOrThrow(yield* store.get(info.id))
  }).pipe(Effect.provide(layer, { local: true }))

describe.skipIf(pgTestUrl === undefined)("SqlTaskStore on PostgreSQL, layers", () => {
  it.effect("without a schema the tables go to the connection's search_path", () =>
    Effect.gen(function*() {
      const schema = yield* pgTestSchemaNamed("store_path")
      yield* onPgTestDatabase(Effect.flatMap(SqlClient.SqlClient, (sql) => sql`CREATE SCHEMA ${sql.literal(quoted(schema))}`))
      const info = record()
      const read = yield* insertAndGet(
        SqlTaskStore.layerPg({
          url: Redacted.make(pgTestUrl!),
          maxConnections: 1,
          startupParameters: { search_path: quoted(schema) }
        }),
        info
      )
      assert.deepStrictEqual(read, info)
      assert.deepStrictEqual(yield* storedIds(schema), [info.id])
    }), 30_000)

  it.effect("layerPgConfig reads the URL and the schema from configuration", () =>
    Effect.gen(function*() {
      const schema = yield* pgTestSchemaNamed("store_config")
      const info = record()
      const read = yield* insertAndGet(
        SqlTaskStore.layerPgConfig({ url: Config.Redacted("DATABASE_URL"), schema: Config.String("TASKS_SCHEMA") }),
        info
      ).pipe(
        Effect.provideService(
          ConfigProvider.ConfigProvider,
          ConfigProvider.fromUnknown({ DATABASE_URL: pgTestUrl!, TASKS_SCHEMA: schema })
        )
      )
      assert.deepStrictEqual(read, info)
      assert.deepStrictEqual(yield* storedIds(schema), [info.id])
    }), 30_000)

  it.effect("stores starting together on a fresh schema all open: the losers of the race on the catalog look again", () =>
    Effect.gen(function*() {
      // Three processes' worth of stores, three times: without the second look one of them failed most rounds.
      for (let round = 0; round < 3; round++) {
        const schema = yield* pgTestSchemaNamed("store_race")
        const opened = yield* Effect.all(
          Array.from({ length: 3 }, () =>
            Effect.exit(Effect.provide(Effect.map(TaskStore.TaskStore, () => "opened"), pgStoreIn(schema), { local: true }))),
          { concurrency: "unbounded" }
        )
        assert.deepStrictEqual(opened.map(String), Array(3).fill(String(Exit.succeed("opened"))), `round ${round}`)
      }
    }), 60_000)

  it.effect("task ids and schedule names compare byte by byte, whatever the database's collation", () =>
    Effect.gen(function*() {
      const schema = yield* pgTestSchemaNamed("store_collation")
      yield* Effect.gen(function*() {
        yield* TaskStore.TaskStore
        yield* ScheduleStore.ScheduleStore
      }).pipe(Effect.provide(SqlTaskStore.layerPg({ url: Redacted.make(pgTestUrl!), schema, maxConnections: 1 }), { local: true }))
      const collations = yield* onPgTestDatabase(Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        return yield* sql<{ table_name: string; column_name: string; collation_name: string | null }>`
          SELECT table_name, column_name, collation_name FROM information_schema.columns
          WHERE table_schema = ${schema} AND table_name IN ('chainjobs_tasks', 'chainjobs_schedules')
            AND column_name IN ('id', 'name')
          ORDER BY table_name`
      }))
      assert.deepStrictEqual(collations.map((row) => ({ ...row })), [
        { table_name: "chainjobs_schedules", column_name: "name", collation_name: "C" },
        { table_name: "chainjobs_tasks", column_name: "id", collation_name: "C" }
      ])
    }), 30_000)
})
