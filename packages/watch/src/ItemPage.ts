/**
 * A page of a watcher's item audit. The audit keeps every item a watcher ever
 * detected, so it is read a page at a time: at most `limit` items in chain
 * order (block, then item id) after the cursor, and `next`, the cursor of the
 * page after, while more may follow. A cursor is opaque to clients: the last
 * item's block and id, as base64url JSON.
 */
import { Schema } from "effect"
import { ItemRow } from "./WatchStore.ts"

/** Items on a page when the query names no `limit`. */
export const defaultLimit = 100

/** The most items one page holds. */
export const maxLimit = 1000

/** What a page read asks: where the previous page ended (its `next`) and how many items at most (1–`maxLimit`). */
export const ItemQuery = Schema.Struct({
  cursor: Schema.optional(Schema.String),
  limit: Schema.optional(Schema.Number)
})
/** @see ItemQuery */
export type ItemQuery = typeof ItemQuery.Type

/** Items in chain order; `next` reads the page after this one. */
export const ItemPage = Schema.Struct({
  items: Schema.Array(ItemRow),
  next: Schema.optional(Schema.String)
})
/** @see ItemPage */
export type ItemPage = typeof ItemPage.Type

/** Where a page starts: after the item at this block with this id. */
export interface After {
  readonly block: number
  readonly id: string
}

/** The cursor after `row`. */
export const cursorAfter = (row: ItemRow): string => Buffer.from(JSON.stringify([row.item.block, row.id])).toString("base64url")

/** Where `cursor` says a page starts, or `undefined` when it is not a cursor of an item audit. */
export const after = (cursor: string): After | undefined => {
  let key: unknown
  try {
    key = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"))
  } catch {
    return undefined
  }
  return Array.isArray(key) && key.length === 2 && Number.isSafeInteger(key[0]) && key[0] >= 0 && typeof key[1] === "string"
    ? { block: key[0], id: key[1] }
    : undefined
}

/** Why `query` cannot be read, or `undefined` when it can. */
export const refusal = (query: ItemQuery): string | undefined => {
  const limit = query.limit ?? defaultLimit
  if (!Number.isInteger(limit) || limit < 1 || limit > maxLimit) return `limit must be an integer from 1 to ${maxLimit}, not ${limit}`
  if (query.cursor !== undefined && after(query.cursor) === undefined) return "cursor is not one this audit gave (pass a page's `next` as it came)"
  return undefined
}
