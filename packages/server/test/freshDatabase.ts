/** A PostgreSQL database of a test's own, next to the one `CHAINJOBS_TEST_PG_URL` names. */
import { Effect, Redacted } from "effect"
import { SqlClient } from "effect/sql"
import { SqlTaskStore } from "@chainjobs/store-sql"

/** Creates a database beside the one at `url` (dropped, connections and all, when the scope closes); its URL. */
export const freshDatabase = (url: string, prefix: string) => {
  const name = `${prefix}_${process.pid}_${Date.now()}`
  const admin = SqlTaskStore.layerPgClient({ url: Redacted.make(url), maxConnections: 1 })
  const run = (statement: string) =>
    SqlClient.SqlClient.use((sql) => sql.unsafe(statement)).pipe(Effect.provide(admin, { local: true }), Effect.orDie)
  const target = new URL(url)
  target.pathname = `/${name}`
  return Effect.as(
    Effect.acquireRelease(run(`CREATE DATABASE "${name}"`), () => run(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)),
    target.toString()
  )
}
