/**
 * The watch tables, on the `SqlClient` in context (SQLite or PostgreSQL,
 * through `effect/sql`), and every statement over them:
 *
 * - `chainjobs_watchers`: each watcher's definition, state (`active`,
 *   `paused`) and cursor — the last confirmed block and its hash, and where
 *   an interrupted scan of the next range stopped (`scan_state`: the range);
 *   and what its loop saw last (`LoopState`: the head, the reorganizations
 *   counted, the last tick's failure, when it wrote them), so that every
 *   process sharing the tables answers a watcher's lag alike;
 * - `chainjobs_watch_scan`: what that scan saved, one row per entry (a
 *   query's cursor, a page's findings), so each step writes only what it
 *   moved or found, never the whole state again;
 * - `chainjobs_watcher_accounts`: the monitored account sets, each effective
 *   from a block, so that a change takes effect at a stated block;
 * - `chainjobs_watch_items`: every detected item (the audit table): where it
 *   stands (`detected`, `submitted`, `processed`, `failed`), its task, its
 *   outcome.
 *
 * Items and the cursor that passes them are written in one transaction, so a
 * crash leaves either both or neither.
 *
 * @since 0.1.0
 */
import { PgText } from "@chainjobs/store-sql"
import { Array as Arr, Effect, Option, Schema } from "effect"
import { Migrator, SqlClient } from "effect/sql"
import type { ContractWatch } from "./ChainAdapter.ts"
import { storeFailed, type WatchError } from "./WatchError.ts"
import * as WatchItem from "./WatchItem.ts"

/** The table of watcher definitions and cursors. */
export const watchersTable = "chainjobs_watchers"
/** The table of monitored account sets. */
export const accountsTable = "chainjobs_watcher_accounts"
/** The audit table of detected items. */
export const itemsTable = "chainjobs_watch_items"
/** The entries an interrupted scan saved, by watcher, part and key. */
export const scanTable = "chainjobs_watch_scan"

/** Where an item stands: found, handed to its task, or finished by it. */
export const ItemStatus = Schema.Literals(["detected", "submitted", "processed", "failed"])
/** @see ItemStatus */
export type ItemStatus = typeof ItemStatus.Type

/** A watcher as stored. */
export interface WatcherRow {
  readonly name: string
  readonly chain: string
  /** The task kind processing each item. */
  readonly processor: string
  readonly confirmations: number
  readonly startBlock: number
  readonly status: "active" | "paused"
  readonly contracts: ReadonlyArray<ContractWatch>
  /** Watched object ids (Sui), canonical. */
  readonly objects: ReadonlyArray<string>
  /** The last block whose items are recorded; `startBlock - 1` before the first. */
  readonly confirmedBlock: number
  /** That block's hash; null before the first. */
  readonly confirmedHash: string | null
  readonly createdAt: number
}

/** Where an interrupted scan of the range `from`–`to` after the cursor stopped: each part's (account-set segment's) saved entries, by its first block, then by key. */
export interface ScanState {
  readonly from: number
  readonly to: number
  readonly parts: Readonly<Record<string, ReadonlyMap<string, unknown>>>
}

/** What a watcher's loop saw last, as stored: whichever process ran the tick that wrote it. */
export interface LoopState {
  /** The head the loop read last; null before its first read. */
  readonly head: number | null
  /** Reorganizations of unconfirmed blocks its loops have seen, wherever they ran. */
  readonly reorgs: number
  /** The failure of the last tick, if it failed. */
  readonly lastError: string | null
  /** When a tick last wrote this (milliseconds since the epoch); null before the first. */
  readonly observedAt: number | null
}

/** A monitored account set, effective from `fromBlock` until the next set's. */
export const AccountSet = Schema.Struct({ fromBlock: Schema.Int, accounts: Schema.Array(Schema.String) })
/** @see AccountSet */
export type AccountSet = typeof AccountSet.Type

/** One row of the audit table. */
export const ItemRow = Schema.Struct({
  /** The item's identity (`WatchItem.id`). */
  id: Schema.String,
  item: WatchItem.WatchItem,
  status: ItemStatus,
  taskId: Schema.NullOr(Schema.String),
  /** The processing task's result (JSON), once processed. */
  outcome: Schema.Unknown,
  /** Why processing failed, once failed. */
  error: Schema.NullOr(Schema.String),
  detectedAt: Schema.Number,
  finishedAt: Schema.NullOr(Schema.Number)
})
/** @see ItemRow */
export type ItemRow = typeof ItemRow.Type

const createTables = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const int64 = sql.onDialectOrElse({ pg: () => "bigint", orElse: () => "INTEGER" })
  yield* sql.unsafe(`CREATE TABLE ${watchersTable} (
    name text PRIMARY KEY NOT NULL,
    chain text NOT NULL,
    processor text NOT NULL,
    confirmations integer NOT NULL,
    start_block ${int64} NOT NULL,
    status text NOT NULL,
    contracts text NOT NULL,
    confirmed_block ${int64} NOT NULL,
    confirmed_hash text,
    created_at ${int64} NOT NULL
  )`)
  yield* sql.unsafe(`CREATE TABLE ${accountsTable} (
    watcher text NOT NULL,
    from_block ${int64} NOT NULL,
    accounts text NOT NULL,
    PRIMARY KEY (watcher, from_block)
  )`)
  yield* sql.unsafe(`CREATE TABLE ${itemsTable} (
    watcher text NOT NULL,
    item_id text NOT NULL,
    block ${int64} NOT NULL,
    item text NOT NULL,
    status text NOT NULL,
    task_id text,
    outcome text,
    error text,
    detected_at ${int64} NOT NULL,
    finished_at ${int64},
    PRIMARY KEY (watcher, item_id)
  )`)
  yield* sql.unsafe(`CREATE INDEX ${itemsTable}_status ON ${itemsTable} (watcher, status, block)`)
})

/** Watched objects, and where an interrupted scan stopped. */
const addObjectsAndScanState = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql.unsafe(`ALTER TABLE ${watchersTable} ADD COLUMN objects text`)
  yield* sql.unsafe(`ALTER TABLE ${watchersTable} ADD COLUMN scan_state text`)
})

/** A scan's saved entries, one row each, so a step writes only its own. */
const addScanEntries = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const int64 = sql.onDialectOrElse({ pg: () => "bigint", orElse: () => "INTEGER" })
  yield* sql.unsafe(`CREATE TABLE ${scanTable} (
    watcher text NOT NULL,
    part ${int64} NOT NULL,
    entry text NOT NULL,
    value text NOT NULL,
    PRIMARY KEY (watcher, part, entry)
  )`)
})

/** What a watcher's loop saw last, written by whichever process runs it. */
const addLoopState = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const int64 = sql.onDialectOrElse({ pg: () => "bigint", orElse: () => "INTEGER" })
  yield* sql.unsafe(`ALTER TABLE ${watchersTable} ADD COLUMN head ${int64}`)
  yield* sql.unsafe(`ALTER TABLE ${watchersTable} ADD COLUMN reorgs ${int64} NOT NULL DEFAULT 0`)
  yield* sql.unsafe(`ALTER TABLE ${watchersTable} ADD COLUMN last_error text`)
  yield* sql.unsafe(`ALTER TABLE ${watchersTable} ADD COLUMN observed_at ${int64}`)
})

/** Creates or upgrades the watch tables. */
export const migrate: Effect.Effect<void, WatchError, SqlClient.SqlClient> = Migrator.make({})({
  loader: Migrator.fromRecord({
    "0001_create_watch": createTables,
    "0002_objects_scan_state": addObjectsAndScanState,
    "0003_scan_entries": addScanEntries,
    "0004_loop_state": addLoopState
  }),
  table: "chainjobs_watch_migrations"
}).pipe(Effect.asVoid, Effect.mapError(storeFailed("migrate")))

type Row = Record<string, unknown>

const toWatcher = (row: Row): WatcherRow => ({
  name: row.name as string,
  chain: row.chain as string,
  processor: row.processor as string,
  confirmations: Number(row.confirmations),
  startBlock: Number(row.start_block),
  status: row.status as WatcherRow["status"],
  contracts: JSON.parse(row.contracts as string),
  objects: row.objects === null || row.objects === undefined ? [] : JSON.parse(row.objects as string),
  confirmedBlock: Number(row.confirmed_block),
  confirmedHash: (row.confirmed_hash as string | null) ?? null,
  createdAt: Number(row.created_at)
})

const decodeItem = Schema.decodeUnknownSync(WatchItem.WatchItem)
const encodeItem = Schema.encodeSync(WatchItem.WatchItem)

const toItem = (row: Row): ItemRow => ({
  id: row.item_id as string,
  item: decodeItem(JSON.parse(row.item as string)),
  status: row.status as ItemStatus,
  taskId: (row.task_id as string | null) ?? null,
  outcome: row.outcome === null || row.outcome === undefined ? null : JSON.parse(row.outcome as string),
  error: (row.error as string | null) ?? null,
  detectedAt: Number(row.detected_at),
  finishedAt: row.finished_at === null || row.finished_at === undefined ? null : Number(row.finished_at)
})

const withSql = <A>(operation: string, f: (sql: SqlClient.SqlClient) => Effect.Effect<A, unknown>) =>
  Effect.flatMap(Effect.service(SqlClient.SqlClient), f).pipe(
    Effect.mapError((cause) => storeFailed(operation)(cause as { readonly message: string }))
  ) as Effect.Effect<A, WatchError, SqlClient.SqlClient>

/** Records a new watcher with its first account set; false (nothing written) when the name is taken. */
export const insertWatcher = (watcher: WatcherRow, accounts: ReadonlyArray<string>) =>
  withSql("insertWatcher", (sql) =>
    sql.withTransaction(Effect.gen(function*() {
      const existing = yield* sql`SELECT name FROM ${sql(watchersTable)} WHERE name = ${watcher.name}`
      if (existing.length > 0) return false
      yield* sql`INSERT INTO ${sql(watchersTable)} ${
        sql.insert({
          name: watcher.name,
          chain: watcher.chain,
          processor: watcher.processor,
          confirmations: watcher.confirmations,
          start_block: watcher.startBlock,
          status: watcher.status,
          contracts: JSON.stringify(watcher.contracts),
          objects: JSON.stringify(watcher.objects),
          confirmed_block: watcher.confirmedBlock,
          confirmed_hash: watcher.confirmedHash,
          created_at: watcher.createdAt
        })
      }`
      yield* sql`INSERT INTO ${sql(accountsTable)} ${
        sql.insert({ watcher: watcher.name, from_block: watcher.startBlock, accounts: JSON.stringify(accounts) })
      }`
      return true
    })))

/** A watcher, if it exists. */
export const getWatcher = (name: string) =>
  withSql("getWatcher", (sql) =>
    PgText.unstorableKey(sql, name) ? Effect.succeedNone : Effect.map(sql<Row>`SELECT * FROM ${sql(watchersTable)} WHERE name = ${name}`, (rows) =>
      Option.map(Option.fromNullishOr(rows[0]), toWatcher)))

/** What the watcher's loop saw last (`LoopState`); none for a watcher that does not exist. */
export const loopState = (name: string) =>
  withSql("loopState", (sql) =>
    PgText.unstorableKey(sql, name) ? Effect.succeedNone : Effect.map(
      sql<Row>`SELECT head, reorgs, last_error, observed_at FROM ${sql(watchersTable)} WHERE name = ${name}`,
      (rows) =>
        Option.map(Option.fromNullishOr(rows[0]), (row): LoopState => ({
          head: row.head === null || row.head === undefined ? null : Number(row.head),
          reorgs: Number(row.reorgs ?? 0),
          lastError: (row.last_error as string | null | undefined) ?? null,
          observedAt: row.observed_at === null || row.observed_at === undefined ? null : Number(row.observed_at)
        }))
    ))

/**
 * Writes what a tick of the watcher's loop saw: the head (null: unchanged), the
 * reorganizations it counted since the last write (added to the stored count,
 * so that a loop moved to another process goes on counting), the tick's
 * failure (null when it succeeded) and the time. Nothing for a watcher removed.
 */
export const saveLoopState = (
  name: string,
  seen: { readonly head: number | null; readonly newReorgs: number; readonly lastError: string | null; readonly at: number }
) =>
  withSql("saveLoopState", (sql) =>
    PgText.unstorableKey(sql, name) ? Effect.void : Effect.asVoid(
      sql`UPDATE ${sql(watchersTable)} SET head = COALESCE(${seen.head}, head), reorgs = reorgs + ${seen.newReorgs},
        last_error = ${seen.lastError === null ? null : PgText.storableText(seen.lastError)}, observed_at = ${seen.at}
        WHERE name = ${name}`
    ))

/** Every watcher, by name. */
export const listWatchers = withSql("listWatchers", (sql) =>
  Effect.map(sql<Row>`SELECT * FROM ${sql(watchersTable)} ORDER BY name`, (rows) => rows.map(toWatcher)))

/** Sets a watcher's state; false when there is no such watcher. */
export const setStatus = (name: string, status: WatcherRow["status"]) =>
  withSql("setStatus", (sql) =>
    PgText.unstorableKey(sql, name) ? Effect.succeed(false) : Effect.map(
      sql<Row>`UPDATE ${sql(watchersTable)} SET status = ${status} WHERE name = ${name} RETURNING name`,
      (rows) => rows.length > 0
    ))

/**
 * Deletes a watcher, its account sets and its items not yet handed to a task;
 * the audit of handed and finished items stays (a watcher added again under
 * the name does not process them twice). False when there is no such watcher.
 */
export const deleteWatcher = (name: string) =>
  withSql("deleteWatcher", (sql) =>
    PgText.unstorableKey(sql, name) ? Effect.succeed(false) : sql.withTransaction(Effect.gen(function*() {
      const deleted = yield* sql<Row>`DELETE FROM ${sql(watchersTable)} WHERE name = ${name} RETURNING name`
      yield* sql`DELETE FROM ${sql(accountsTable)} WHERE watcher = ${name}`
      yield* sql`DELETE FROM ${sql(itemsTable)} WHERE watcher = ${name} AND status = 'detected'`
      yield* sql`DELETE FROM ${sql(scanTable)} WHERE watcher = ${name}`
      return deleted.length > 0
    })))

/** A watcher's account sets, oldest first. */
export const accountSets = (name: string) => withSql("accountSets", (sql) => readAccountSets(sql, name))

/** A watcher's account sets, by `fromBlock`, read with `sql` (in its transaction, if it is in one). */
const readAccountSets = (sql: SqlClient.SqlClient, name: string) =>
  Effect.map(
    sql<Row>`SELECT from_block, accounts FROM ${sql(accountsTable)} WHERE watcher = ${name} ORDER BY from_block`,
    (rows): ReadonlyArray<AccountSet> =>
      rows.map((row) => ({ fromBlock: Number(row.from_block), accounts: JSON.parse(row.accounts as string) }))
  )

/** The account sets that decide what a scan up to `block` watches (a set from a later block does not). */
const setsUpTo = (sets: ReadonlyArray<AccountSet>, block: number) =>
  JSON.stringify(sets.filter((set) => set.fromBlock <= block))

/**
 * Makes `accounts` the watcher's set from `fromBlock` on, replacing sets that
 * would start later. Refused (false) when `fromBlock` is not after the
 * confirmed cursor: a recorded block is never scanned again. The cursor is
 * checked by an update of the watcher's row, which holds that row until the
 * set is written: an `ingest` of another runner either moved the cursor
 * before (the set is refused) or finds the set changed after (it records
 * nothing).
 */
export const putAccountSet = (name: string, fromBlock: number, accounts: ReadonlyArray<string>) =>
  withSql("putAccountSet", (sql) =>
    sql.withTransaction(Effect.gen(function*() {
      const held = yield* sql<Row>`UPDATE ${sql(watchersTable)} SET confirmed_block = confirmed_block
        WHERE name = ${name} AND confirmed_block < ${fromBlock} RETURNING name`
      if (held.length === 0) return false
      yield* sql`DELETE FROM ${sql(accountsTable)} WHERE watcher = ${name} AND from_block >= ${fromBlock}`
      yield* sql`INSERT INTO ${sql(accountsTable)} ${
        sql.insert({ watcher: name, from_block: fromBlock, accounts: JSON.stringify(accounts) })
      }`
      return true
    })))

/** Rows per insert: 6 columns × 500 rows stays well under SQLite's parameter limit. */
const rowsPerStatement = 500

/** Why an `ingest` rolls back: the account sets its scan used changed meanwhile. Never leaves this module. */
const setsChanged = Symbol("@chainjobs/watch/WatchStore/setsChanged")

/**
 * Records the items of blocks up to `block` and moves the cursor there, in one
 * transaction, if the cursor is still at `after` (false otherwise: another
 * runner moved it, nothing written). With `sets`, the account sets the scan
 * read: false, nothing written, when the watcher's sets up to `block` are no
 * longer those (another runner's `putAccountSet` changed them during the
 * scan; the next scan reads them again). An item already recorded is left as
 * it is.
 */
export const ingest = (
  name: string,
  after: number,
  block: number,
  hash: string,
  items: ReadonlyArray<WatchItem.WatchItem>,
  now: number,
  sets?: ReadonlyArray<AccountSet>
) =>
  withSql("ingest", (sql) =>
    sql.withTransaction(Effect.gen(function*() {
      const moved = yield* sql<Row>`UPDATE ${sql(watchersTable)} SET confirmed_block = ${block}, confirmed_hash = ${hash}, scan_state = NULL
        WHERE name = ${name} AND confirmed_block = ${after} RETURNING name`
      if (moved.length === 0) return false
      // read while this transaction holds the watcher's row, which `putAccountSet` updates before it writes a set
      if (sets !== undefined && setsUpTo(yield* readAccountSets(sql, name), block) !== setsUpTo(sets, block)) {
        return yield* Effect.fail(setsChanged)
      }
      yield* sql`DELETE FROM ${sql(scanTable)} WHERE watcher = ${name}`
      const rows = items.map((item) => ({
        watcher: name,
        item_id: WatchItem.id(item),
        block: item.block,
        item: JSON.stringify(encodeItem(item)),
        status: "detected",
        detected_at: now
      }))
      for (const chunk of Arr.chunksOf(rows, rowsPerStatement)) {
        yield* sql`INSERT INTO ${sql(itemsTable)} ${sql.insert(chunk)} ON CONFLICT (watcher, item_id) DO NOTHING`
      }
      return true
    })).pipe(Effect.catchIf((error) => error === setsChanged, () => Effect.succeed(false))))

/**
 * Where the interrupted scan after the cursor `after` stopped, with every entry it saved, if one did (none once the
 * cursor moved, nor when the account sets it scanned have changed since: its entries are of other accounts).
 */
export const scanState = (name: string, after: number) =>
  withSql("scanState", (sql) =>
    Effect.gen(function*() {
      const rows = yield* sql<Row>`SELECT scan_state FROM ${sql(watchersTable)} WHERE name = ${name} AND confirmed_block = ${after}`
      const text = rows[0]?.scan_state
      if (typeof text !== "string") return null
      const range = JSON.parse(text) as { readonly from: number; readonly to: number; readonly sets?: string }
      if (range.sets !== undefined && range.sets !== setsUpTo(yield* readAccountSets(sql, name), range.to)) return null
      const parts: Record<string, Map<string, unknown>> = {}
      for (const entry of yield* sql<Row>`SELECT part, entry, value FROM ${sql(scanTable)} WHERE watcher = ${name}`) {
        const part = (parts[String(Number(entry.part))] ??= new Map())
        part.set(entry.entry as string, JSON.parse(entry.value as string))
      }
      return { from: range.from, to: range.to, parts } satisfies ScanState
    }))

/**
 * Keeps entries of the scan after the cursor `after` for the part starting at
 * `part`, beside those saved before (an entry of the same key replaced), in
 * one transaction. With `range`, the scan is of a new range: the range (and
 * the account sets it scans, if given: `scanState` resumes it only while they
 * are the watcher's) is written and whatever an earlier scan saved is dropped
 * first. Nothing is written when the cursor moved meanwhile (the scan is of a
 * range already recorded).
 */
export const saveScanEntries = (
  name: string,
  after: number,
  part: number,
  entries: ReadonlyArray<readonly [string, unknown]>,
  range?: { readonly from: number; readonly to: number; readonly sets?: ReadonlyArray<AccountSet> | undefined }
) =>
  withSql("saveScanEntries", (sql) =>
    sql.withTransaction(Effect.gen(function*() {
      // the watcher's row is written (locked) first, so an ingest moving the cursor cannot interleave
      const current = range === undefined
        ? yield* sql<Row>`UPDATE ${sql(watchersTable)} SET scan_state = scan_state WHERE name = ${name} AND confirmed_block = ${after} RETURNING name`
        : yield* sql<Row>`UPDATE ${sql(watchersTable)} SET scan_state = ${
            JSON.stringify({ from: range.from, to: range.to, sets: range.sets === undefined ? undefined : setsUpTo(range.sets, range.to) })
          }
            WHERE name = ${name} AND confirmed_block = ${after} RETURNING name`
      if (current.length === 0) return
      if (range !== undefined) yield* sql`DELETE FROM ${sql(scanTable)} WHERE watcher = ${name}`
      // one row per key (the last given), as one statement may not write a row twice
      const rows = Array.from(new Map(entries), ([entry, value]) => ({ watcher: name, part, entry, value: JSON.stringify(value) }))
      for (const chunk of Arr.chunksOf(rows, rowsPerStatement)) {
        yield* sql`INSERT INTO ${sql(scanTable)} ${sql.insert(chunk)}
          ON CONFLICT (watcher, part, entry) DO UPDATE SET value = excluded.value`
      }
    })))

/** A watcher's items in one state, in chain order, at most `limit`. */
export const itemsIn = (name: string, status: ItemStatus, limit: number) =>
  withSql("itemsIn", (sql) =>
    Effect.map(
      sql<Row>`SELECT * FROM ${sql(itemsTable)} WHERE watcher = ${name} AND status = ${status}
        ORDER BY block, item_id LIMIT ${limit}`,
      (rows) => rows.map(toItem)
    ))

/** A watcher's items, in chain order (the audit). */
export const items = (name: string) =>
  withSql("items", (sql) =>
    Effect.map(sql<Row>`SELECT * FROM ${sql(itemsTable)} WHERE watcher = ${name} ORDER BY block, item_id`, (rows) =>
      rows.map(toItem)))

/** At most `limit` of a watcher's items in chain order, after the item at `after` (from the first without it). */
export const itemsAfter = (name: string, after: { readonly block: number; readonly id: string } | undefined, limit: number) =>
  withSql("itemsAfter", (sql) =>
    Effect.map(
      sql<Row>`SELECT * FROM ${sql(itemsTable)} WHERE ${
        sql.and([
          sql`watcher = ${name}`,
          ...(after === undefined ? [] : [sql`(block > ${after.block} OR (block = ${after.block} AND item_id > ${after.id}))`])
        ])
      } ORDER BY block, item_id LIMIT ${limit}`,
      (rows) => rows.map(toItem)
    ))

/** One item of a watcher, if recorded. */
export const getItem = (name: string, id: string) =>
  withSql("getItem", (sql) =>
    Effect.map(sql<Row>`SELECT * FROM ${sql(itemsTable)} WHERE watcher = ${name} AND item_id = ${id}`, (rows) =>
      Option.map(Option.fromNullishOr(rows[0]), toItem)))

/**
 * Marks detected items as handed to their tasks, and records each task's id.
 * An item's task may have finished it before this runs (a task starts as
 * soon as it is submitted): its outcome stays, and it gets its task's id too.
 */
export const markSubmitted = (name: string, submitted: ReadonlyArray<{ readonly id: string; readonly taskId: string }>) =>
  withSql("markSubmitted", (sql) =>
    sql.withTransaction(Effect.forEach(submitted, ({ id, taskId }) =>
      sql`UPDATE ${sql(itemsTable)} SET status = CASE WHEN status = 'detected' THEN 'submitted' ELSE status END, task_id = ${taskId}
        WHERE watcher = ${name} AND item_id = ${id} AND task_id IS NULL`, { discard: true })))

/**
 * Records an item's outcome unless it is already `processed` (a finished
 * processing is never undone); true when written. Runs in the caller's
 * transaction when there is one.
 */
export const markFinished = (
  name: string,
  id: string,
  finished: { readonly status: "processed" | "failed"; readonly outcome: unknown; readonly error: string | null; readonly at: number }
) =>
  withSql("markFinished", (sql) =>
    Effect.map(
      sql<Row>`UPDATE ${sql(itemsTable)} SET status = ${finished.status},
        outcome = ${finished.outcome === undefined ? null : JSON.stringify(finished.outcome)},
        error = ${finished.error}, finished_at = ${finished.at}
        WHERE watcher = ${name} AND item_id = ${id} AND status <> 'processed' RETURNING item_id`,
      (rows) => rows.length > 0
    ))

/**
 * The processed cursor: the last block up to which every recorded item is
 * finished (processed or failed) — the confirmed cursor when nothing waits.
 */
export const processedBlock = (watcher: WatcherRow) =>
  withSql("processedBlock", (sql) =>
    Effect.map(
      sql<Row>`SELECT min(block) AS block FROM ${sql(itemsTable)}
        WHERE watcher = ${watcher.name} AND status IN ('detected', 'submitted')`,
      (rows) => {
        const waiting = rows[0]?.block
        return waiting === null || waiting === undefined ? watcher.confirmedBlock : Number(waiting) - 1
      }
    ))
