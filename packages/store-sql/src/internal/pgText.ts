/**
 * Text as PostgreSQL's `text` holds it: never U+0000. A value written from
 * outside has it replaced (`storableText`); a key looked up that holds it
 * matches no row there, and a query binding it would be refused (SQLSTATE
 * 22021), so it is answered as a key not stored, without the query
 * (`unstorableKey`) — as SQLite, which holds U+0000, answers it.
 */
import type { SqlClient } from "effect/sql"

/**
 * A text value as PostgreSQL's `text` holds it: U+0000, which it cannot hold,
 * becomes U+FFFD (a lone surrogate becomes U+FFFD when it is encoded as
 * UTF-8). JSON columns never carry either raw: `JSON.stringify` escapes them.
 */
export const storableText = (value: string): string =>
  value.includes("\u0000") ? value.replaceAll("\u0000", "\uFFFD") : value

/**
 * True for a key (an id, a kind, a name) holding U+0000 on a PostgreSQL
 * client: no row there holds one, so it matches none, and the query binding it
 * would fail; false on SQLite, where such a key is looked up as any other.
 */
export const unstorableKey = (sql: SqlClient.SqlClient, key: string): boolean =>
  sql.onDialectOrElse({ pg: () => key.includes("\u0000"), orElse: () => false })
