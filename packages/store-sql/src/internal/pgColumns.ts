/**
 * Task records as PostgreSQL receives one part of a batch (its inserts, its
 * state changes or its progress): one parameter per column. A column whose
 * values differ from row to row goes as a typed array, sent in binary, which
 * `unnest` turns back into rows; a column holding one value in every row (the
 * kind, the status, the many nulls: most columns of most batches) goes as that
 * value alone, once for the whole part.
 *
 * Measured against one JSON text expanded by `json_populate_recordset` (the
 * form before the arrays), the server no longer parses JSON text and matches
 * its keys to columns for every row. Sending the columns that do not vary as
 * one value each (the form before sent all 25 as arrays) takes most of the
 * encoding off this process and most of the arrays off the server; the
 * statement text depends only on which columns vary (the part's `shape`), so
 * the few shapes a workload has are each prepared once and reused.
 */
import type { TaskInfo } from "@chainjobs/tasks"
import { PgTypes } from "@effect/sql-pg"
import { storableText } from "./pgText.ts"
import { type ColumnValue, columnReaders, columns, writerColumn, writerLevel } from "./taskTable.ts"

type Column = (typeof columns)[number]

/** The PostgreSQL type of each column's values: the column's own type. */
const elementTypes: Record<Column, "text" | "float8" | "int4" | "int8"> = {
  id: "text",
  kind: "text",
  status: "text",
  reason: "text",
  priority: "float8",
  concurrency_key: "text",
  owner: "text",
  attempt: "int4",
  progress: "float8",
  message: "text",
  detail: "text",
  payload: "text",
  result: "text",
  error: "text",
  error_message: "text",
  checkpoint: "text",
  created_at: "int8",
  started_at: "int8",
  finished_at: "int8",
  heartbeat_at: "int8",
  expires_at: "int8",
  timeout_millis: "int8",
  heartbeat_timeout_millis: "int8",
  runner: "text",
  max_retries: "int4"
}

/** Each column's type, in the order of `columns`. */
const types = columns.map((column) => elementTypes[column])

/**
 * A number as JSON would carry it: NaN and the infinities are null (so that a
 * priority that is not a number breaks its column's `NOT NULL`, as on SQLite).
 */
const finite = (value: number): number | null => Number.isFinite(value) ? value : null

/**
 * A value of an `int8` column as it travels: a `float8`, cast to the column's
 * type by the server (exact for whole numbers up to 2^53, as JavaScript holds
 * them), which spares a bigint per value here. A number that is not whole
 * throws, as the bigint it once became did: it would be rounded otherwise.
 */
const int8 = (value: ColumnValue): number | null => {
  if (value === null || typeof value === "number" && !Number.isFinite(value)) return null
  if (!Number.isInteger(value)) throw new RangeError(`${value} is not a whole number, as an int8 column needs`)
  return value as number
}

/** The type each column's values travel as: `int8` columns as `float8` (see `int8`). */
const wireTypes = types.map((type) => type === "int8" ? "float8" : type)

/** A column's value as PostgreSQL takes it. */
const element = (value: ColumnValue, type: (typeof types)[number]): unknown => {
  switch (type) {
    case "text":
      return typeof value === "string" ? storableText(value) : value
    case "int8":
      return int8(value)
    default:
      return typeof value === "number" ? finite(value) : value
  }
}

/** One value of a column's wire type, as a binary parameter. */
const scalar = (value: unknown, type: (typeof wireTypes)[number]): PgTypes.Parameter => {
  switch (type) {
    case "text":
      return PgTypes.text(value as string | null)
    case "int4":
      return PgTypes.int4(value as number | null)
    default:
      return PgTypes.float8(value as number | null)
  }
}

/** A part of a batch as parameters: one per column, in the order of `columns`. */
export interface PgPart {
  /**
   * Which columns vary from row to row, bit `i` for `columns[i]`: each goes
   * as an array, the others as one value. 0 for a single row; never 0 for
   * more (their ids differ).
   */
  readonly shape: number
  /** The parameters, one per column. */
  readonly params: Array<PgTypes.Parameter>
}

/**
 * The records' columns as parameters (see `PgPart`). A record that does not
 * encode (a non-integer time, say) throws: the caller builds them inside the
 * write, where that is a defect of the batch.
 */
export const pgPart = (records: Iterable<TaskInfo.TaskInfo>): PgPart => {
  const list = Array.isArray(records) ? records as ReadonlyArray<TaskInfo.TaskInfo> : Array.from(records)
  let shape = 0
  const params = types.map((type, i) => {
    const read = columnReaders[i]
    // Each value is read once: up to the first that differs from the first row's (0 and -0 do), then the rest.
    const first = read(list[0])
    let differs = 1
    let value: ColumnValue = first
    while (differs < list.length && Object.is(value = read(list[differs]), first)) differs++
    if (differs === list.length) return scalar(element(first, type), wireTypes[i])
    shape |= 1 << i
    const values: Array<unknown> = new Array(list.length)
    values.fill(element(first, type), 0, differs)
    values[differs] = element(value, type)
    for (let n = differs + 1; n < list.length; n++) values[n] = element(read(list[n]), type)
    const typed = PgTypes.array(values, PgTypes.OID[wireTypes[i]])
    if (typed._tag === "Failure") throw typed.failure
    return typed.success
  })
  return { shape, params }
}

/**
 * The column list and `SELECT` inserting the rows of a part of shape `shape`
 * whose parameters start at `$first`: the varying columns from `unnest` of
 * their arrays, the others as their one value, and the writer fence's
 * column, e.g. `(id, payload, kind, …, written_by) SELECT *, $3::text, …, 8
 * FROM unnest($1::text[], $12::text[])`.
 */
export const partRows = (shape: number, first: number): string => {
  const varying: Array<number> = []
  const constant: Array<number> = []
  for (let i = 0; i < columns.length; i++) ((shape & (1 << i)) === 0 ? constant : varying).push(i)
  // the writer fence's column last, a constant of the statement's text (see `taskTable.writerColumn`)
  const names = [...[...varying, ...constant].map((i) => columns[i]), writerColumn].join(", ")
  const values = [...constant.map((i) => `$${first + i}::${wireTypes[i]}`), String(writerLevel)]
  if (varying.length === 0) return `(${names}) SELECT ${values.join(", ")}`
  const arrays = varying.map((i) => `$${first + i}::${wireTypes[i]}[]`).join(", ")
  return `(${names}) SELECT ${["*", ...values].join(", ")} FROM unnest(${arrays})`
}

/** How many parameters a part takes: one per column. */
export const partParameters = columns.length
