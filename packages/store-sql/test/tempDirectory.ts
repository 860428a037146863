/** Temp directories and database files for the tests. */
import { Effect } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

/** A fresh directory under the OS temp dir, removed with everything in it when the scope closes. */
export const tempDirectory = Effect.acquireRelease(
  Effect.sync(() => mkdtempSync(join(tmpdir(), "chainjobs-store-sql-"))),
  (directory) => Effect.sync(() => rmSync(directory, { recursive: true, force: true }))
)

/** The path of a database file in a fresh temp directory. */
export const tempDatabaseFile = Effect.map(tempDirectory, (directory) => join(directory, "tasks.db"))
