/**
 * What a store's error says when the database refuses it, on SQLite and on
 * the real PostgreSQL alike: the database's own message (the constraint
 * broken, the relation missing) and its code, not only the driver's
 * "Query failed"; and a detail never shows a URL's password.
 */
import { record } from "@chainjobs/tasks/test/TaskStoreConformance"
import { ScheduleStore, TaskError, TaskStore } from "@chainjobs/tasks"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Redacted, Schema } from "effect"
import { SqlClient, SqlError } from "effect/sql"
import { describe as describeFailure, masked } from "../src/internal/storeFailure.ts"
import * as NodeSqliteClient from "../src/NodeSqliteClient.ts"
import * as SqlScheduleStore from "../src/SqlScheduleStore.ts"
import * as SqlTaskStore from "../src/SqlTaskStore.ts"
import { pgTestSchema, pgTestUrl, reportSkipped } from "./pgTestDatabase.ts"
import { tempDatabaseFile } from "./tempDirectory.ts"

reportSkipped("the error details")

/** The error `effect` fails with, which must be a `TaskStoreError`. */
const storeFailure = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.map(Effect.flip(effect), (error) => {
    assert.instanceOf(error, TaskError.TaskStoreError)
    return error as TaskError.TaskStoreError
  })

/** What each engine's message and code for a broken `NOT NULL` and a missing table look like. */
interface Engine {
  readonly name: string
  readonly stores: Layer.Layer<TaskStore.TaskStore | ScheduleStore.ScheduleStore | SqlClient.SqlClient, unknown>
  readonly notNull: RegExp
  readonly noTable: (table: string) => RegExp
}

/** Both stores and the client under them. */
const storesOver = <E>(client: Layer.Layer<SqlClient.SqlClient, E>) =>
  Layer.merge(SqlTaskStore.layer(), SqlScheduleStore.layer).pipe(Layer.provideMerge(client))

const sqlite: Engine = {
  name: "SQLite",
  stores: Layer.unwrap(Effect.map(tempDatabaseFile, (filename) => storesOver(NodeSqliteClient.layer({ filename })))),
  notNull: /^NOT NULL constraint failed: chainjobs_tasks\.priority \(ConstraintError, SQLite error 1299\)$/,
  noTable: (table) => new RegExp(`^no such table: ${table} \\(UnknownError, SQLite error 1\\)$`)
}

const postgres: Engine = {
  name: "PostgreSQL",
  stores: Layer.unwrap(Effect.map(pgTestSchema, (schema) =>
    storesOver(SqlTaskStore.layerPgClient({ url: Redacted.make(pgTestUrl ?? ""), schema, maxConnections: 2 })))),
  notNull:
    /^PgConnection: Query failed: null value in column "priority" of relation "chainjobs_tasks" violates not-null constraint \(ConstraintError, SQLSTATE 23502\)$/,
  noTable: (table) =>
    new RegExp(`^PgConnection: Query failed: relation "${table}" does not exist \\(SqlSyntaxError, SQLSTATE 42P01\\)$`)
}

const engines = pgTestUrl === undefined ? [sqlite] : [sqlite, postgres]

describe("a store error's detail", () => {
  for (const engine of engines) {
    it.effect(`${engine.name}: names the constraint broken and the relation missing, with the database's code`, () =>
      Effect.gen(function*() {
        const tasks = yield* TaskStore.TaskStore
        const schedules = yield* ScheduleStore.ScheduleStore
        const sql = yield* SqlClient.SqlClient
        // A priority that is not a number is stored as null, which the column refuses.
        const broken = yield* storeFailure(tasks.insert(record({ priority: Number.NaN })))
        assert.strictEqual(broken.operation, "commit")
        assert.match(broken.detail, engine.notNull)
        yield* sql`DROP TABLE chainjobs_tasks`
        yield* sql`DROP TABLE chainjobs_schedules`
        const missing = yield* storeFailure(tasks.get("t"))
        assert.strictEqual(missing.operation, "get")
        assert.match(missing.detail, engine.noTable("chainjobs_tasks"))
        const missingSchedules = yield* storeFailure(schedules.list)
        assert.match(missingSchedules.detail, engine.noTable("chainjobs_schedules"))
      }).pipe(Effect.provide(engine.stores, { local: true })))
  }

  it.prop(
    "a detail masks a URL's user and password and a password setting, wherever the driver put them",
    { user: Schema.NonEmptyString, secret: Schema.NonEmptyString },
    ({ secret, user }) => {
      const [name, password] = [user, secret].map((text) => encodeURIComponent(text.toWellFormed()))
      const url = `postgres://${name}:${password}@db.example:5432/jobs`
      const cause = new Error(`could not connect to ${url} with password=${password}`)
      const failure = new SqlError.SqlError({
        reason: new SqlError.ConnectionError({ message: `cannot reach ${url}`, operation: "connect", cause })
      })
      const detail = describeFailure(failure)
      assert.notInclude(detail, `:${password}@`)
      // the cause's one password setting is in the detail and reads *** (a password of asterisks is a prefix of ***)
      const settings = [...detail.matchAll(/password=(\S*)/g)].map((match) => match[1])
      assert.deepStrictEqual(settings, ["***"])
      assert.include(detail, "postgres://***@db.example:5432/jobs")
      assert.match(detail, /\(ConnectionError\)$/)
    }
  )

  it("a password setting's quoted part and what follows it are masked together", () => {
    // fast-check found the first: a quoted empty value followed by more text left the text shown
    for (const value of ["''%00", `"a b"c`, "'x'y'z'", "'open", `"it's"tail`]) {
      assert.strictEqual(masked(`login with password=${value} failed`), "login with password=*** failed")
    }
  })

  it("a failure with no error under it reads as its reason's message, or as its reason when it has none", () => {
    // The SQLite worker thread's "stopped" failure is such a one: its reason wraps no error.
    const stopped = new SqlError.SqlError({
      reason: new SqlError.ConnectionError({ message: "the SQLite worker thread stopped", operation: "execute", cause: undefined })
    })
    assert.strictEqual(describeFailure(stopped), "the SQLite worker thread stopped (ConnectionError)")
    const bare = new SqlError.SqlError({ reason: new SqlError.ConnectionError({ operation: "connect", cause: "refused" }) })
    assert.strictEqual(describeFailure(bare), "ConnectionError (ConnectionError)")
  })
})
