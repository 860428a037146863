/**
 * Task records as PostgreSQL receives a batch of them: one typed array per
 * column, sent in binary, which `unnest` turns back into rows.
 *
 * Measured against one JSON text expanded by `json_populate_recordset` (the
 * form before), the server no longer parses JSON text and matches its keys to
 * columns for every row (about half of its CPU per task went there), and the
 * statement text and parameter types are the same whatever the row count, so
 * the connection's prepared statement is reused for every batch.
 */
import type { TaskInfo } from "@chainjobs/tasks"
import { PgTypes } from "@effect/sql-pg"
import { columns, toValues } from "./taskTable.ts"

type Column = (typeof columns)[number]

/** The PostgreSQL element type of each column's array: the column's own type. */
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

/** Each column's element type, in the order of `columns`. */
const types = columns.map((column) => elementTypes[column])

/**
 * A text value as PostgreSQL's `text` holds it: U+0000, which it cannot hold,
 * becomes U+FFFD (a lone surrogate becomes U+FFFD when it is encoded as
 * UTF-8). JSON columns never carry either raw: `JSON.stringify` escapes them.
 */
const storableText = (value: string): string => value.includes("\u0000") ? value.replaceAll("\u0000", "\uFFFD") : value

/**
 * A number as JSON would carry it: NaN and the infinities are null (so that a
 * priority that is not a number breaks its column's `NOT NULL`, as on SQLite).
 */
const finite = (value: number): number | null => Number.isFinite(value) ? value : null

/** A value of an `int8` column: a bigint, as the binary codec takes it (a non-integer throws). */
const int8 = (value: string | number | null): bigint | null =>
  value === null || typeof value === "number" && !Number.isFinite(value) ? null : BigInt(value)

/** A column's value as its array's element takes it. */
const element = (value: string | number | null, type: (typeof types)[number]): unknown => {
  switch (type) {
    case "text":
      return typeof value === "string" ? storableText(value) : value
    case "int8":
      return int8(value)
    default:
      return typeof value === "number" ? finite(value) : value
  }
}

/**
 * The records' columns as array parameters, in the order of `columns`. A
 * record that does not encode (a non-integer time, say) throws: the caller
 * builds them inside the write, where that is a defect of the batch.
 */
export const columnArrays = (records: Iterable<TaskInfo.TaskInfo>): Array<PgTypes.Parameter> => {
  const arrays: Array<Array<unknown>> = columns.map(() => [])
  for (const record of records) {
    const values = toValues(record)
    for (let i = 0; i < values.length; i++) {
      arrays[i].push(element(values[i], types[i]))
    }
  }
  return arrays.map((values, i) => {
    const typed = PgTypes.array(values, PgTypes.OID[types[i]])
    if (typed._tag === "Failure") throw typed.failure
    return typed.success
  })
}

/**
 * The rows of `count` consecutive array parameters, from `$first` on, for a
 * statement's `FROM`: `unnest($first, …)`. The text is the same for every
 * batch, whatever its size.
 */
export const unnestRows = (first: number): string =>
  `unnest(${types.map((type, i) => `$${first + i}::${type}[]`).join(", ")})`
