/**
 * How the SQL stores fail, on real SQLite files: every operation's error
 * names that operation (a table dropped underneath, a read-only file that
 * cannot be migrated), and a lock another connection holds past the busy
 * timeout fails a batch as a whole, in one transaction, instead of sending
 * each record of it after the lock one by one.
 */
import { record } from "@chainjobs/tasks/test/TaskStoreConformance"
import { ScheduleStore, TaskError, TaskStore } from "@chainjobs/tasks"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer, Schema, Tracer } from "effect"
import { SqlClient } from "effect/sql"
import { DatabaseSync } from "node:sqlite"
import * as NodeSqliteClient from "../src/NodeSqliteClient.ts"
import * as SqlScheduleStore from "../src/SqlScheduleStore.ts"
import * as SqlTaskStore from "../src/SqlTaskStore.ts"
import { tempDatabaseFile } from "./tempDirectory.ts"
import { transactionCounter } from "./transactionCounter.ts"

/** Both stores and the client under them, on one SQLite file. */
const storesOn = (filename: string, config: Partial<NodeSqliteClient.NodeSqliteClientConfig> = {}) =>
  Layer.mergeAll(SqlTaskStore.layer(), SqlScheduleStore.layer).pipe(
    Layer.provideMerge(NodeSqliteClient.layer({ filename, ...config }))
  )

/** The error `effect` fails with, which must be a `TaskStoreError`. */
const storeFailure = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.map(Effect.flip(effect), (error) => {
    assert.instanceOf(error, TaskError.TaskStoreError)
    return error as TaskError.TaskStoreError
  })

/**
 * The message a store given `config` fails to start with, on a fresh SQLite
 * file, which must be a `configure` failure leaving the file without tables.
 */
const configureFailure = (config: SqlTaskStore.SqlTaskStoreConfig) =>
  Effect.gen(function*() {
    const file = yield* tempDatabaseFile
    const client = NodeSqliteClient.layer({ filename: file })
    const error = yield* storeFailure(Layer.build(SqlTaskStore.layer(config).pipe(Layer.provide(client))))
    assert.strictEqual(error.operation, "configure")
    const database = new DatabaseSync(file)
    const tables = database.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all()
    database.close()
    assert.deepStrictEqual(tables, [])
    return error.message
  })

describe("SQL store failures", () => {
  it.effect("each operation over a dropped table fails with a TaskStoreError naming the operation", () =>
    Effect.gen(function*() {
      const tasks = yield* TaskStore.TaskStore
      const schedules = yield* ScheduleStore.ScheduleStore
      const sql = yield* SqlClient.SqlClient
      const kept = record({ status: "running", startedAt: 1 })
      yield* tasks.insert(kept)
      yield* sql`DROP TABLE chainjobs_tasks`
      yield* sql`DROP TABLE chainjobs_schedules`
      const failures = {
        get: yield* storeFailure(tasks.get(kept.id)),
        list: yield* storeFailure(tasks.list({})),
        count: yield* storeFailure(tasks.count({})),
        remove: yield* storeFailure(tasks.remove(kept.id)),
        purge: yield* storeFailure(tasks.purge({})),
        unfinished: yield* storeFailure(tasks.unfinished),
        insert: yield* storeFailure(tasks.insert(record())),
        update: yield* storeFailure(tasks.update({ ...kept, status: "completed", finishedAt: 2 })),
        listSchedules: yield* storeFailure(schedules.list),
        putSchedule: yield* storeFailure(
          schedules.put({ name: "hourly", kind: "scan", payload: null, trigger: { _tag: "Daemon" }, createdAt: 1 })
        ),
        removeSchedule: yield* storeFailure(schedules.remove("hourly"))
      }
      const expected: Record<keyof typeof failures, string> = {
        get: "get",
        list: "list",
        count: "count",
        remove: "remove",
        purge: "purge",
        unfinished: "unfinished",
        insert: "commit",
        update: "commit",
        listSchedules: "listSchedules",
        putSchedule: "putSchedule",
        removeSchedule: "removeSchedule"
      }
      for (const [call, error] of Object.entries(failures)) {
        const operation = expected[call as keyof typeof failures]
        assert.strictEqual(error.operation, operation, call)
        assert.match(error.message, new RegExp(`^task store ${operation}: .*no such table`), call)
      }
    }).pipe(Effect.provide(Layer.unwrap(Effect.map(tempDatabaseFile, (filename) => storesOn(filename))), { local: true })))

  it.effect("a read-only file the stores cannot migrate fails each layer with its migration named", () =>
    Effect.gen(function*() {
      const file = yield* tempDatabaseFile
      new DatabaseSync(file).close() // an empty database: nothing migrated yet
      const client = NodeSqliteClient.layer({ filename: file, readOnly: true })
      const tasks = yield* storeFailure(Layer.build(SqlTaskStore.layer().pipe(Layer.provide(client))))
      assert.strictEqual(tasks.operation, "migrate")
      assert.match(tasks.message, /^task store migrate: .*readonly/)
      const schedules = yield* storeFailure(Layer.build(SqlScheduleStore.layer.pipe(Layer.provide(client))))
      assert.strictEqual(schedules.operation, "migrateSchedules")
      assert.match(schedules.message, /^task store migrateSchedules: .*readonly/)
    }))

  it.effect("a store given a resume group size that is not a count fails to start with a TaskStoreError, leaving the file unmigrated", () =>
    Effect.map(
      configureFailure({ resumeGroupSize: Number.NaN }),
      (message) => assert.strictEqual(message, "task store configure: resumeGroupSize must be a whole number of at least 1, not NaN")
    ))

  it.effect("a store given an unknown pgInserts mode fails to start with a TaskStoreError, leaving the file unmigrated", () =>
    Effect.map(
      configureFailure({ pgInserts: "sometimes" as SqlTaskStore.SqlTaskStoreConfig["pgInserts"] }),
      (message) => assert.strictEqual(message, "task store configure: pgInserts must be one of adaptive, plain, checked, not sometimes")
    ))

  it.effect("in a batch written apart for a bad record, an insert of an existing id still fails as already existing", () =>
    Effect.gen(function*() {
      const file = yield* tempDatabaseFile
      const existing = record()
      const [bad, good] = [record({ payload: { amount: 1n } }), record()] // JSON.stringify throws on the bigint
      yield* Effect.flatMap(TaskStore.TaskStore, (tasks) => tasks.insert(existing)).pipe(
        Effect.provide(SqlTaskStore.layerSqlite({ filename: file }), { local: true })
      )
      const exits = yield* Effect.gen(function*() {
        const tasks = yield* TaskStore.TaskStore
        return yield* Effect.forEach([{ ...existing, message: "again" }, bad, good], (info) => Effect.exit(tasks.insert(info)), {
          concurrency: "unbounded"
        })
      }).pipe(
        // One batch: the writer waits until all three are queued.
        Effect.provide(SqlTaskStore.layerSqlite({ filename: file, flushInterval: "1 hour", maxBatchSize: 3 }), { local: true })
      )
      assert.deepStrictEqual(exits.map(Exit.isSuccess), [false, false, true])
      const again = (yield* Effect.flip(exits[0])) as TaskError.TaskStoreError
      assert.strictEqual(again.message, `task store insert: task ${existing.id} already exists`)
    }))

  it.effect.prop("a batch of good records is written in one transaction whatever its size", [Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 40 }))], ([size]) =>
    Effect.gen(function*() {
      const file = yield* tempDatabaseFile
      const transactions = transactionCounter()
      const batch = Array.from({ length: size }, () => record())
      yield* Effect.gen(function*() {
        const tasks = yield* TaskStore.TaskStore
        transactions.count = 0
        yield* Effect.forEach(batch, tasks.insert, { concurrency: "unbounded", discard: true })
        assert.strictEqual(transactions.count, 1, `${size} records`)
        assert.strictEqual((yield* tasks.list({ limit: 100 })).items.length, size)
      }).pipe(
        // One batch: the writer waits until all of them are queued.
        Effect.provide(SqlTaskStore.layerSqlite({ filename: file, flushInterval: "1 hour", maxBatchSize: size }), { local: true }),
        Effect.provideService(Tracer.Tracer, transactions.tracer)
      )
    }), { timeout: 60_000, arbitrary: { runs: 12 } })

  it.effect("a lock held past the busy timeout fails the whole batch in one transaction, and the store goes on after it", () =>
    Effect.gen(function*() {
      const file = yield* tempDatabaseFile
      const transactions = transactionCounter()
      const batch = Array.from({ length: 8 }, () => record())
      const later = Array.from({ length: 8 }, () => record())
      yield* Effect.gen(function*() {
        const tasks = yield* TaskStore.TaskStore
        // Another process's connection holds the write lock.
        const other = yield* Effect.acquireRelease(
          Effect.sync(() => new DatabaseSync(file)),
          (db) => Effect.sync(() => db.isOpen && db.close())
        )
        other.exec("BEGIN IMMEDIATE")
        transactions.count = 0
        const exits = yield* Effect.forEach(batch, (info) => Effect.exit(tasks.insert(info)), { concurrency: "unbounded" })
        assert.strictEqual(transactions.count, 1, "the batch was written again apart")
        for (const exit of exits) {
          assert.isTrue(Exit.isFailure(exit))
          const error = (yield* Effect.flip(exit)) as TaskError.TaskStoreError
          assert.strictEqual(error.operation, "commit")
          assert.match(error.message, /locked/)
        }
        other.exec("ROLLBACK")
        other.close()
        yield* Effect.forEach(later, tasks.insert, { concurrency: "unbounded", discard: true })
        assert.deepStrictEqual((yield* tasks.list({})).items.map((info) => info.id), later.map((info) => info.id).reverse())
      }).pipe(
        // One batch: the writer waits until all eight are queued.
        Effect.provide(
          SqlTaskStore.layerSqlite({ filename: file, busyTimeout: "20 millis", flushInterval: "1 hour", maxBatchSize: batch.length }),
          { local: true }
        ),
        Effect.provideService(Tracer.Tracer, transactions.tracer)
      )
    }))
})
