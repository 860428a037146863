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
 * `DatabaseSync` is synchronous: on the caller's thread a statement blocks
 * the event loop while it runs and an Effect timeout cannot preempt it. With
 * `worker: true` the database lives on a worker thread instead.
 *
 * @since 0.1.0
 */
import { Cause, Context, Duration, Effect, Layer, type Scope, Semaphore, Stream } from "effect"
import { Reactivity } from "effect/reactivity"
import { SqlClient, type SqlConnection, SqlError, Statement } from "effect/sql"
import type { SQLInputValue } from "node:sqlite"
import type { HeapInfo } from "node:v8"
import { Worker } from "node:worker_threads"
import { type BatchStatement, open, type OpenOptions } from "./internal/sqliteDatabase.ts"
import type { Failure, Opened, Reply, Request } from "./internal/sqliteWorker.ts"

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
  /**
   * Hold the database on a worker thread. Statements, and the disk flush of
   * every commit, then no longer block the event loop, and the caller's work
   * overlaps with SQLite's; each statement pays a message round trip, and a
   * streamed query reads all its rows before handing them on. Default `false`.
   */
  readonly worker?: boolean | undefined
  /** How many prepared statements to keep, least recently used evicted first. Default 200. */
  readonly preparedStatementCacheSize?: number | undefined
  /** Extra attributes for the spans of every statement. */
  readonly spanAttributes?: Record<string, unknown> | undefined
}

/**
 * One statement of `NodeSqliteClient.transact`: its text and parameters, bound as they are (no conversion of
 * booleans, dates or `undefined`, unlike the `SqlClient` statements).
 */
export type TransactStatement = BatchStatement

/** A `SqlClient` over `node:sqlite`, with the settings it was opened with. */
export class NodeSqliteClient extends Context.Service<NodeSqliteClient, SqlClient.SqlClient & {
  readonly config: NodeSqliteClientConfig
  /**
   * Runs statements (prepared, from the cache) in one transaction of their
   * own and commits it, in one call to the database: on a worker thread, one
   * message there and one back instead of one round trip for `BEGIN`, each
   * statement and `COMMIT`. Succeeds with each statement's rows, as arrays of
   * column values, once committed; fails, rolled back, with the first
   * statement that failed. It takes the connection as a transaction does;
   * not for use inside one (`withTransaction`) on the same fiber.
   */
  readonly transact: (statements: ReadonlyArray<TransactStatement>) => Effect.Effect<Array<Array<Array<unknown>>>, SqlError.SqlError>
  /**
   * The V8 heap of the worker thread holding the database (`worker: true`):
   * a second isolate, whose pages no figure of the caller's own heap counts.
   * `undefined` when the database is on the caller's thread or the thread
   * has stopped.
   */
  readonly workerHeap: Effect.Effect<HeapInfo | undefined>
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

/** Runs statements against the database, wherever it lives. */
interface Executor {
  rows(sql: string, params: ReadonlyArray<unknown>, arrays: boolean, prepared: boolean): Effect.Effect<Array<any>, SqlError.SqlError>
  raw(sql: string, params: ReadonlyArray<unknown>): Effect.Effect<unknown, SqlError.SqlError>
  stream(sql: string, params: ReadonlyArray<unknown>): Stream.Stream<any, SqlError.SqlError>
  transact(statements: ReadonlyArray<TransactStatement>): Effect.Effect<Array<Array<Array<unknown>>>, SqlError.SqlError>
  readonly isTransaction: () => boolean
  /** The worker thread's heap; `undefined` on the caller's thread. */
  readonly heap: Effect.Effect<HeapInfo | undefined>
}

/** Rows a streamed query hands on at a time. */
const streamChunkSize = 128

const openInThread = (options: OpenOptions): Effect.Effect<Executor, SqlError.SqlError, Scope.Scope> =>
  Effect.map(
    Effect.acquireRelease(attempt("open", () => open(options)), (db) => Effect.sync(db.close)),
    (db) => ({
      rows: (sql, params, arrays, prepared) =>
        attempt("execute", () => db.rows(sql, bind(params), arrays, prepared) as Array<any>),
      raw: (sql, params) => attempt("execute", () => db.raw(sql, bind(params))),
      // The statement is reset when the stream ends, however early: left open, it would hold a read snapshot
      // that keeps every later commit in the WAL until it is garbage collected.
      stream: (sql, params) =>
        Stream.unwrap(Effect.map(
          Effect.acquireRelease(
            attempt("stream", () => db.iterate(sql, bind(params))),
            (iterator) => Effect.sync(() => iterator.return?.())
          ),
          (iterator) =>
            Stream.fromPull(Effect.succeed(Effect.flatMap(
              attempt("stream", () => {
                const chunk: Array<any> = []
                while (chunk.length < streamChunkSize) {
                  const next = iterator.next()
                  if (next.done === true) break
                  chunk.push(next.value)
                }
                return chunk
              }),
              (chunk) => chunk.length === 0 ? Cause.done() : Effect.succeed(chunk as [any, ...Array<any>])
            )))
        )),
      transact: (statements) =>
        attempt("transact", () => db.transact(statements) as Array<Array<Array<unknown>>>),
      isTransaction: db.isTransaction,
      heap: Effect.undefined
    })
  )

const fromFailure = (failure: Failure, operation: string) =>
  classify(Object.assign(new Error(failure.message), { code: failure.code, errcode: failure.errcode }), operation)

const stopped = () =>
  new SqlError.SqlError({
    reason: new SqlError.ConnectionError({ message: "the SQLite worker thread stopped", operation: "execute", cause: undefined })
  })

/**
 * The worker thread's young generation, at most (MB): a bound on V8's own
 * sizing of it. A thread has no limit of its own by default
 * (`resourceLimits.maxYoungGenerationSizeMb` -1: V8 sizes it as the main
 * isolate's), and in two runs of the full load mix the thread's few
 * short-lived objects (each statement's message and rows) grew it from 31 to
 * 81 MB committed, with 9.6 MB live after each full collection (its
 * `--trace-gc` lines). Runs since, with or without the cap, have not grown
 * it; the cap costs no measured CPU, and lowers the thread's
 * `heap_size_limit` from 4,288 to 4,120 MB (Node 24).
 */
export const workerYoungGenerationMb = 16

const openOnWorker = Effect.fnUntraced(function*(options: OpenOptions) {
  const waiting = new Map<number, (result: Effect.Effect<any, SqlError.SqlError>) => void>()
  let isTransaction = false
  let running = true
  let nextId = 0
  const worker = yield* Effect.acquireRelease(
    Effect.callback<Worker, SqlError.SqlError>((resume) => {
      const worker = new Worker(new URL("./internal/sqliteWorker.ts", import.meta.url), {
        workerData: options,
        resourceLimits: { maxYoungGenerationSizeMb: workerYoungGenerationMb }
      })
      worker.once("message", (opened: Opened) =>
        resume(opened.opened ? Effect.succeed(worker) : Effect.fail(fromFailure(opened.failure, "open"))))
      // An error ends the thread: before it opened, the open fails; after, the exit fails whatever waits.
      worker.on("error", (error) => resume(Effect.fail(classify(error, "open"))))
      worker.on("exit", () => {
        running = false
        for (const resume of waiting.values()) resume(Effect.fail(stopped()))
        waiting.clear()
      })
    }),
    (worker) =>
      running
        ? Effect.callback<void>((resume) => {
          worker.once("exit", () => resume(Effect.void))
          worker.postMessage({ id: -1, op: "close" } satisfies Request)
        })
        : Effect.void
  )
  worker.on("message", (reply: Reply) => {
    isTransaction = reply.isTransaction
    const resume = waiting.get(reply.id)
    waiting.delete(reply.id)
    // The statement's fiber goes on in a task of its scheduler, not inside this callback: a fiber resumed here runs
    // here, with every fiber it wakes (a batch's submitters, their answers, the feed's watchers), out of reach of a
    // scheduler that bounds each turn's work (the service's `TurnScheduler`).
    resume?.(Effect.andThen(Effect.yieldNow, reply.ok ? Effect.succeed(reply.result) : Effect.fail(fromFailure(reply.failure, "execute"))))
  })
  const request = (message: DistributiveOmit<Exclude<Request, { op: "close" }>, "id">) =>
    Effect.callback<any, SqlError.SqlError>((resume) => {
      if (!running) return resume(Effect.fail(stopped()))
      const id = nextId++
      try {
        worker.postMessage({ ...message, id })
      } catch (error) {
        // A parameter that cannot be cloned to the thread (a function, a symbol): a failed statement, not a defect.
        return resume(Effect.fail(classify(error, "execute")))
      }
      waiting.set(id, resume)
    })
  const rows = (sql: string, params: ReadonlyArray<unknown>, arrays: boolean, prepared: boolean) =>
    request({ op: "rows", sql, params: bind(params), arrays, prepared })
  return {
    rows,
    raw: (sql, params) => request({ op: "raw", sql, params: bind(params) }),
    // Rows do not stream across the thread boundary: the query runs to the end, then its rows are handed on.
    stream: (sql, params) => Stream.unwrap(Effect.map(rows(sql, params, false, false), Stream.fromArray)),
    transact: (statements) => request({ op: "transact", statements }),
    isTransaction: () => isTransaction,
    // A stopped thread refuses the question (`ERR_WORKER_NOT_RUNNING`): no heap to tell.
    heap: Effect.orElseSucceed(Effect.tryPromise(() => worker.getHeapStatistics()), () => undefined)
  } satisfies Executor
})

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never

const makeConnection = (executor: Executor): SqlConnection.Connection => {
  const withTransform = (rows: Effect.Effect<Array<any>, SqlError.SqlError>, transformRows: TransformRows) =>
    transformRows === undefined ? rows : Effect.map(rows, transformRows)
  return {
    execute: (sql, params, transformRows) => withTransform(executor.rows(sql, params, false, true), transformRows),
    executeUnprepared: (sql, params, transformRows) =>
      withTransform(executor.rows(sql, params, false, false), transformRows),
    executeRaw: executor.raw,
    executeValues: (sql, params) => executor.rows(sql, params, true, true),
    executeValuesUnprepared: (sql, params) => executor.rows(sql, params, true, false),
    executeStream: (sql, params, transformRows) =>
      transformRows === undefined
        ? executor.stream(sql, params)
        : Stream.mapArray(executor.stream(sql, params), (rows) => transformRows(rows) as [any, ...Array<any>])
  }
}

type TransformRows = (<A extends object>(rows: ReadonlyArray<A>) => ReadonlyArray<A>) | undefined

/** Opens the database for the lifetime of the current scope and builds a client over it. */
export const make = Effect.fnUntraced(function*(config: NodeSqliteClientConfig) {
  const options: OpenOptions = {
    filename: config.filename,
    readOnly: config.readOnly ?? false,
    busyTimeoutMillis: Duration.toMillis(config.busyTimeout ?? "5 seconds"),
    synchronous: config.synchronous ?? "FULL",
    wal: config.wal ?? true,
    cacheSize: config.preparedStatementCacheSize ?? 200
  }
  const executor = yield* (config.worker === true ? openOnWorker(options) : openInThread(options))
  const semaphore = yield* Semaphore.make(1)
  const acquirers = SqlClient.makeSqliteAcquirers({
    connection: Effect.succeed(makeConnection(executor)),
    semaphore,
    isTransaction: executor.isTransaction
  })
  const spanAttributes: Record<string, unknown> = {
    ...config.spanAttributes,
    "db.system.name": "sqlite",
    "db.namespace": config.filename
  }
  // The span's place in the code is always here: no stack trace is captured for it (an `Error` made per transaction,
  // 0.8% of the service's CPU in a profile of the arenas bench).
  const transact = (statements: ReadonlyArray<TransactStatement>) =>
    semaphore.withPermit(executor.transact(statements)).pipe(
      Effect.withSpan("sql.transaction", {
        kind: "client",
        attributes: { ...spanAttributes, "db.operation.batch.size": statements.length }
      }, { captureStackTrace: false })
    )
  const client = yield* SqlClient.make({
    ...acquirers,
    compiler: Statement.makeCompilerSqlite(),
    driver: "node-sqlite",
    // SQLite prepares BEGIN, COMMIT and savepoints like any statement, so they come from the cache.
    prepareTransactionControls: true,
    releaseSavepoint: (name) => `RELEASE SAVEPOINT ${name}`,
    spanAttributes: Object.entries(spanAttributes)
  })
  return NodeSqliteClient.of(Object.assign(client, { config, transact, workerHeap: executor.heap }))
})

/** Provides the client both as `NodeSqliteClient` and as the generic `SqlClient`. */
export const layer = (config: NodeSqliteClientConfig): Layer.Layer<NodeSqliteClient | SqlClient.SqlClient, SqlError.SqlError> =>
  Layer.effectContext(
    Effect.map(make(config), (client) => Context.make(NodeSqliteClient, client).pipe(Context.add(SqlClient.SqlClient, client)))
  ).pipe(Layer.provide(Reactivity.layer))
