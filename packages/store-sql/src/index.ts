/**
 * @chainjobs/store-sql — the durable task store: SQLite through `node:sqlite`
 * by default, PostgreSQL for scale.
 *
 * @since 0.1.0
 */
export * as GroupCommit from "./GroupCommit.ts"
export * as NodeSqliteClient from "./NodeSqliteClient.ts"
/** Text as PostgreSQL holds it: U+0000 replaced in values written, a key holding it answered as not stored. */
export * as PgText from "./internal/pgText.ts"
export * as SqlScheduleStore from "./SqlScheduleStore.ts"
export * as SqlTaskStore from "./SqlTaskStore.ts"
/** The `TaskStoreError` a SQL statement's failure becomes: the database's own message and code, credentials masked. */
export * as StoreFailure from "./internal/storeFailure.ts"
