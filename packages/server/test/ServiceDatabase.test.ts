/**
 * Where the service keeps its own tables (`ServiceDatabase.layerSql`): a
 * SQLite file under the data directory (made when missing; the watch tables'
 * `watch.db`) written with
 * `synchronous = FULL`, memory for `:memory:`, PostgreSQL when a database URL
 * is set; a data directory that cannot be made is a typed error naming it,
 * and nothing is written.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Option, Redacted } from "effect"
import { SqlClient } from "effect/sql"
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as ServerConfig from "../src/ServerConfig.ts"
import * as ServiceDatabase from "../src/ServiceDatabase.ts"
import * as WatchService from "../src/WatchService.ts"

const settings = (overrides: Partial<ServerConfig.ServerSettings>): ServerConfig.ServerSettings => ({
  ...ServerConfig.defaults,
  ...overrides
})

/** A fresh directory, removed at the end of the scope. */
const scratch = Effect.acquireRelease(
  Effect.sync(() => mkdtempSync(join(tmpdir(), "chainjobs-service-db-"))),
  (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
)

/** Runs `sql` against the database `layerSql` opens for `file`. */
const using = <A>(config: ServerConfig.ServerSettings, file: string, use: (sql: SqlClient.SqlClient) => Effect.Effect<A, unknown>) =>
  Effect.gen(function*() {
    return yield* use(yield* SqlClient.SqlClient)
  }).pipe(Effect.provide(ServiceDatabase.layerSql(config, file)))

describe("ServiceDatabase", () => {
  it.effect("a file of its own under the data directory, the directory made when missing, written with synchronous = FULL", () =>
    Effect.gen(function*() {
      const dir = join(yield* scratch, "nested", "data")
      const answer = yield* using(settings({ dataDir: dir }), "service.db", (sql) =>
        Effect.gen(function*() {
          yield* sql`CREATE TABLE kept (value TEXT)`
          yield* sql`INSERT INTO kept VALUES ('here')`
          return yield* sql<{ readonly synchronous: number }>`PRAGMA synchronous`
        }))
      assert.strictEqual(answer[0].synchronous, 2)
      assert.isTrue(existsSync(join(dir, "service.db")))
      // opened again: the rows are in the file
      const rows = yield* using(settings({ dataDir: dir }), "service.db", (sql) => sql<{ readonly value: string }>`SELECT value FROM kept`)
      assert.deepStrictEqual(rows.map((row) => row.value), ["here"])
    }).pipe(Effect.scoped))

  it.effect("the watch tables have a file of their own under the data directory, watch.db", () =>
    Effect.gen(function*() {
      const dir = yield* scratch
      yield* Effect.flatMap(SqlClient.SqlClient, (sql) => sql`SELECT 1`).pipe(
        Effect.provide(WatchService.layerSql(settings({ dataDir: dir })))
      )
      assert.isTrue(existsSync(join(dir, "watch.db")))
    }).pipe(Effect.scoped))

  it.effect("a data directory that cannot be made is refused with a typed error naming it", () =>
    Effect.gen(function*() {
      const dir = yield* scratch
      const blocker = join(dir, "a-file")
      writeFileSync(blocker, "not a directory")
      const exit = yield* Effect.exit(using(settings({ dataDir: join(blocker, "data") }), "service.db", () => Effect.void))
      assert.isTrue(Exit.isFailure(exit))
      const reason = Exit.isFailure(exit) ? exit.cause.reasons.find((r) => r._tag === "Fail") : undefined
      const error = reason?._tag === "Fail" ? reason.error as { readonly _tag: string; readonly operation: string; readonly message: string } : undefined
      assert.strictEqual(error?._tag, "TaskStoreError")
      assert.strictEqual(error?.operation, "open")
      assert.include(error?.message ?? "", `cannot create ${join(blocker, "data")}`)
    }).pipe(Effect.scoped))

  it.effect("with :memory: as the data directory, nothing is written to disk", () =>
    Effect.gen(function*() {
      const before = existsSync(":memory:")
      const rows = yield* using(settings({ dataDir: ":memory:" }), "service.db", (sql) =>
        Effect.andThen(sql`CREATE TABLE t (x INTEGER)`, sql<{ readonly file: string }>`SELECT file FROM pragma_database_list WHERE name = 'main'`))
      assert.strictEqual(rows[0].file, "")
      // no directory named `:memory:` made in the working directory
      assert.strictEqual(existsSync(":memory:"), before)
    }))

  const pgUrl = process.env.CHAINJOBS_TEST_PG_URL
  it.effect.skipIf(pgUrl === undefined)("with a database URL, the tables go to PostgreSQL, whatever the data directory", () =>
    Effect.gen(function*() {
      const dir = join(yield* scratch, "unused")
      const rows = yield* using(
        settings({ dataDir: dir, databaseUrl: Option.some(Redacted.make(pgUrl!)) }),
        "service.db",
        (sql) => sql<{ readonly version: string }>`SELECT version() AS version`
      )
      assert.include(rows[0].version, "PostgreSQL")
      assert.isFalse(existsSync(dir))
    }).pipe(Effect.scoped))
})
