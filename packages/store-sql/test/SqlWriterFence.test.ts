/**
 * The writer fence on PostgreSQL (migration 0008): a runner of a version
 * before it, still running after the upgrade, writes rows without
 * `writerColumn` — and without keeping the unfinished ids in step (0007) —
 * so each of its writes fails, saying why, and changes nothing; the store's
 * own writes pass, and rows written before the upgrade keep working. With
 * `CHAINJOBS_TEST_PG_URL`.
 */
import { record } from "@chainjobs/tasks/test/TaskStoreConformance"
import type { TaskInfo } from "@chainjobs/tasks"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Option, Redacted, type Scope } from "effect"
import { Migrator, SqlClient } from "effect/sql"
import * as SqlTaskStore from "../src/SqlTaskStore.ts"
import { describe as describeFailure } from "../src/internal/storeFailure.ts"
import { columns, migrations, migrationsTable, table, toValues, unfinishedTable, updatedColumns, writerColumn, writerLevel } from "../src/internal/taskTable.ts"
import { pgTestSchemaNamed, pgTestUrl, reportSkipped } from "./pgTestDatabase.ts"

/** The task table as the previous version left it: migrations 0001–0007. */
const migrateToSeven = Migrator.make({})({
  loader: Migrator.fromRecord(Object.fromEntries(Object.entries(migrations).filter(([name]) => name < "0008"))),
  table: migrationsTable
})

const parameters = columns.map((_, i) => `$${i + 1}`).join(", ")

/** An insert as the previous version wrote one: its columns named, the fence's not. */
const oldInsert = (info: TaskInfo.TaskInfo) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* sql.unsafe(`INSERT INTO ${table} (${columns.join(", ")}) VALUES (${parameters})`, toValues(info))
  })

/** A state change as the previous version wrote one: an upsert of the whole record, the fence's column not named. */
const oldUpsert = (info: TaskInfo.TaskInfo) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const set = updatedColumns.map((column) => `${column} = excluded.${column}`).join(", ")
    yield* sql.unsafe(`INSERT INTO ${table} (${columns.join(", ")}) VALUES (${parameters}) ON CONFLICT (id) DO UPDATE SET ${set}`, toValues(info))
  })

/** Each row's id and what its writer wrote in the fence's column. */
const writers = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const rows = yield* sql.unsafe<{ readonly id: string; readonly writer: number }>(`SELECT id, ${writerColumn} AS writer FROM ${table} ORDER BY id`)
  return rows.map((row) => [row.id, Number(row.writer)] as const)
})

/** The ids in the table of unfinished ids. */
const unfinishedIds = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  return (yield* sql<{ readonly id: string }>`SELECT id FROM ${sql(unfinishedTable)} ORDER BY id`).map((row) => row.id)
})

/** Runs `body` on a pool of two connections in a fresh schema. */
const onSchema = <A, E>(prefix: string, body: Effect.Effect<A, E, SqlClient.SqlClient | Scope.Scope>) =>
  Effect.gen(function*() {
    const schema = yield* pgTestSchemaNamed(prefix)
    const client = SqlTaskStore.layerPgClient({ url: Redacted.make(pgTestUrl ?? ""), schema, maxConnections: 2 })
    return yield* Effect.scoped(body).pipe(Effect.provide(client, { local: true }))
  })

/** The fence's refusal, as the store would tell of it: the database's message and code. */
const refusal = /a runner older than migration 0008 wrote to chainjobs_tasks: stop it.*SQLSTATE 55000/

describe("the writer fence on PostgreSQL", () => {
  reportSkipped("the writer fence tests")

  it.effect.skipIf(pgTestUrl === undefined)(
    "an insert or a state change written as the previous version writes them fails, saying why, and changes nothing",
    () =>
      onSchema("fence_refuses", Effect.gen(function*() {
        const store = yield* SqlTaskStore.make()
        const held = record({ status: "running", startedAt: 1 })
        yield* store.insert(held)
        const before = yield* writers
        const inserted = yield* Effect.flip(oldInsert(record()))
        assert.match(describeFailure(inserted), refusal)
        const finished = yield* Effect.flip(oldUpsert({ ...held, status: "completed", finishedAt: 2 }))
        assert.match(describeFailure(finished), refusal)
        assert.deepStrictEqual(yield* writers, before)
        assert.deepStrictEqual(Option.map(yield* store.get(held.id), (info) => info.status), Option.some("running"))
        assert.deepStrictEqual(yield* unfinishedIds, [held.id])
      }))
  )

  it.effect.skipIf(pgTestUrl === undefined)(
    "the store's own writes pass it: inserts, batches, state changes, progress; each row names its writer's level",
    () =>
      onSchema("fence_passes", Effect.gen(function*() {
        const store = yield* SqlTaskStore.make()
        const [one, two, three] = [record(), record(), record({ status: "running", startedAt: 1 })]
        yield* store.insert(one)
        yield* store.insertAll!([two, three])
        yield* Effect.all([
          store.update({ ...one, status: "running", startedAt: 2 }),
          store.update({ ...two, status: "completed", finishedAt: 2 })
        ], { concurrency: "unbounded", discard: true })
        yield* store.updateProgress({ ...three, progress: 40 })
        // after its removal, a state change records the task again (an upsert's insert)
        assert.isTrue(yield* store.remove(two.id))
        yield* store.update({ ...two, status: "failed", reason: "error", finishedAt: 3 })
        assert.deepStrictEqual(yield* writers, [one, two, three].map((info) => [info.id, writerLevel] as const).sort())
        const statuses = yield* Effect.forEach([one, two, three], (info) => store.get(info.id))
        assert.deepStrictEqual(statuses.map(Option.map((info) => info.status)), [Option.some("running"), Option.some("failed"), Option.some("running")])
        assert.deepStrictEqual(Option.map(yield* store.get(three.id), (info) => info.progress), Option.some(40))
      }))
  )

  it.effect.skipIf(pgTestUrl === undefined)(
    "a database the previous version made upgrades: its rows get the level, the store changes them, its old writes fail from then on",
    () =>
      onSchema("fence_upgrade", Effect.gen(function*() {
        yield* migrateToSeven
        const [pending, running] = [record(), record({ status: "running", startedAt: 1 })]
        // the previous version's store kept the unfinished ids; an old insert here is such a write, then its id
        for (const info of [pending, running]) yield* oldInsert(info)
        const sql = yield* SqlClient.SqlClient
        yield* sql`INSERT INTO ${sql(unfinishedTable)} (id) VALUES (${pending.id}), (${running.id})`
        const store = yield* SqlTaskStore.make()
        assert.deepStrictEqual(yield* writers, [pending, running].map((info) => [info.id, writerLevel] as const).sort())
        yield* store.update({ ...running, status: "completed", finishedAt: 2 })
        assert.deepStrictEqual(yield* unfinishedIds, [pending.id])
        assert.deepStrictEqual((yield* store.unfinished).map((info) => info.id), [pending.id])
        assert.match(describeFailure(yield* Effect.flip(oldInsert(record()))), refusal)
        assert.match(describeFailure(yield* Effect.flip(oldUpsert({ ...pending, status: "running", startedAt: 3 }))), refusal)
      }))
  )
})
