/**
 * Completions as heap-only (HOT) updates on PostgreSQL (migration 0007): the
 * columns a state change writes have no index, the unfinished records' ids
 * are kept in a table of their own, in step with every write, and a
 * database made by the previous version upgrades. With
 * `CHAINJOBS_TEST_PG_URL`.
 */
import { record } from "@chainjobs/tasks/test/TaskStoreConformance"
import type { TaskInfo } from "@chainjobs/tasks"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted, type Scope } from "effect"
import { Migrator, SqlClient } from "effect/sql"
import * as SqlTaskStore from "../src/SqlTaskStore.ts"
import { columns, migrations, migrationsTable, pgFillFactor, table, toValues, unfinishedTable } from "../src/internal/taskTable.ts"
import { pgTestSchemaNamed, pgTestUrl, reportSkipped } from "./pgTestDatabase.ts"
import { statementsOf } from "./statementTexts.ts"

/** The task table as the previous version left it: migrations 0001–0006. */
const migrateToSix = Migrator.make({})({
  loader: Migrator.fromRecord(Object.fromEntries(Object.entries(migrations).filter(([name]) => name < "0007"))),
  table: migrationsTable
})

const statuses: ReadonlyArray<TaskInfo.TaskStatus> = ["pending", "running", "completed", "failed", "interrupted"]

const isUnfinished = (info: TaskInfo.TaskInfo) => info.status === "pending" || info.status === "running"

const sorted = (ids: Iterable<string>) => Array.from(ids).sort()

/** The ids in the table of unfinished ids. */
const unfinishedIds = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  return sorted((yield* sql<{ readonly id: string }>`SELECT id FROM ${sql(unfinishedTable)}`).map((row) => row.id))
})

/** The task table's indexes, by name, and its storage options. */
const tableShape = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const indexes = yield* sql<{ readonly name: string }>`SELECT indexname AS name FROM pg_indexes WHERE tablename = ${table} AND schemaname = current_schema()`
  const options = yield* sql<{ readonly options: ReadonlyArray<string> | null }>`SELECT reloptions AS options FROM pg_class WHERE oid = ${table}::regclass`
  return { indexes: sorted(indexes.map((row) => row.name)), options: options[0]?.options ?? [] }
})

/** Runs `body` on a pool of `maxConnections` in a fresh schema. */
const onSchema = <A, E>(prefix: string, maxConnections: number, body: Effect.Effect<A, E, SqlClient.SqlClient | Scope.Scope>) =>
  Effect.gen(function*() {
    const schema = yield* pgTestSchemaNamed(prefix)
    const client = SqlTaskStore.layerPgClient({ url: Redacted.make(pgTestUrl ?? ""), schema, maxConnections })
    return yield* Effect.scoped(body).pipe(Effect.provide(client, { local: true }))
  })

describe("completions as HOT updates on PostgreSQL", () => {
  reportSkipped("the HOT completion tests")

  it.effect.skipIf(pgTestUrl === undefined)(
    "a schema made by the previous version upgrades: its unfinished records get their ids, the status, finish and expiry indexes go, the fill factor is set, and every record is found as before",
    () =>
      onSchema("hot_upgrade", 2, Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        yield* migrateToSix
        const records = statuses.flatMap((status) => [record({ status }), record({ status, owner: "alice" })])
        for (const info of records) {
          const parameters = columns.map((_, i) => `$${i + 1}`)
          yield* sql.unsafe(`INSERT INTO ${table} (${columns.join(", ")}) VALUES (${parameters.join(", ")})`, toValues(info))
        }
        const before = yield* tableShape
        assert.include(before.indexes, `${table}_status`)
        const store = yield* SqlTaskStore.make()
        const after = yield* tableShape
        assert.deepStrictEqual(after.indexes, sorted([`${table}_pkey`, `${table}_kind`, `${table}_owner`, `${table}_created_at`]))
        assert.deepStrictEqual(after.options, [`fillfactor=${pgFillFactor}`])
        const unfinished = records.filter(isUnfinished)
        assert.deepStrictEqual(yield* unfinishedIds, sorted(unfinished.map((info) => info.id)))
        assert.deepStrictEqual(sorted((yield* store.unfinished).map((info) => info.id)), sorted(unfinished.map((info) => info.id)))
        for (const status of statuses) {
          const page = yield* store.list({ status: [status] })
          assert.deepStrictEqual(sorted(page.items.map((info) => info.id)), sorted(records.filter((info) => info.status === status).map((info) => info.id)), status)
        }
        const alicePending = yield* store.list({ status: ["pending", "running"], owner: "alice" })
        assert.deepStrictEqual(
          sorted(alicePending.items.map((info) => info.id)),
          sorted(unfinished.filter((info) => info.owner === "alice").map((info) => info.id))
        )
        assert.deepStrictEqual(yield* store.count({}), { pending: 2, running: 2, completed: 2, failed: 2, interrupted: 2 })
        // A completion of an upgraded record leaves the unfinished ids.
        const running = records.find((info) => info.status === "running")!
        yield* store.update({ ...running, status: "completed", finishedAt: 2 })
        assert.notInclude(yield* unfinishedIds, running.id)
        assert.strictEqual((yield* store.list({ status: ["running"] })).items.length, 1)
      }))
  )

  it.effect.skipIf(pgTestUrl === undefined)(
    "the unfinished ids follow every write: inserts, state changes, progress, removal, a record recorded again, a batch written in a transaction",
    () =>
      onSchema("hot_follow", 2, Effect.gen(function*() {
        const store = yield* SqlTaskStore.make()
        const [running, pending, done] = [record({ status: "running", startedAt: 1 }), record(), record({ status: "completed", finishedAt: 2 })]
        yield* Effect.forEach([running, pending, done], store.insert, { concurrency: "unbounded", discard: true })
        assert.deepStrictEqual(yield* unfinishedIds, sorted([running.id, pending.id]))
        // One batch: a completion, a start, and progress of the started task's neighbour.
        const started = { ...pending, status: "running" as const, startedAt: 3 }
        yield* Effect.all([
          store.update({ ...running, status: "completed", finishedAt: 3 }),
          store.update(started)
        ], { concurrency: "unbounded", discard: true })
        assert.deepStrictEqual(yield* unfinishedIds, [pending.id])
        yield* store.updateProgress({ ...started, progress: 50 })
        assert.deepStrictEqual(yield* unfinishedIds, [pending.id])
        // A retry puts a finished record back to pending: unfinished again.
        yield* store.update({ ...running, status: "pending", attempt: 2 })
        assert.deepStrictEqual(yield* unfinishedIds, sorted([running.id, pending.id]))
        assert.isTrue(yield* store.remove(pending.id))
        assert.deepStrictEqual(yield* unfinishedIds, [running.id])
        // An update after a removal records the task again (an upsert), unfinished.
        yield* store.update(started)
        assert.deepStrictEqual(yield* unfinishedIds, sorted([running.id, pending.id]))
        // One batch writing one id twice goes as a transaction: a new record and its completion.
        const fresh = record()
        yield* Effect.all([
          store.insert(fresh),
          store.update({ ...fresh, status: "failed", reason: "error", finishedAt: 4 }),
          store.update({ ...started, status: "interrupted", finishedAt: 4 })
        ], { concurrency: "unbounded", discard: true })
        assert.deepStrictEqual(yield* unfinishedIds, [running.id])
        assert.deepStrictEqual((yield* store.unfinished).map((info) => info.id), [running.id])
      }))
  )

  it.effect.skipIf(pgTestUrl === undefined)(
    "records inserted together and completed together are mostly completed by HOT updates, adding no index entry",
    () =>
      // One connection: the store's writes and the statistics' flush run on the same backend.
      onSchema("hot_share", 1, Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const store = yield* SqlTaskStore.make()
        const started = Array.from({ length: 400 }, () => record({ status: "running", startedAt: 1, payload: null }))
        // Queued together, written in one batch each.
        yield* Effect.forEach(started, store.insert, { concurrency: "unbounded", discard: true })
        const completed = started.map((info) => ({ ...info, status: "completed" as const, finishedAt: 2, result: null, progress: 100 }))
        yield* Effect.forEach(completed, store.update, { concurrency: "unbounded", discard: true })
        yield* sql`SELECT pg_stat_force_next_flush()`
        const [counts] = yield* sql<{ readonly updated: string; readonly hot: string }>`SELECT n_tup_upd AS updated, n_tup_hot_upd AS hot FROM pg_stat_user_tables WHERE relid = ${table}::regclass`
        assert.strictEqual(Number(counts.updated), started.length)
        // Each page keeps half its room for its rows' new versions; the last few of a page may not fit.
        assert.isAtLeast(Number(counts.hot), started.length * 0.8, `${counts.hot} of ${counts.updated} HOT`)
        assert.deepStrictEqual(yield* unfinishedIds, [])
      }))
  )

  it.effect.skipIf(pgTestUrl === undefined)(
    "a list of pending records walks the unfinished ids and looks each record up, with no scan of the task table, and stops at its limit",
    () =>
      onSchema("hot_plan", 2, Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const store = yield* SqlTaskStore.make()
        const records = Array.from({ length: 3_000 }, (_, n) => record(n % 100 === 0 ? {} : { status: "completed", finishedAt: 2 }))
        yield* Effect.forEach(records, store.insert, { concurrency: "unbounded", discard: true })
        yield* sql`ANALYZE`
        const [text] = yield* statementsOf(store.list({ status: ["pending"], limit: 10 }))
        const plan = (yield* sql.unsafe<{ readonly "QUERY PLAN": string }>(`EXPLAIN ${text}`, ["pending", 11])).map((row) => row["QUERY PLAN"])
          .join("\n")
        assert.match(plan, new RegExp(`Index Only Scan Backward using ${unfinishedTable}_pkey`), plan)
        assert.match(plan, new RegExp(`Index Scan using ${table}_pkey on ${table}`), plan)
        assert.notMatch(plan, new RegExp(`Seq Scan on ${table}`), plan)
        const page = yield* store.list({ status: ["pending"], limit: 10 })
        assert.deepStrictEqual(page.items.map((info) => info.id), records.filter(isUnfinished).map((info) => info.id).sort().reverse().slice(0, 10))
      }))
  )
})
