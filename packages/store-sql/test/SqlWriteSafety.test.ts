/**
 * What makes an acknowledged write safe, beyond the conformance suite: a
 * batch whose only bad write breaks a constraint still stores its good
 * writes (on SQLite and PostgreSQL), and a SQLite database opened with the
 * defaults commits with `synchronous = FULL`.
 */
import { record } from "@chainjobs/tasks/test/TaskStoreConformance"
import { TaskStore } from "@chainjobs/tasks"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer, Option, Redacted } from "effect"
import { SqlClient } from "effect/sql"
import { DatabaseSync } from "node:sqlite"
import { vi } from "vitest"
import * as NodeSqliteClient from "../src/NodeSqliteClient.ts"
import * as SqlTaskStore from "../src/SqlTaskStore.ts"
import { pgTestSchema, pgTestUrl } from "./pgTestDatabase.ts"
import { tempDatabaseFile } from "./tempDirectory.ts"

/** `PRAGMA synchronous` reports its level as a number: 0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA. */
const full = 2

/** Writes, all queued in one batch, of good records and one that breaks `NOT NULL`; each write's outcome. */
const oneBadWrite = (store: TaskStore.TaskStore["Service"], size: number, bad: number) =>
  Effect.gen(function*() {
    const infos = Array.from({ length: size }, (_, n) => n === bad ? record({ priority: Number.NaN }) : record())
    const exits = yield* Effect.forEach(infos, (info) => Effect.exit(store.insert(info)), { concurrency: "unbounded" })
    const stored = yield* store.list({ limit: size })
    return { infos, exits, stored: stored.items.map((info) => info.id).sort() }
  })

const constraintViolation = (name: string, store: (batch: number) => Layer.Layer<TaskStore.TaskStore, unknown>) =>
  it.effect(`${name}: a batch whose only bad write breaks a constraint stores its good writes`, () =>
    Effect.gen(function*() {
      const size = 9
      for (const bad of [0, 4, size - 1]) {
        const { exits, infos, stored } = yield* Effect.gen(function*() {
          return yield* oneBadWrite(yield* TaskStore.TaskStore, size, bad)
        }).pipe(Effect.provide(store(size), { local: true }))
        assert.deepStrictEqual(
          exits.map((exit) => Exit.isSuccess(exit)),
          infos.map((_, n) => n !== bad),
          `bad write at ${bad}`
        )
        const failure = exits[bad]
        assert.isTrue(Exit.isFailure(failure))
        assert.strictEqual(Option.getOrThrow(Exit.findErrorOption(failure))._tag, "TaskStoreError")
        assert.deepStrictEqual(stored, infos.filter((_, n) => n !== bad).map((info) => info.id).sort())
      }
    }))

/** One batch: the writer waits until `batch` writes are queued. */
const sqliteStore = (batch: number) =>
  Layer.unwrap(Effect.map(tempDatabaseFile, (filename) =>
    SqlTaskStore.layerSqlite({ filename, flushInterval: "1 hour", maxBatchSize: batch })))

describe("a group-commit batch with one constraint violation", () => {
  constraintViolation("SQLite", sqliteStore)
  if (pgTestUrl !== undefined) {
    constraintViolation("PostgreSQL", (batch) =>
      Layer.unwrap(Effect.map(pgTestSchema, (schema) =>
        SqlTaskStore.layerPg({
          url: Redacted.make(pgTestUrl ?? ""),
          schema,
          maxConnections: 4,
          flushInterval: "1 hour",
          maxBatchSize: batch
        }))))
  }
})

describe("SQLite opened with the defaults", () => {
  it.effect("the client commits with synchronous = FULL, on the calling thread and on a worker thread", () =>
    Effect.gen(function*() {
      for (const worker of [false, true]) {
        const filename = yield* tempDatabaseFile
        const [{ synchronous }] = yield* Effect.gen(function*() {
          const sql = yield* SqlClient.SqlClient
          return yield* sql<{ readonly synchronous: number }>`PRAGMA synchronous`
        }).pipe(Effect.provide(NodeSqliteClient.layer({ filename, worker }), { local: true }))
        assert.strictEqual(synchronous, full, worker ? "on a worker thread" : "on the calling thread")
      }
    }))

  it.effect("the task store's connection runs synchronous = FULL", () =>
    Effect.gen(function*() {
      // Notes every connection the process prepares statements on (the calls go through), to ask the store's own.
      const prepare = vi.spyOn(DatabaseSync.prototype, "prepare")
      yield* Effect.addFinalizer(() => Effect.sync(() => prepare.mockRestore()))
      const filename = yield* tempDatabaseFile
      const connections = yield* Effect.gen(function*() {
        const store = yield* TaskStore.TaskStore
        yield* store.insert(record())
        const connections = new Set(prepare.mock.contexts as ReadonlyArray<DatabaseSync>)
        return Array.from(connections, (db) => (db.prepare("PRAGMA synchronous").get() as { synchronous: number }).synchronous)
      }).pipe(Effect.provide(SqlTaskStore.layerSqlite({ filename }), { local: true }))
      const levels = connections
      assert.isAbove(levels.length, 0)
      assert.deepStrictEqual(levels, levels.map(() => full))
    }))
})
