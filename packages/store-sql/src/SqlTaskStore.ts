/**
 * The durable `TaskStore`: one implementation on `effect/sql` serving SQLite
 * (through `NodeSqliteClient`, the embedded default) and PostgreSQL (through
 * `@effect/sql-pg`).
 *
 * The store migrates its table when it starts. Writes go through group commit
 * (see `GroupCommit`): many tasks' inserts and state changes share one
 * transaction, and each is acknowledged only after that transaction
 * committed. Reads go straight to the database. Lists walk indexes in id
 * order (ids are time-ordered), so keyset pages cost the same however deep
 * they are, and the retention purge is one `DELETE`.
 *
 * `update` and `updateProgress` write whole records (an upsert) except what
 * is fixed at insert (kind, key, owner, payload, creation time), and progress
 * never overwrites a finished record.
 *
 * PostgreSQL's text cannot hold U+0000: written there, it becomes U+FFFD
 * (see `internal/pgColumns`), and a key read by (an id, a cursor, a kind, an
 * owner) holding one matches no row, answered without a query, as on SQLite.
 *
 * @since 0.1.0
 */
import { type ScheduleStore, TaskError, type TaskInfo, TaskQuery, TaskStore } from "@chainjobs/tasks"
import { PgClient } from "@effect/sql-pg"
import { Cause, Clock, Config, Effect, Exit, Layer, Option } from "effect"
import { SqlClient, type SqlError, type Statement } from "effect/sql"
import * as GroupCommit from "./GroupCommit.ts"
import { partParameters, partRows, type PgPart, pgPart } from "./internal/pgColumns.ts"
import {
  columns,
  fromRow,
  migrate,
  sizeClasses,
  statusIndexExcludes,
  table,
  rowsValues,
  type TaskRow,
  unfinishedStatuses,
  unfinishedTable,
  updatedColumns
} from "./internal/taskTable.ts"
import * as InsertPolicy from "./internal/insertPolicy.ts"
import { unstorableKey } from "./internal/pgText.ts"
import { storeError } from "./internal/storeFailure.ts"
import * as NodeSqliteClient from "./NodeSqliteClient.ts"
import * as SqlScheduleStore from "./SqlScheduleStore.ts"

/**
 * Settings of the store itself, whatever the database. `resumeGroupSize`
 * defaults to `pgResumeGroupSize` on PostgreSQL (the server writes the next
 * batch while this process resumes the writers of the one before) and to
 * every writer at once on SQLite.
 */
export interface SqlTaskStoreConfig extends GroupCommit.GroupCommitConfig {
  /**
   * How new records are inserted on PostgreSQL (see `internal/insertPolicy`):
   * `plain` first, written again with `ON CONFLICT DO NOTHING` when a batch
   * met an existing id; always `checked` (`ON CONFLICT DO NOTHING`); or
   * `adaptive`, plain while few recent batches met an existing id. Default
   * `adaptive`.
   */
  readonly pgInserts?: InsertPolicy.InsertMode | undefined
}

/** The modes of `pgInserts`, as a schema for settings read from outside (`adaptive`, `plain`, `checked`). */
export const PgInserts = InsertPolicy.InsertMode
/** One mode of `pgInserts`. */
export type InsertMode = InsertPolicy.InsertMode

/** How many writers of a committed PostgreSQL batch resume before the next batch may start (see `GroupCommitConfig.resumeGroupSize`). */
export const pgResumeGroupSize = 256

const terminalStatuses = ["completed", "failed", "interrupted"] as const

const unfinishedStatusList: ReadonlyArray<TaskInfo.TaskStatus> = ["pending", "running"]

type Part = keyof GroupCommit.Batch

/** The parts of a batch, in the order they are written. */
const parts: ReadonlyArray<Part> = ["inserts", "updates", "progress"]

const emptyBatch: GroupCommit.Batch = { inserts: new Map(), updates: new Map(), progress: new Map() }

const noFailures: GroupCommit.BatchResult["failed"] = { inserts: new Map(), updates: new Map(), progress: new Map() }

/** Told, once a batch's statement is written, whether its inserts met an existing id (see `internal/insertPolicy`). */
type Learn = (metExisting: boolean) => Effect.Effect<void>

/** A `Learn` for writes that are not a whole batch: they do not feed the insert policy. */
const ignoreInserts: Learn = () => Effect.void

/** True for a statement that failed on a unique constraint (an id that exists, for the store's inserts). */
const isUniqueViolation = (error: SqlError.SqlError): boolean => error.reason._tag === "UniqueViolation"

/** Builds the store on the `SqlClient` in context, migrating its table first. */
export const make = Effect.fnUntraced(function*(config: SqlTaskStoreConfig = {}) {
  const sql = yield* SqlClient.SqlClient
  /** The `node:sqlite` client, when it is the store's: batches then go to the database in one call. */
  const sqlite = yield* Effect.serviceOption(NodeSqliteClient.NodeSqliteClient)
  // Settings first: a store given one that is not a count fails to start before it changes the database.
  yield* GroupCommit.checkConfig(config).pipe(Effect.mapError(storeError("configure")))
  const insertPolicy = yield* InsertPolicy.make(config.pgInserts).pipe(Effect.mapError(storeError("configure")))
  yield* migrate.pipe(Effect.mapError(storeError("migrate")))

  const selectColumns = sql.literal(columns.join(", "))
  const insertNew = "ON CONFLICT (id) DO NOTHING RETURNING id"
  /** `insertNew` answering no rows: `writeTransacted` counts its inserts instead (see `sqliteStatements`). */
  const insertNewNoRows = "ON CONFLICT (id) DO NOTHING"
  const upsert = `ON CONFLICT (id) DO UPDATE SET ${updatedColumns.map((column) => `${column} = excluded.${column}`).join(", ")}`
  const upsertUnlessFinished = `${upsert} WHERE ${table}.status NOT IN ('${terminalStatuses.join("', '")}')`

  /** SQLite statement texts by shape (row count and conflict clause), each built once. */
  const sqliteTexts = new Map<string, string>()
  const rowParameters = `(${columns.map(() => "?").join(", ")})`
  const sqliteText = (count: number, conflict: string) => {
    const shape = `${count} ${conflict}`
    let text = sqliteTexts.get(shape)
    if (text === undefined) {
      text = `INSERT INTO ${table} (${columns.join(", ")}) VALUES ${Array(count).fill(rowParameters).join(", ")} ${conflict}`
      sqliteTexts.set(shape, text)
    }
    return text
  }

  /** The texts of `SELECT`s of the ids among `count` parameters that are stored, by count, each built once. */
  const sqliteExistingTexts = new Map<number, string>()
  const sqliteExisting = (count: number) => {
    let text = sqliteExistingTexts.get(count)
    if (text === undefined) {
      text = `SELECT id FROM ${table} WHERE id IN (${Array(count).fill("?").join(", ")})`
      sqliteExistingTexts.set(count, text)
    }
    return text
  }

  /**
   * SQLite statements writing `records`, in `sizeClasses` rows each (see
   * `writeRows`). `counted` inserts answer with the ids not inserted because
   * they existed: usually none, so no rows at all (see
   * `TransactStatement.expected`), not one row per insert as `RETURNING id`.
   */
  const sqliteStatements = (
    records: ReadonlyMap<string, TaskInfo.TaskInfo>,
    conflict: string,
    counted = false
  ): Array<NodeSqliteClient.TransactStatement> => {
    const all = Array.from(records.values())
    let offset = 0
    return sizeClasses(all.length).map((count) => {
      const rows = all.slice(offset, offset += count)
      const statement = { sql: sqliteText(count, conflict), params: rowsValues(rows) }
      if (!counted) return statement
      return { ...statement, expected: { changes: count, first: { sql: sqliteExisting(count), params: rows.map((info) => info.id) } } }
    })
  }

  /**
   * PostgreSQL statement texts by shape (see `PgPart`): the parts a statement
   * writes, their conflict clauses and which of their columns vary. Each is
   * built once; a workload has a few shapes, and an odd one that stops
   * recurring is dropped after `pgTextsKept` others.
   */
  const pgTexts = new Map<string, string>()
  const pgTextsKept = 256
  const pgText = (key: string, build: () => string): string => {
    let text = pgTexts.get(key)
    if (text === undefined) {
      text = build()
      pgTexts.set(key, text)
      if (pgTexts.size > pgTextsKept) pgTexts.delete(pgTexts.keys().next().value!)
    }
    return text
  }

  /** `ON CONFLICT` of PostgreSQL's checked inserts: the ids stored come back through `pgClauses`' `RETURNING`. */
  const pgInsertNew = "ON CONFLICT (id) DO NOTHING"

  /**
   * The `WITH` clauses writing a part of shape `shape` whose parameters start
   * at `$first`: the `INSERT` named `name`, with its conflict clause,
   * answering the ids and statuses it wrote, and the clauses keeping
   * `unfinishedTable` in step with them (see `internal/taskTable`): a record
   * written unfinished has a row there, a record written finished none. A
   * new record's row is inserted as the record is (plain with a plain
   * insert, so that a row left there makes the statement fail as an existing
   * id does); a state change or progress deletes the row of a record it
   * finishes and adds one, unless it exists, for a record it leaves
   * unfinished (one recorded again after its removal, a retry). The state
   * change itself then writes no indexed column: on a page with room, a HOT
   * update.
   */
  const pgClauses = (name: string, part: Part, shape: number, first: number, conflict: string): Array<string> => {
    const rows = `${name} AS (INSERT INTO ${table} ${partRows(shape, first)} ${conflict} RETURNING id, status)`
    const opened = (onConflict: string) =>
      `${name}_opened AS (INSERT INTO ${unfinishedTable} (id) SELECT id FROM ${name} WHERE status IN (${unfinishedStatuses}) ${onConflict})`
    if (part === "inserts") return [rows, opened(conflict === "" ? "" : pgInsertNew)]
    return [
      rows,
      `${name}_closed AS (DELETE FROM ${unfinishedTable} WHERE id = ANY (ARRAY(SELECT id FROM ${name} WHERE status NOT IN (${unfinishedStatuses}))))`,
      opened(pgInsertNew)
    ]
  }

  /** Each part's conflict clause on PostgreSQL, inserts checked. */
  const pgConflicts: { readonly [P in Part]: string } = { inserts: pgInsertNew, updates: upsert, progress: upsertUnlessFinished }

  /** Each part's conflict clause on SQLite: inserts answer the ids they stored. */
  const sqliteConflicts: { readonly [P in Part]: string } = { inserts: insertNew, updates: upsert, progress: upsertUnlessFinished }

  /**
   * The positions (from 1) of the ids of an inserted part (its parameters from
   * `$first`, the ids first) that the `inserted` clause did not insert (their
   * records existed): usually none, so the answer to a batch is no rows, not
   * one row per insert.
   */
  const pgNotInserted = (shape: number, first: number) =>
    shape === 0
      ? "SELECT 1 AS n WHERE NOT EXISTS (SELECT 1 FROM inserted)"
      : `SELECT n FROM unnest($${first}::text[]) WITH ORDINALITY AS given (id, n) WHERE NOT EXISTS (SELECT 1 FROM inserted WHERE inserted.id = given.id)`

  /**
   * Writes one part of a batch, returning each statement's rows: for
   * inserts, the ids stored. SQLite takes them as parameters, in statements
   * of `sizeClasses` rows whose texts are built once per shape. PostgreSQL
   * takes them all in one statement, one parameter per column (see
   * `pgPart`), with the clauses that keep `unfinishedTable` in step (see
   * `pgClauses`): its text is the same whatever the count (one prepared
   * statement per shape, reused), and a batch costs one round trip per part,
   * not one per size class.
   */
  const writeRows = (records: ReadonlyMap<string, TaskInfo.TaskInfo>, part: Part) =>
    Effect.suspend(() => {
      if (records.size === 0) return Effect.succeed<Array<ReadonlyArray<{ readonly id: string }>>>([])
      return sql.onDialectOrElse({
        pg: () => {
          const written = pgPart(records.values())
          const text = pgText(`${written.shape} ${part} apart`, () => {
            const answer = part === "inserts" ? "SELECT id FROM written" : "SELECT NULL AS id WHERE false"
            return `WITH ${pgClauses("written", part, written.shape, 1, pgConflicts[part]).join(", ")} ${answer}`
          })
          return Effect.map(sql.unsafe<{ readonly id: string }>(text, written.params), (rows) => [rows])
        },
        orElse: () =>
          Effect.forEach(
            sqliteStatements(records, sqliteConflicts[part]),
            (statement) => sql.unsafe<{ readonly id: string }>(statement.sql, statement.params)
          )
      })
    })

  /** The ids of a batch's inserts that were not stored, given the ids its insert statements returned. */
  const notInserted = (batch: GroupCommit.Batch, inserted: Iterable<string>) => {
    const stored = new Set(inserted)
    return new Set(Array.from(batch.inserts.keys()).filter((id) => !stored.has(id)))
  }

  /** Writes a batch in one transaction, running `placed` once its statements ran, before it commits. */
  const writeInTransaction = (batch: GroupCommit.Batch, placed: Effect.Effect<void>) =>
    sql.withTransaction(Effect.gen(function*() {
      const inserted = yield* writeRows(batch.inserts, "inserts")
      yield* writeRows(batch.updates, "updates")
      yield* writeRows(batch.progress, "progress")
      yield* placed
      return notInserted(batch, inserted.flat().map((row) => row.id))
    }))

  /**
   * Writes a batch through `NodeSqliteClient.transact`: the statements of
   * `writeInTransaction`, sent to the database in one call (with the
   * database on a worker thread, one message each way per batch instead of a
   * round trip per statement, `BEGIN` and `COMMIT` included), and `placed`
   * once it committed. Its inserts answer with the ids that existed, usually
   * none, instead of every id inserted.
   */
  const writeTransacted = (
    transact: NodeSqliteClient.NodeSqliteClient["Service"]["transact"],
    batch: GroupCommit.Batch,
    placed: Effect.Effect<void>
  ) =>
    Effect.suspend(() => {
      const inserts = sqliteStatements(batch.inserts, insertNewNoRows, true)
      const statements = [...inserts, ...sqliteStatements(batch.updates, upsert), ...sqliteStatements(batch.progress, upsertUnlessFinished)]
      return Effect.flatMap(transact(statements), (results) => {
        const existed = results.slice(0, inserts.length).flatMap((rows) => rows.map((row) => row[0] as string))
        return Effect.as(placed, new Set(existed))
      })
    })

  /**
   * Writes a PostgreSQL batch as one statement: its parts (those holding
   * writes) are the data-modifying `WITH` clauses of one `SELECT`, which
   * PostgreSQL runs to completion and commits together (a statement outside a
   * transaction is one). One round trip per batch instead of four (`BEGIN`,
   * two or three statements, `COMMIT`): the single writer waits on the
   * network once per batch. The clauses run on one snapshot, so no id may be
   * in two parts (`writeTogether` sends such a batch in a transaction
   * instead); the text depends only on the parts' shapes, so it is planned
   * once per shape.
   *
   * The inserts go as a plain `INSERT` (see `pgWriteOnce`) unless recent
   * batches met existing ids (see `internal/insertPolicy`); when a plain one
   * meets an existing id, the batch is written again with the inserts `ON
   * CONFLICT DO NOTHING`, answering which of them were not stored. Once
   * written, `learn` is told whether its inserts met an existing id.
   */
  const writeOneStatement = (batch: GroupCommit.Batch, placed: Effect.Effect<void>, learn: Learn) =>
    // Suspended: a record that does not encode throws while the statement is built, a defect of the write.
    Effect.suspend(() => {
      const part = (records: ReadonlyMap<string, TaskInfo.TaskInfo>) => records.size === 0 ? undefined : pgPart(records.values())
      const parts = { changed: part(batch.updates), progressed: part(batch.progress), inserted: part(batch.inserts) }
      if (parts.changed === undefined && parts.progressed === undefined && parts.inserted === undefined) {
        return Effect.as(placed, new Set<string>())
      }
      const written = parts.inserted === undefined
        ? pgWriteOnce(parts, "checked")
        : insertPolicy.plain()
        ? pgWriteOnce(parts, "plain").pipe(
          Effect.tap(() => learn(false)),
          Effect.catchIf(isUniqueViolation, () => Effect.tap(pgWriteOnce(parts, "checked"), () => learn(true)))
        )
        : pgWriteOnce(parts, "checked").pipe(Effect.tap((rows) => learn(rows.length > 0)))
      return written.pipe(Effect.flatMap((rows) => {
        const ids = rows.length === 0 ? [] : Array.from(batch.inserts.keys())
        return Effect.as(placed, new Set(rows.map((row) => ids[Number(row.n) - 1])))
      }))
    })

  /**
   * Runs the one statement of a batch's parts (see `writeOneStatement`),
   * answering the positions of the inserts not stored. `plain` inserts
   * without `ON CONFLICT`: an existing id fails the whole statement (a unique
   * violation; nothing of it is stored), and the answer is no rows. Measured
   * on the server, the plain insert spares each row the speculative insertion
   * of `ON CONFLICT` (a probe of the primary key before the insert, and a
   * second WAL record confirming it). `checked` inserts with `ON CONFLICT DO
   * NOTHING` and answers the positions of those that existed.
   */
  const pgWriteOnce = (
    parts: { readonly changed: PgPart | undefined; readonly progressed: PgPart | undefined; readonly inserted: PgPart | undefined },
    inserts: "plain" | "checked"
  ) => {
    const { changed, inserted, progressed } = parts
    const key = `${changed?.shape ?? "-"} ${progressed?.shape ?? "-"} ${inserted?.shape ?? "-"} ${inserts}`
    const text = pgText(key, () => {
      const clauses: Array<string> = []
      let first = 1
      const clause = (name: string, part: Part, written: PgPart | undefined, conflict: string) => {
        if (written === undefined) return
        clauses.push(...pgClauses(name, part, written.shape, first, conflict))
        first += partParameters
      }
      clause("changed", "updates", changed, upsert)
      clause("progressed", "progress", progressed, upsertUnlessFinished)
      const insertsFrom = first
      clause("inserted", "inserts", inserted, inserts === "plain" ? "" : pgInsertNew)
      const answer = inserted === undefined || inserts === "plain"
        ? "SELECT NULL AS n WHERE false"
        : pgNotInserted(inserted.shape, insertsFrom)
      return `WITH ${clauses.join(", ")} ${answer}`
    })
    const params: Array<unknown> = []
    for (const written of [changed, progressed, inserted]) if (written !== undefined) params.push(...written.params)
    return sql.unsafe<{ readonly n: unknown }>(text, params)
  }

  /** True when an id has writes in two parts of a batch (an insert and a state change, or a state change and progress). */
  const overlaps = (batch: GroupCommit.Batch): boolean => {
    for (const id of batch.updates.keys()) if (batch.inserts.has(id) || batch.progress.has(id)) return true
    for (const id of batch.progress.keys()) if (batch.inserts.has(id)) return true
    return false
  }

  /**
   * Writes a batch atomically, running `placed` once its place in the order
   * of writes is held (before the commit, or once it committed). On
   * PostgreSQL a batch whose parts touch distinct ids is one statement (see
   * `writeOneStatement`); on `NodeSqliteClient`, the statements go in one
   * call (see `writeTransacted`); otherwise the parts are statements of one
   * transaction, in order. `learn` hears what a PostgreSQL statement's
   * inserts met (see `writeOneStatement`).
   */
  const writeTogether = (batch: GroupCommit.Batch, placed: Effect.Effect<void>, learn: Learn) =>
    sql.onDialectOrElse({
      pg: () => overlaps(batch) ? writeInTransaction(batch, placed) : writeOneStatement(batch, placed, learn),
      orElse: () =>
        Option.isSome(sqlite) ? writeTransacted(sqlite.value.transact, batch, placed) : writeInTransaction(batch, placed)
    })

  /** The writes of a batch that concern `ids`. */
  const only = (batch: GroupCommit.Batch, ids: ReadonlySet<string>): GroupCommit.Batch => {
    const pick = (part: ReadonlyMap<string, TaskInfo.TaskInfo>) => new Map(Array.from(part).filter(([id]) => ids.has(id)))
    return { inserts: pick(batch.inserts), updates: pick(batch.updates), progress: pick(batch.progress) }
  }

  /**
   * Writes what it can of a batch whose transaction failed with `cause`,
   * finding the culprits by halves: each half of its ids is written in a
   * transaction of its own and a half that fails is split again, down to the
   * writes of one id, written one by one in their order (insert, update,
   * progress). A bad record among n costs about 2·log2(n) transactions, not n
   * (each a disk flush: 3,000 one by one stalled every write for 1.6 s).
   * The pieces do not feed the insert policy (`write` tells it once for the
   * batch): counted as batches, the ~20 pieces of one bad record among 1,000
   * would wipe out a run of batches that met existing ids.
   */
  const writeApart = (
    batch: GroupCommit.Batch,
    cause: Cause.Cause<unknown>,
    result: { readonly duplicates: Set<string>; readonly failed: { readonly [P in Part]: Map<string, TaskError.TaskStoreError> } }
  ): Effect.Effect<void> =>
    Effect.gen(function*() {
      const writes = parts.flatMap((part) => Array.from(batch[part].values(), (info) => [part, info] as const))
      if (writes.length === 1) {
        const [part, info] = writes[0]
        const error = Cause.squash(cause)
        result.failed[part].set(info.id, storeError("commit")(error))
        return
      }
      const ids = Array.from(new Set(writes.map(([, info]) => info.id)))
      const pieces = ids.length > 1
        ? [ids.slice(0, ids.length >> 1), ids.slice(ids.length >> 1)].map((half) => only(batch, new Set(half)))
        : writes.map(([part, info]) => ({ ...emptyBatch, [part]: new Map([[info.id, info]]) }))
      for (const piece of pieces) {
        const exit = yield* Effect.exit(writeTogether(piece, Effect.void, ignoreInserts))
        if (Exit.isSuccess(exit)) exit.value.forEach((id) => result.duplicates.add(id))
        else yield* writeApart(piece, exit.cause, result)
      }
    })

  /**
   * Writes a batch in one transaction. When that fails on something in the
   * data (a constraint, a value that does not encode), every task in the
   * batch would fail with it, so the batch is written again apart (see
   * `writeApart`) and only the culprits fail, with a `TaskStoreError` even
   * when the cause was a defect; the batch is placed (the next one may start)
   * only once that is done, so that its writes keep their place in the order. A lost connection, a lock held too long and
   * the like fail the whole batch: each record alone would meet them too.
   * The insert policy hears once per batch whether its inserts met an
   * existing id: from the statement, or from what the pieces written apart
   * found.
   */
  const write: GroupCommit.WriteBatch = (batch, placed) =>
    writeTogether(batch, placed, insertPolicy.written).pipe(
      Effect.map((duplicates) => ({ duplicates, failed: noFailures })),
      Effect.catchCause((cause) => {
        if (cause.reasons.some((reason) => Cause.isFailReason(reason) && reason.error.isRetryable)) {
          return Effect.failCause(cause)
        }
        const result = {
          duplicates: new Set<string>(),
          failed: {
            inserts: new Map<string, TaskError.TaskStoreError>(),
            updates: new Map<string, TaskError.TaskStoreError>(),
            progress: new Map<string, TaskError.TaskStoreError>()
          }
        }
        return writeApart(batch, cause, result).pipe(
          Effect.tap(() => batch.inserts.size > 0 ? insertPolicy.written(result.duplicates.size > 0) : Effect.void),
          Effect.as(result satisfies GroupCommit.BatchResult)
        )
      }),
      Effect.mapError(storeError("commit"))
    )

  // The batching window is about disk flushes, so it runs on the wall clock even under a test clock.
  const resumeGroupSize = config.resumeGroupSize ?? sql.onDialectOrElse({ pg: () => pgResumeGroupSize, orElse: () => undefined })
  const writer = yield* GroupCommit.make(write, { ...config, resumeGroupSize }).pipe(
    Effect.provideService(Clock.Clock, Clock.Clock.defaultValue()),
    Effect.mapError(storeError("configure"))
  )

  /** The task table, as what a query reads. */
  const tableName = sql.literal(table)

  /**
   * On PostgreSQL, the unfinished records as a table of the task table's
   * name and columns: the ids of `unfinishedTable`, in the order of its
   * primary key, each joined to its record by a lookup of the task table's
   * (the `OFFSET 0` keeps the lookup a subquery run per id). A query of
   * unfinished records walks it in id order (a cursor bounds the walk) and
   * stops at its limit; joined as tables instead, the planner multiplies the
   * status filter's selectivity into the join's and scans the whole task
   * table into a hash join.
   */
  const unfinishedRecords = sql.literal(
    `(SELECT u.id, ${columns.filter((column) => column !== "id").map((column) => `t.${column}`).join(", ")} FROM ${unfinishedTable} u ` +
      `CROSS JOIN LATERAL (SELECT * FROM ${table} WHERE ${table}.id = u.id OFFSET 0) t) AS ${table}`
  )

  /**
   * What a query with `statuses` reads: on PostgreSQL, which has no status
   * index (see `internal/taskTable`), `unfinishedRecords` when they are all
   * unfinished ones; else the task table.
   */
  const source = (statuses: ReadonlyArray<TaskInfo.TaskStatus> | undefined): Statement.Fragment =>
    statuses !== undefined && statuses.every((status) => status === "pending" || status === "running")
      ? sql.onDialectOrElse({ pg: () => unfinishedRecords, orElse: () => tableName })
      : tableName

  const select = (from: Statement.Fragment, where: Statement.Fragment, order: "ASC" | "DESC", limit?: number) =>
    sql<TaskRow>`SELECT ${selectColumns} FROM ${from} WHERE ${where} ORDER BY id ${sql.literal(order)}${
      limit === undefined ? sql.literal("") : sql` LIMIT ${limit}`
    }`.pipe(Effect.map((rows) => rows.map(fromRow)))

  /**
   * Statuses as a `WHERE` clause's terms. On SQLite, with
   * `statusIndexExcludes` too, written out, when they leave completed
   * records out, so that the partial status index serves the query.
   */
  const statusTerms = (statuses: ReadonlyArray<TaskInfo.TaskStatus>) =>
    sql.onDialectOrElse({
      pg: () => [sql.in("status", statuses)],
      orElse: () =>
        statuses.includes("completed") ? [sql.in("status", statuses)] : [sql.in("status", statuses), sql.literal(statusIndexExcludes)]
    })

  /**
   * `query` without the kinds that match no row (see `internal/pgText`), or
   * undefined when the query matches none: no status, no kind, an owner no
   * row holds.
   */
  const matchable = (query: TaskQuery.TaskQuery): TaskQuery.TaskQuery | undefined => {
    const kind = query.kind?.filter((k) => !unstorableKey(sql, k))
    if (query.status?.length === 0 || kind?.length === 0 || query.owner !== undefined && unstorableKey(sql, query.owner)) return undefined
    return kind === undefined ? query : { ...query, kind }
  }

  /**
   * The ids before a cursor. On PostgreSQL a cursor holding U+0000 bounds
   * them at the text before it, inclusive: no stored id holds one, so those
   * are the ids before the cursor, compared byte by byte.
   */
  const before = (cursor: string) =>
    unstorableKey(sql, cursor) ? sql`id <= ${cursor.slice(0, cursor.indexOf("\u0000"))}` : sql`id < ${cursor}`

  /** The filters of a query (its cursor aside) as a `WHERE` clause's terms. */
  const filters = (query: TaskQuery.TaskQuery) => [
    ...(query.status === undefined ? [] : statusTerms(query.status)),
    ...(query.kind === undefined ? [] : [sql.in("kind", query.kind)]),
    ...(query.owner === undefined ? [] : [sql`owner = ${query.owner}`]),
    ...(query.createdAfter === undefined ? [] : [sql`created_at >= ${query.createdAfter}`]),
    ...(query.createdBefore === undefined ? [] : [sql`created_at < ${query.createdBefore}`])
  ]

  const list = (given: TaskQuery.TaskQuery) => {
    const query = matchable(given)
    if (query === undefined) return Effect.succeed({ items: [], nextCursor: null })
    const limit = Math.min(query.limit ?? TaskQuery.defaultLimit, TaskQuery.maxLimit)
    const where = sql.and([...filters(query), ...(query.cursor === undefined ? [] : [before(query.cursor)])])
    // One row more than the page tells whether another page follows.
    return Effect.map(select(source(query.status), where, "DESC", limit + 1), (items) => {
      const page = items.slice(0, limit)
      return { items: page, nextCursor: items.length > limit ? page[page.length - 1].id : null }
    })
  }

  const count = (given: TaskQuery.TaskQuery) => {
    const counts = TaskQuery.noCounts()
    const query = matchable(given)
    if (query === undefined) return Effect.succeed(counts)
    const rows = sql<{ readonly status: TaskInfo.TaskStatus; readonly n: unknown }>`SELECT status, count(*) AS n FROM ${source(query.status)} WHERE ${
      sql.and(filters(query))
    } GROUP BY status`
    return Effect.map(rows, (found) => {
      for (const row of found) if (row.status in counts) counts[row.status] = Number(row.n)
      return counts
    })
  }

  const purge = (filter: TaskQuery.PurgeFilter) => {
    const statuses = terminalStatuses.filter((status) => filter.status === undefined || filter.status.includes(status))
    if (statuses.length === 0) return Effect.succeed<ReadonlyArray<TaskInfo.TaskInfo>>([])
    const where = sql.and([
      sql.in("status", statuses),
      ...(filter.finishedBefore === undefined ? [] : [sql`finished_at < ${filter.finishedBefore}`]),
      ...(filter.expiredBy === undefined ? [] : [sql`expires_at <= ${filter.expiredBy}`])
    ])
    // the purged rows come back (SQLite 3.35+ and PostgreSQL): their deletion is told to the followers of all tasks
    return sql<TaskRow>`DELETE FROM ${sql(table)} WHERE ${where} RETURNING ${selectColumns}`.pipe(
      Effect.map((rows): ReadonlyArray<TaskInfo.TaskInfo> => rows.map(fromRow))
    )
  }

  /** Deletes a record, answering its id if it existed; on PostgreSQL its row of `unfinishedTable` too, in the same statement. */
  const removeRow = (id: string): Effect.Effect<ReadonlyArray<unknown>, SqlError.SqlError> =>
    sql.onDialectOrElse({
      pg: () =>
        sql`WITH removed AS (DELETE FROM ${sql(table)} WHERE id = ${id} RETURNING id), closed AS (DELETE FROM ${
          sql(unfinishedTable)
        } WHERE id = ${id}) SELECT id FROM removed`,
      orElse: () => sql`DELETE FROM ${sql(table)} WHERE id = ${id} RETURNING id`
    })

  return TaskStore.TaskStore.of({
    insert: writer.insert,
    insertAll: writer.insertAll,
    update: writer.update,
    updateAll: writer.updateAll,
    updateProgress: writer.updateProgress,
    get: (id) =>
      unstorableKey(sql, id) ? Effect.succeedNone : select(tableName, sql.and([sql`id = ${id}`]), "ASC").pipe(
        Effect.map((rows) => Option.fromNullishOr(rows[0])),
        Effect.mapError(storeError("get"))
      ),
    list: (query) => list(query).pipe(Effect.mapError(storeError("list"))),
    count: (query) => count(query).pipe(Effect.mapError(storeError("count"))),
    remove: (id) =>
      unstorableKey(sql, id) ? Effect.succeed(false) : writer.settled.pipe(
        Effect.andThen(removeRow(id)),
        Effect.map((rows) => rows.length > 0),
        Effect.mapError(storeError("remove"))
      ),
    purge: (filter) => writer.settled.pipe(Effect.andThen(purge(filter)), Effect.mapError(storeError("purge"))),
    unfinished: select(source(unfinishedStatusList), sql.and(statusTerms(unfinishedStatusList)), "ASC").pipe(
      Effect.mapError(storeError("unfinished"))
    )
  })
})

/** The store on the `SqlClient` provided to it. */
export const layer = (config: SqlTaskStoreConfig = {}): Layer.Layer<TaskStore.TaskStore, TaskError.TaskStoreError, SqlClient.SqlClient> =>
  Layer.effect(TaskStore.TaskStore, make(config))

/** Settings of the SQLite store: the database file and how batches are formed. */
export interface SqliteConfig extends NodeSqliteClient.NodeSqliteClientConfig, SqlTaskStoreConfig {}

/**
 * The store on a SQLite file, opened with `synchronous = FULL` unless
 * configured otherwise: an acknowledged write survives a crash of the process
 * or the machine.
 */
export const layerSqlite = (
  config: SqliteConfig
): Layer.Layer<TaskStore.TaskStore | ScheduleStore.ScheduleStore, TaskError.TaskStoreError | SqlError.SqlError> =>
  layerSqliteWith(config, Layer.empty)

/**
 * `layerSqlite` with `alongside` built on the same client too (what reads the
 * client itself, such as its worker thread's heap), the client staying
 * private to both.
 */
export const layerSqliteWith = <A, E>(
  config: SqliteConfig,
  alongside: Layer.Layer<A, E, NodeSqliteClient.NodeSqliteClient | SqlClient.SqlClient>
): Layer.Layer<TaskStore.TaskStore | ScheduleStore.ScheduleStore | A, TaskError.TaskStoreError | SqlError.SqlError | E> =>
  Layer.mergeAll(layer(config), SqlScheduleStore.layer, alongside).pipe(
    Layer.provide(NodeSqliteClient.layer({ synchronous: "FULL", ...config }))
  )

/** `layerSqlite` with its settings read from configuration, e.g. `{ filename: Config.String("TASKS_DB") }`. */
export const layerSqliteConfig = (
  config: Config.Wrap<SqliteConfig>
): Layer.Layer<TaskStore.TaskStore | ScheduleStore.ScheduleStore, TaskError.TaskStoreError | SqlError.SqlError | Config.ConfigError> =>
  Layer.unwrap(Effect.map(Config.unwrap(config), layerSqlite))

/** Settings of the PostgreSQL store: the connection pool, the schema and how batches are formed. */
export interface PgConfig extends PgClient.PgPoolConfig, SqlTaskStoreConfig {
  /**
   * The schema holding the store's tables, created when missing; the name is
   * taken as it is (case, dots and commas included). Default: the server's
   * `search_path` (usually `public`).
   */
  readonly schema?: string | undefined
}

/**
 * A PostgreSQL identifier quoted whole: `sql(name)` would split it at dots,
 * and an unquoted `search_path` would fold it to lower case and split it at
 * commas, sending the tables to another schema.
 */
const quoteIdentifier = (name: string): string => `"${name.replaceAll("\"", "\"\"")}"`

/**
 * The PostgreSQL client of `layerPg`, on its own: the pool, with the schema
 * (made when missing) first on its search path. Other tables sharing the
 * database and the pool, such as a cluster's storage, build on it.
 */
export const layerPgClient = (
  config: PgConfig
): Layer.Layer<PgClient.PgClient | SqlClient.SqlClient, TaskError.TaskStoreError | SqlError.SqlError> => {
  const schema = config.schema
  const client = PgClient.layer(
    schema === undefined
      ? config
      : { ...config, startupParameters: { ...config.startupParameters, search_path: quoteIdentifier(schema) } }
  )
  if (schema === undefined) return client
  // Only when missing: even with IF NOT EXISTS, CREATE SCHEMA needs the CREATE privilege on the database,
  // which a role owning no more than its schema lacks.
  const createSchema = Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const existing = yield* sql`SELECT 1 FROM pg_namespace WHERE nspname = ${schema}`
    if (existing.length === 0) yield* sql`CREATE SCHEMA IF NOT EXISTS ${sql.literal(quoteIdentifier(schema))}`
  }).pipe(
    // Processes starting together race on the catalog (a unique violation even with IF NOT EXISTS):
    // the loser's second look finds the schema made.
    Effect.retry({ times: 1 }),
    Effect.mapError(storeError("createSchema"))
  )
  return Layer.effectDiscard(createSchema).pipe(Layer.provideMerge(client))
}

/** The store on PostgreSQL. */
export const layerPg = (
  config: PgConfig
): Layer.Layer<TaskStore.TaskStore | ScheduleStore.ScheduleStore, TaskError.TaskStoreError | SqlError.SqlError> =>
  Layer.merge(layer(config), SqlScheduleStore.layer).pipe(Layer.provide(layerPgClient(config)))

/** `layerPg` with its settings read from configuration, e.g. `{ url: Config.Redacted("DATABASE_URL") }`. */
export const layerPgConfig = (
  config: Config.Wrap<PgConfig>
): Layer.Layer<TaskStore.TaskStore | ScheduleStore.ScheduleStore, TaskError.TaskStoreError | SqlError.SqlError | Config.ConfigError> =>
  Layer.unwrap(Effect.map(Config.unwrap(config), layerPg))
