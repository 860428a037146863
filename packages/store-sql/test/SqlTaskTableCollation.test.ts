/**
 * On PostgreSQL the task table's ids compare byte by byte whatever the
 * database's locale (`COLLATE "C"` on the column): a database created with
 * a linguistic collation would otherwise order ids as words, not as the
 * time-ordered text the store's keyset pages rely on.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { SqlClient } from "effect/sql"
import { table } from "../src/internal/taskTable.ts"
import * as PgTest from "./pgTestDatabase.ts"

describe.skipIf(PgTest.pgTestUrl === undefined)("the task table's id collation on PostgreSQL", () => {
  it.effect("the id column is collated \"C\", so ids order byte by byte on any database", () =>
    Effect.gen(function*() {
      const schema = yield* PgTest.pgTestSchema
      yield* Effect.provide(Effect.void, PgTest.pgStoreIn(schema), { local: true })
      const collations = yield* PgTest.onPgTestDatabase(Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        return yield* sql<{ readonly collation_name: string | null }>`SELECT collation_name FROM information_schema.columns WHERE table_schema = ${schema} AND table_name = ${table} AND column_name = 'id'`
      }))
      assert.deepStrictEqual(collations.map((row) => row.collation_name), ["C"])
    }))
})
