/**
 * PostgreSQL for tests: `CHAINJOBS_TEST_PG_URL` names the database (`.ci/run`
 * starts one). Each store built from `pgTestStore` gets a schema of its own,
 * dropped when the layer is released.
 */
import { PgClient } from "@effect/sql-pg"
import { Effect, Layer, Redacted } from "effect"
import { SqlClient } from "effect/sql"
import * as SqlTaskStore from "../src/SqlTaskStore.ts"

/** The test database's URL, if one is configured. */
export const pgTestUrl = process.env.CHAINJOBS_TEST_PG_URL

/** Says which PostgreSQL tests a file skips, and why, when no database is configured. */
export const reportSkipped = (tests: string) => {
  if (pgTestUrl === undefined) {
    console.log(
      `store-sql: skipping ${tests} on PostgreSQL: CHAINJOBS_TEST_PG_URL is not set. ` +
        "Set it to a database URL, as .ci/run does, to run them."
    )
  }
}

let schemas = 0

const dropSchema = (url: string, schema: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* sql`DROP SCHEMA IF EXISTS ${sql(schema)} CASCADE`
  }).pipe(Effect.provide(PgClient.layer({ url: Redacted.make(url), maxConnections: 1 })), Effect.orDie)

/** A fresh schema name on the test database, dropped with everything in it when the scope closes. */
export const pgTestSchema = Effect.gen(function*() {
  const schema = `store_test_${process.pid}_${++schemas}`
  yield* Effect.addFinalizer(() => dropSchema(pgTestUrl ?? "", schema))
  return schema
})

/** A store on the test database, in the given schema. */
export const pgStoreIn = (schema: string) =>
  SqlTaskStore.layerPg({ url: Redacted.make(pgTestUrl ?? ""), schema, maxConnections: 4 })

/** A store on the test database, in a fresh schema. */
export const pgTestStore = Layer.unwrap(Effect.map(pgTestSchema, pgStoreIn))
