/**
 * The worker thread that holds the database of a `NodeSqliteClient` opened
 * with `worker: true`. It opens the file from its `workerData`, reports
 * whether that worked, then answers requests one at a time, in order, until
 * it is told to close.
 */
import type { SQLInputValue } from "node:sqlite"
import { parentPort, workerData } from "node:worker_threads"
import { type BatchStatement, type Database, open, type OpenOptions } from "./sqliteDatabase.ts"

/** A statement to run. */
export type Request =
  | {
    readonly id: number
    readonly op: "rows"
    readonly sql: string
    readonly params: ReadonlyArray<SQLInputValue>
    readonly arrays: boolean
    readonly prepared: boolean
  }
  | { readonly id: number; readonly op: "raw"; readonly sql: string; readonly params: ReadonlyArray<SQLInputValue> }
  | { readonly id: number; readonly op: "transact"; readonly statements: ReadonlyArray<BatchStatement> }
  | { readonly id: number; readonly op: "close" }

/** What crosses the thread boundary of a `node:sqlite` error: enough to classify it. */
export interface Failure {
  readonly message: string
  readonly code?: unknown
  readonly errcode?: unknown
}

/** The answer to a request, with whether a transaction is open after it. */
export type Reply =
  | { readonly id: number; readonly ok: true; readonly result: unknown; readonly isTransaction: boolean }
  | { readonly id: number; readonly ok: false; readonly failure: Failure; readonly isTransaction: boolean }

/** The first message of the worker: the database is open, or why not. */
export type Opened = { readonly opened: true } | { readonly opened: false; readonly failure: Failure }

const toFailure = (error: unknown): Failure => {
  const { code, errcode } = error as { code?: unknown; errcode?: unknown }
  return { message: error instanceof Error ? error.message : String(error), code, errcode }
}

const port = parentPort!
let db: Database
try {
  db = open(workerData as OpenOptions)
  port.postMessage({ opened: true } satisfies Opened)
} catch (error) {
  port.postMessage({ opened: false, failure: toFailure(error) } satisfies Opened)
  port.close()
}

port.on("message", (request: Request) => {
  if (request.op === "close") {
    db.close()
    port.close()
    return
  }
  let reply: Reply
  try {
    const result = request.op === "rows"
      ? db.rows(request.sql, request.params, request.arrays, request.prepared)
      : request.op === "transact"
      ? db.transact(request.statements)
      : db.raw(request.sql, request.params)
    reply = { id: request.id, ok: true, result, isTransaction: db.isTransaction() }
  } catch (error) {
    reply = { id: request.id, ok: false, failure: toFailure(error), isTransaction: db.isTransaction() }
  }
  port.postMessage(reply)
})
