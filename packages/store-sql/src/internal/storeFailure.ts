/**
 * What a SQL store says when the database refuses it: a `TaskStoreError`
 * whose `detail` carries the database's own message and code, the same way
 * on SQLite and PostgreSQL. A PostgreSQL `SqlError` says only
 * "PgConnection: Query failed"; the server's message (the constraint
 * violated, the relation missing) and its SQLSTATE are on the error it
 * wraps, and are lifted from there. A detail is shown to clients (a 503's
 * body), so anything shaped like credentials — a URL's user and password, a
 * `password=` setting — is masked.
 */
import { SqlError } from "effect/sql"
import { TaskError } from "@chainjobs/tasks"

/** The code a driver gave an error: PostgreSQL's SQLSTATE, SQLite's extended result code, or a system error's. */
const codeOf = (source: unknown): string | undefined => {
  if (source === null || typeof source !== "object") return undefined
  const { code, errcode } = source as { readonly code?: unknown; readonly errcode?: unknown }
  if (typeof errcode === "number") return `SQLite error ${errcode}`
  if (typeof code !== "string") return undefined
  return /^[0-9A-Z]{5}$/.test(code) ? `SQLSTATE ${code}` : code
}

/**
 * `text` with the credentials a URL or a connection setting may hold masked.
 * A setting's value runs to the next blank outside quotes, so a quoted part
 * followed by more characters (`password=''%00`) is masked whole.
 */
export const masked = (text: string): string =>
  text
    .replace(/([a-z][a-z0-9+.-]*:\/\/)[^\s/@]*@/gi, "$1***@")
    .replace(/(password\s*=\s*)(?:"[^"]*"|'[^']*'|\S)+/gi, "$1***")

/**
 * A failure's description: for a `SqlError`, its message, the database's
 * own message when it says more, and the reason and code in parentheses; for
 * anything else, its message.
 */
export const describe = (failure: unknown): string => {
  if (!SqlError.isSqlError(failure)) return masked(failure instanceof Error ? failure.message : String(failure))
  const reason = failure.reason
  const source = reason.cause instanceof Error ? reason.cause : undefined
  const wrapper = reason.message ?? ""
  const own = source?.message ?? ""
  const text = own === "" || wrapper.includes(own) ? wrapper : wrapper === "" ? own : `${wrapper}: ${own}`
  const code = codeOf(source)
  return masked(`${text === "" ? reason._tag : text} (${code === undefined ? reason._tag : `${reason._tag}, ${code}`})`)
}

/** The `TaskStoreError` of `operation` failing with `cause`. */
export const storeError = (operation: string) => (cause: unknown): TaskError.TaskStoreError =>
  new TaskError.TaskStoreError({ operation, detail: describe(cause), cause })
