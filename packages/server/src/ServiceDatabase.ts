/**
 * The service's own tables beside the task store's (the watch tables, the
 * webhook tables): on PostgreSQL at `databaseUrl`, else in a SQLite file of
 * their own under `dataDir` (written with `synchronous = FULL`), else
 * (`:memory:`) in memory.
 *
 * @since 0.1.0
 */
import { NodeSqliteClient, SqlTaskStore } from "@chainjobs/store-sql"
import { TaskError } from "@chainjobs/tasks"
import { Effect, Layer, Option } from "effect"
import type { SqlClient, SqlError } from "effect/sql"
import { mkdirSync } from "node:fs"
import { join } from "node:path"
import type { ServerSettings } from "./ServerConfig.ts"

/** A database for tables of the service: PostgreSQL at `databaseUrl`, else `file` under `dataDir`, else memory. */
export const layerSql = (
  settings: ServerSettings,
  file: string
): Layer.Layer<SqlClient.SqlClient, TaskError.TaskStoreError | SqlError.SqlError> => {
  if (Option.isSome(settings.databaseUrl)) return SqlTaskStore.layerPgClient({ url: settings.databaseUrl.value })
  if (settings.dataDir === ":memory:") return NodeSqliteClient.layer({ filename: ":memory:" })
  const dataDir = settings.dataDir
  return Layer.unwrap(Effect.try({
    try: () => {
      mkdirSync(dataDir, { recursive: true })
      return NodeSqliteClient.layer({ filename: join(dataDir, file), synchronous: "FULL" })
    },
    catch: (cause) => new TaskError.TaskStoreError({ operation: "open", detail: `cannot create ${dataDir}: ${cause}`, cause })
  }))
}
