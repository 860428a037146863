/**
 * Filters and keyset pagination for listing tasks. Every store answers the same
 * query the same way: newest first (ids are time-ordered), at most `limit`
 * records a page, and an opaque `cursor` to fetch the next page.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { TaskInfo, TaskStatus } from "./TaskInfo.ts"

/** The default page size. */
export const defaultLimit = 50
/** The largest page a store returns. */
export const maxLimit = 1000

/** What to list. Every field is optional; fields combine with AND, values within one field with OR. */
export const TaskQuery = Schema.Struct({
  status: Schema.optionalKey(Schema.Array(TaskStatus)),
  kind: Schema.optionalKey(Schema.Array(Schema.String)),
  owner: Schema.optionalKey(Schema.String),
  /** Created at or after this instant (epoch ms). */
  createdAfter: Schema.optionalKey(Schema.Number),
  /** Created before this instant (epoch ms). */
  createdBefore: Schema.optionalKey(Schema.Number),
  /** Page size, 1 to 1000; default 50. */
  limit: Schema.optionalKey(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: maxLimit }))),
  /** The `nextCursor` of the previous page. */
  cursor: Schema.optionalKey(Schema.String)
})
/** @see TaskQuery */
export type TaskQuery = typeof TaskQuery.Type

/** One page of a listing; `nextCursor` is null on the last page. */
export const TaskPage = Schema.Struct({
  items: Schema.Array(TaskInfo),
  nextCursor: Schema.NullOr(Schema.String)
})
/** @see TaskPage */
export type TaskPage = typeof TaskPage.Type

/** How many records a query matches, by status (its `limit` and `cursor` aside). */
export const TaskCounts = Schema.Struct({
  pending: Schema.Number,
  running: Schema.Number,
  completed: Schema.Number,
  failed: Schema.Number,
  interrupted: Schema.Number
})
/** @see TaskCounts */
export type TaskCounts = typeof TaskCounts.Type

/** Counts with every status at zero, to add to. */
export const noCounts = (): { -readonly [S in keyof TaskCounts]: number } => ({
  pending: 0,
  running: 0,
  completed: 0,
  failed: 0,
  interrupted: 0
})

/** Which finished records to purge: finished before an instant, expired by an instant, of some statuses. */
export const PurgeFilter = Schema.Struct({
  /** Finished before this instant (epoch ms). */
  finishedBefore: Schema.optionalKey(Schema.Number),
  /** Retention ran out at or before this instant (epoch ms). */
  expiredBy: Schema.optionalKey(Schema.Number),
  /** Only these terminal statuses (default: all three). */
  status: Schema.optionalKey(Schema.Array(TaskStatus))
})
/** @see PurgeFilter */
export type PurgeFilter = typeof PurgeFilter.Type
