/**
 * A `SqlClient` for `effect/sql` over Node's built-in `node:sqlite`.
 *
 * There is no Effect 4.1 SQLite driver on npm yet, so this module is the
 * embedded default's driver: one `DatabaseSync` connection (WAL, a busy
 * timeout, `synchronous` as configured), an LRU cache of prepared statements,
 * and SQLite errors classified into `SqlError` reasons. Statements borrow the
 * connection for their own duration; a transaction holds it for its whole
 * scope, so no other fiber's statement lands inside someone else's
 * transaction. It lives in its own module so that an official driver can
 * replace it without touching the task store.
 *
 * `DatabaseSync` is synchronous: a statement blocks the event loop while it
 * runs and an Effect timeout cannot preempt it. Keep statements short.
 *
 * @since 0.1.0
 */
import { Cause, Context, Duration, Effect, Layer, Semaphore, Stream } from "effect"
import { Reactivity } from "effect/reactivity"
import { SqlClient, type SqlConnection, SqlError, Statement } from "effect/sql"
import { DatabaseSync, type SQLInputValue, type StatementSync } from "node:sqlite"

/** How hard SQLite works to make a commit survive a crash or power loss (`PRAGMA synchronous`). */
export type Synchronous = "OFF" | "NORMAL" | "FULL" | "EXTRA"

/** Settings of a `NodeSqliteClient`. */
export interface NodeSqliteClientConfig {
  /** Path of the database file, created when missing; `":memory:"` for a private in-memory database. */
  readonly filename: string
  /** Open the file read-only. Default `false`. */
  readonly readOnly?: boolean | undefined
  /** How long a statement waits for a lock another process holds before failing with `SQLITE_BUSY`. Default 5 seconds. */
  readonly busyTimeout?: Duration.Input | undefined
  /** `PRAGMA synchronous`. Default `"FULL"`: a commit is on disk once it returns. */
  readonly synchronous?: Synchronous | undefined
  /** Use the write-ahead log (`journal_mode = WAL`) on file databases. Default `true`. */
  readonly wal?: boolean | undefined
  /** How many prepared statements to keep, least recently used evicted first. Default 200. */
  readonly preparedStatementCacheSize?: number | undefined
  /** Extra attributes for the spans of every statement. */
  readonly spanAttributes?: Record<string, unknown> | undefined
}

/** A `SqlClient` over `node:sqlite`, with the settings it was opened with. */
export class NodeSqliteClient extends Context.Service<NodeSqliteClient, SqlClient.SqlClient & {
  readonly config: NodeSqliteClientConfig
}>()("@chainjobs/store-sql/NodeSqliteClient") {}

/** `node:sqlite` reports the extended result code as `errcode`; the classifier reads `errno`. */
const classify = (cause: unknown, operation: string): SqlError.SqlError => {
  if (typeof cause === "object" && cause !== null && "errcode" in cause && !("errno" in cause)) {
    Object.assign(cause, { errno: cause.errcode })
  }
  const message = cause instanceof Error ? cause.message : `Failed to ${operation}`
  return new SqlError.SqlError({ reason: SqlError.classifySqliteError(cause, { message, operation }) })
}

const attempt = <A>(operation: string, f: () => A): Effect.Effect<A, SqlError.SqlError> =>
  Effect.try({ try: f, catch: (cause) => classify(cause, operation) })

const toSqlite = (value: unknown): SQLInputValue => {
  if (value === undefined) return null
  if (typeof value === "boolean") return value ? 1 : 0
  if (value instanceof Date) return value.toISOString()
  return value as SQLInputValue
}
const bind = (params: ReadonlyArray<unknown>): Array<SQLInputValue> => params.map(toSqlite)

type TransformRows = (<A extends object>(rows: ReadonlyArray<A>) => ReadonlyArray<A>) | undefined

/** Rows a streamed query hands on at a time. */
const streamChunkSize = 128

const makeConnection = (db: DatabaseSync, cacheSize: number): SqlConnection.Connection => {
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
    if (cache.size > cacheSize) cache.delete(cache.keys().next().value!)
    return statement
  }
  const rows = (statement: StatementSync, params: ReadonlyArray<unknown>, arrays: boolean) => {
    statement.setReturnArrays(arrays)
    return statement.all(...bind(params))
  }
  const withTransform = (result: ReadonlyArray<any>, transformRows: TransformRows) =>
    transformRows === undefined ? result : transformRows(result)

  return {
    execute: (sql, params, transformRows) =>
      attempt("execute", () => withTransform(rows(prepare(sql), params, false), transformRows)),
    executeUnprepared: (sql, params, transformRows) =>
      attempt("execute", () => withTransform(rows(db.prepare(sql), params, false), transformRows)),
    executeRaw: (sql, params) =>
      attempt("execute", () => {
        const statement = prepare(sql)
        if (statement.columns().length > 0) return rows(statement, params, false)
        return statement.run(...bind(params))
      }),
    executeValues: (sql, params) => attempt("execute", () => rows(prepare(sql), params, true) as any),
    executeValuesUnprepared: (sql, params) => attempt("execute", () => rows(db.prepare(sql), params, true) as any),
    executeStream: (sql, params, transformRows) =>
      Stream.fromPull(attempt("stream", () => {
        // Not from the cache: a cached statement could be reset by another query while this one is open.
        const iterator = db.prepare(sql).iterate(...bind(params))
        return Effect.flatMap(
          attempt("stream", () => {
            const chunk: Array<any> = []
            while (chunk.length < streamChunkSize) {
              const next = iterator.next()
              if (next.done === true) break
              chunk.push(next.value)
            }
            return chunk
          }),
          (chunk) => chunk.length === 0 ? Cause.done() : Effect.succeed(withTransform(chunk, transformRows) as [any, ...Array<any>])
        )
      }))
  }
}

const pragmas = (config: NodeSqliteClientConfig): Array<string> => {
  const onFile = config.filename !== ":memory:" && config.readOnly !== true
  return [
    ...(onFile && config.wal !== false ? ["PRAGMA journal_mode = WAL"] : []),
    `PRAGMA synchronous = ${config.synchronous ?? "FULL"}`
  ]
}

/** Opens the database for the lifetime of the current scope and builds a client over it. */
export const make = Effect.fnUntraced(function*(config: NodeSqliteClientConfig) {
  const db = yield* Effect.acquireRelease(
    attempt("open", () =>
      new DatabaseSync(config.filename, {
        readOnly: config.readOnly ?? false,
        timeout: Duration.toMillis(config.busyTimeout ?? "5 seconds")
      })),
    (db) => Effect.sync(() => db.close())
  )
  for (const pragma of pragmas(config)) yield* attempt("open", () => db.exec(pragma))

  const connection = makeConnection(db, config.preparedStatementCacheSize ?? 200)
  const acquirers = SqlClient.makeSqliteAcquirers({
    connection: Effect.succeed(connection),
    semaphore: yield* Semaphore.make(1),
    isTransaction: () => db.isTransaction
  })
  const client = yield* SqlClient.make({
    ...acquirers,
    compiler: Statement.makeCompilerSqlite(),
    driver: "node-sqlite",
    // SQLite prepares BEGIN, COMMIT and savepoints like any statement, so they come from the cache.
    prepareTransactionControls: true,
    releaseSavepoint: (name) => `RELEASE SAVEPOINT ${name}`,
    spanAttributes: [
      ...(config.spanAttributes ? Object.entries(config.spanAttributes) : []),
      ["db.system.name", "sqlite"],
      ["db.namespace", config.filename]
    ]
  })
  return NodeSqliteClient.of(Object.assign(client, { config }))
})

/** Provides the client both as `NodeSqliteClient` and as the generic `SqlClient`. */
export const layer = (config: NodeSqliteClientConfig): Layer.Layer<NodeSqliteClient | SqlClient.SqlClient, SqlError.SqlError> =>
  Layer.effectContext(
    Effect.map(make(config), (client) => Context.make(NodeSqliteClient, client).pipe(Context.add(SqlClient.SqlClient, client)))
  ).pipe(Layer.provide(Reactivity.layer))
