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

/** Runs `effect` on a connection of its own to the test database. */
export const onPgTestDatabase = <A, E>(effect: Effect.Effect<A, E, SqlClient.SqlClient>) =>
  Effect.provide(effect, PgClient.layer({ url: Redacted.make(pgTestUrl ?? ""), maxConnections: 1 }), { local: true })

/** `name` quoted whole as a PostgreSQL identifier. */
export const quoted = (name: string) => `"${name.replaceAll("\"", "\"\"")}"`

const dropSchema = (schema: string) =>
  onPgTestDatabase(Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* sql`DROP SCHEMA IF EXISTS ${sql.literal(quoted(schema))} CASCADE`
  })).pipe(Effect.orDie)

/** A fresh schema name starting with `prefix`, dropped with everything in it when the scope closes. */
export const pgTestSchemaNamed = (prefix: string) =>
  Effect.gen(function*() {
    const schema = `${prefix}_${process.pid}_${++schemas}`
    yield* Effect.addFinalizer(() => dropSchema(schema))
    return schema
  })

/** A fresh schema name on the test database, dropped with everything in it when the scope closes. */
export const pgTestSchema = pgTestSchemaNamed("store_test")

/** A store on the test database, in the given schema, with `config` on top of the defaults. */
export const pgStoreIn = (schema: string, config: SqlTaskStore.SqlTaskStoreConfig = {}) =>
  SqlTaskStore.layerPg({ url: Redacted.make(pgTestUrl ?? ""), schema, maxConnections: 4, ...config })

/** A store on the test database, in a fresh schema. */
export const pgTestStore = Layer.unwrap(Effect.map(pgTestSchema, pgStoreIn))
