/**
 * The part of the `node:sqlite` driver that runs where the database lives, on
 * the caller's thread or on a worker: opening the file, and running statements
 * through an LRU cache of prepared statements. It imports nothing but Node, so
 * a worker thread can load it as is.
 */
import { DatabaseSync, type SQLInputValue, type StatementSync } from "node:sqlite"

/** How to open the database; the public settings with their defaults applied. */
export interface OpenOptions {
  readonly filename: string
  readonly readOnly: boolean
  readonly busyTimeoutMillis: number
  readonly synchronous: string
  readonly wal: boolean
  readonly cacheSize: number
}

/** An open database. Every method throws what `node:sqlite` throws. */
export interface Database {
  /** All result rows, as objects or as arrays; `prepared` statements come from the cache. */
  rows(sql: string, params: ReadonlyArray<SQLInputValue>, arrays: boolean, prepared: boolean): Array<unknown>
  /** The rows of a query, or the change count of any other statement. */
  raw(sql: string, params: ReadonlyArray<SQLInputValue>): unknown
  /** The rows of a query, one at a time, from a statement of its own. */
  iterate(sql: string, params: ReadonlyArray<SQLInputValue>): Iterator<unknown>
  /**
   * Runs prepared statements in one transaction and commits it, returning
   * each statement's rows as arrays; rolls back and throws when one fails.
   */
  transact(statements: ReadonlyArray<BatchStatement>): Array<Array<unknown>>
  readonly isTransaction: () => boolean
  readonly close: () => void
}

/** One statement of a `transact` call. */
export interface BatchStatement {
  readonly sql: string
  readonly params: ReadonlyArray<SQLInputValue>
  /**
   * For a statement returning no rows that should change `changes` rows (an
   * insert skipping the keys that exist): when it does, its result is no
   * rows. When it changes fewer, it is undone (to a savepoint), `first` runs
   * (say, a query of the keys that exist) and the statement runs again; its
   * result is then `first`'s rows. A statement expected to change one row
   * changed it or nothing, so it runs without a savepoint and, when it
   * changed nothing, is followed by `first` alone. The usual case costs no row per change,
   * as `RETURNING` would.
   */
  readonly expected?: { readonly changes: number; readonly first: BatchStatement } | undefined
}

/** The levels `PRAGMA synchronous` takes. */
const synchronousLevels: ReadonlySet<string> = new Set(["OFF", "NORMAL", "FULL", "EXTRA"])

/** Opens the file and applies the pragmas. */
export const open = (options: OpenOptions): Database => {
  // The level is spliced into the pragma (which `exec` runs with whatever follows it), so only a known level passes.
  if (!synchronousLevels.has(options.synchronous)) {
    throw new Error(`synchronous must be one of ${Array.from(synchronousLevels).join(", ")}, not ${JSON.stringify(options.synchronous)}`)
  }
  const db = new DatabaseSync(options.filename, { readOnly: options.readOnly, timeout: options.busyTimeoutMillis })
  try {
    if (options.wal && options.filename !== ":memory:" && !options.readOnly) db.exec("PRAGMA journal_mode = WAL")
    db.exec(`PRAGMA synchronous = ${options.synchronous}`)
  } catch (error) {
    db.close()
    throw error
  }
  // A Map iterates in insertion order, so re-inserting on a hit makes the first key the least recently used.
  const cache = new Map<string, StatementSync>()
  const prepare = (sql: string): StatementSync => {
    const cached = cache.get(sql)
    if (cached !== undefined) {
      cache.delete(sql)
      cache.set(sql, cached)
      return cached
    }
    const statement = db.prepare(sql)
    cache.set(sql, statement)
    if (cache.size > options.cacheSize) cache.delete(cache.keys().next().value!)
    return statement
  }
  const rows = (statement: StatementSync, params: ReadonlyArray<SQLInputValue>, arrays: boolean) => {
    statement.setReturnArrays(arrays)
    return statement.all(...params)
  }
  /** Runs a statement of `transact` and returns its rows as arrays (see `BatchStatement.expected`). */
  const run = (statement: BatchStatement): Array<unknown> => {
    const expected = statement.expected
    if (expected === undefined) return rows(prepare(statement.sql), statement.params, true)
    if (expected.changes === 1) {
      // One row changes or none: nothing partial to undo, so no savepoint (two statements fewer for a lone insert).
      const { changes } = prepare(statement.sql).run(...statement.params)
      return Number(changes) === 1 ? [] : rows(prepare(expected.first.sql), expected.first.params, true)
    }
    prepare("SAVEPOINT transact_expected").run()
    const { changes } = prepare(statement.sql).run(...statement.params)
    if (Number(changes) < expected.changes) {
      prepare("ROLLBACK TO transact_expected").run()
      prepare("RELEASE transact_expected").run()
      const found = rows(prepare(expected.first.sql), expected.first.params, true)
      prepare(statement.sql).run(...statement.params)
      return found
    }
    prepare("RELEASE transact_expected").run()
    return []
  }
  return {
    rows: (sql, params, arrays, prepared) => rows(prepared ? prepare(sql) : db.prepare(sql), params, arrays),
    raw: (sql, params) => {
      const statement = prepare(sql)
      return statement.columns().length > 0 ? rows(statement, params, false) : statement.run(...params)
    },
    // Not from the cache: a cached statement could be reset by another query while this one is open.
    iterate: (sql, params) => db.prepare(sql).iterate(...params),
    transact: (statements) => {
      if (db.isTransaction) throw new Error("transact: a transaction is already open on this connection")
      prepare("BEGIN").run()
      try {
        const results = statements.map(run)
        prepare("COMMIT").run()
        return results
      } catch (error) {
        // A failed COMMIT may have ended the transaction already.
        if (db.isTransaction) prepare("ROLLBACK").run()
        throw error
      }
    },
    isTransaction: () => db.isTransaction,
    close: () => db.close()
  }
}
