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

/** Why the PostgreSQL tests are skipped when no database is configured. */
export const pgSkipReason =
  "store-sql: skipping the PostgreSQL tests (store conformance and batch isolation on PostgreSQL): CHAINJOBS_TEST_PG_URL is not set. " +
  "Set it to a database URL, as .ci/run does, to run them."

let schemas = 0

const dropSchema = (url: string, schema: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* sql`DROP SCHEMA IF EXISTS ${sql(schema)} CASCADE`
  }).pipe(Effect.provide(PgClient.layer({ url: Redacted.make(url), maxConnections: 1 })), Effect.orDie)

/** A store on the test database, in a fresh schema. */
export const pgTestStore = Layer.unwrap(Effect.gen(function*() {
  const url = pgTestUrl ?? ""
  const schema = `store_test_${process.pid}_${++schemas}`
  yield* Effect.addFinalizer(() => dropSchema(url, schema))
  return SqlTaskStore.layerPg({ url: Redacted.make(url), schema, maxConnections: 4 })
}))
